//! Checking the two subscripts that are not steps of a sequence: a slice
//! `a[:, 0:5]` and an embedding lookup `W[x]` (see [`crate::model::slice`]).

use num_rational::BigRational;
use num_traits::Signed;

use super::{Checker, Error, ErrorKind, NodeId, Role, TensorId};
use crate::model::slice;
use crate::syntax::ast::{self, TimeIndexKind};
use crate::syntax::Span;

impl Checker<'_> {
    /// `name[axes]`: the slice's node, its ranges checked against the
    /// tensor's shape.
    pub(super) fn sliced(
        &mut self,
        name: &ast::Ident,
        axes: &[ast::SliceAxis],
        subscript: Span,
    ) -> Result<NodeId, Error> {
        let id = self.lookup_tensor(name)?;
        let shape = self.tensors[id.0 as usize].shape.clone();
        let constant = |bound: &ast::Ident| self.whole_constant(bound);
        let ranges = slice::ranges(&name.name, &shape, axes, subscript, &constant)?;
        let source = self.graph.tensor(id, shape);
        Ok(self.graph.slice(source, ranges))
    }

    /// The value of a slice bound's name: a declared scalar constant that
    /// holds a whole number.
    fn whole_constant(&self, bound: &ast::Ident) -> Result<i64, Error> {
        let not_whole = || Error::new(ErrorKind::SliceBoundNotWhole { name: bound.name.clone() }, bound.span);
        let Some(t) = self.tensors.get(&bound.name) else { return Err(not_whole()) };
        if t.role != Role::Const || !t.shape.is_scalar() {
            return Err(not_whole());
        }
        t.exact_value().as_deref().and_then(slice::whole_number).ok_or_else(not_whole)
    }

    /// The ids of `W[x]`: `x` when the subscript is a lone name that a
    /// tensor has (a time index `t` is no tensor's name).
    pub(super) fn lookup_ids(&self, index: &ast::TimeIndex) -> Option<TensorId> {
        match &index.kind {
            TimeIndexKind::Relative { index, offset: 0 } => {
                self.tensors.get_index_of(&index.name).map(|i| TensorId(i as u32))
            }
            _ => None,
        }
    }

    /// `table[ids]`: an embedding lookup. The table is a matrix `[V, D]`;
    /// the ids are given data, and when their values are given, each is a
    /// whole number from 0 to V − 1.
    pub(super) fn lookup(&mut self, table: &ast::Ident, index: &ast::TimeIndex, span: Span) -> Result<NodeId, Error> {
        let t = self.lookup_tensor(table)?;
        let Some(ids) = self.lookup_ids(index) else { return Err(Error::new(ErrorKind::NoSteps, span)) };
        let table_shape = self.tensors[t.0 as usize].shape.clone();
        if table_shape.rank() != 2 {
            let kind = ErrorKind::LookupTable { name: table.name.clone(), shape: table_shape };
            return Err(Error::new(kind, table.span));
        }
        let rows = table_shape.dims()[0];
        let declared = &self.tensors[ids.0 as usize];
        if !matches!(declared.role, Role::Input | Role::Const) {
            let role = match declared.role {
                Role::Param => "a parameter",
                Role::Target => "a target",
                _ => "computed by the network",
            };
            let kind = ErrorKind::LookupIdsNotData { ids: declared.name.clone(), role };
            return Err(Error::new(kind, index.span));
        }
        if let Some(values) = declared.exact_value() {
            let bound = BigRational::from_integer(rows.into());
            let bad = values.iter().position(|v| !v.is_integer() || v.is_negative() || *v >= bound);
            if let Some(entry) = bad {
                let mut index = vec![0; declared.shape.rank()];
                let mut rest = entry;
                for (axis, &n) in declared.shape.dims().iter().enumerate().rev() {
                    index[axis] = rest % n.max(1);
                    rest /= n.max(1);
                }
                let kind = ErrorKind::LookupId {
                    ids: declared.name.clone(),
                    table: table.name.clone(),
                    value: super::decimal(&values[entry]),
                    index,
                    rows,
                };
                return Err(Error::new(kind, declared.span));
            }
        }
        let ids_shape = declared.shape.clone();
        let table_node = self.graph.tensor(t, table_shape);
        let ids_node = self.graph.tensor(ids, ids_shape);
        Ok(self.graph.gather(table_node, ids_node))
    }
}
