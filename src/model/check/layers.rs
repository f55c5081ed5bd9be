//! [`Call`], what a layer with a module of its own (`model::ops::layer`:
//! `dropout`, the normalizations, `attention`) sees of its call; the named
//! intermediates layers write out, and their place before the calling
//! equation; and a softmax's mask.

use num_rational::BigRational;
use num_traits::Zero;

use super::super::error::{Error, ErrorKind};
use super::super::expr::{Graph, NodeId, TensorId};
use super::super::func::Axis;
use super::super::norm::NormLayer;
use super::super::ops::layer::LayerCall;
use super::super::{Batch, NamedTensor, Role};
use super::{Checker, Scope};
use crate::syntax::ast::{self, ExprKind};
use crate::syntax::Span;

use super::super::layer_error::LayerArgError;

fn layer_error(error: LayerArgError, span: Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

impl Checker<'_> {
    /// Adds an equation `base = definition` that a layer writes out, named
    /// `base` when that name is free (else `base_2`, …), placed just before
    /// the equation being built; returns it and the node that names it.
    pub(super) fn write_out(&mut self, base: &str, definition: NodeId, span: Span) -> (TensorId, NodeId) {
        let taken = |name: &str, c: &Self| {
            c.tensors.contains_key(name)
                || c.fn_spans.contains_key(name)
                || crate::model::Builtin::lookup(name).is_some()
        };
        let mut name = base.to_string();
        let mut k = 2;
        while taken(&name, self) {
            name = format!("{base}_{k}");
            k += 1;
        }
        let shape = self.graph.shape(definition).clone();
        let tensor = NamedTensor::intermediate(name.clone(), shape.clone(), definition, span);
        let id = TensorId(self.tensors.len() as u32);
        self.tensors.insert(name, tensor);
        let owner = self.current.expect("a layer is called in an equation");
        self.written_out.push((owner, id));
        (id, self.graph.tensor(id, shape))
    }

    /// Puts the equations layers wrote out into the order, each before the
    /// equation that called its layer.
    pub(super) fn place_written_out(&mut self, order: &mut Vec<TensorId>) {
        if self.written_out.is_empty() {
            return;
        }
        let mut placed = Vec::with_capacity(order.len() + self.written_out.len());
        for &id in order.iter() {
            placed.extend(self.written_out.iter().filter(|(owner, _)| *owner == id).map(|&(_, t)| t));
            placed.push(id);
        }
        *order = placed;
    }

    /// `softmax(z, mask = m)`: the softmax over the entries of each lane
    /// along `axis` (of a vector, over all of them) that the mask keeps, a
    /// masked entry counting as −∞: attention's masked softmax, written out.
    pub(in crate::model) fn softmax_mask(&mut self, z: NodeId, arg: &ast::Expr, axis: Axis) -> Result<NodeId, Error> {
        let values = self.score_mask("softmax", arg)?;
        let node = self.build(arg, &Scope::Equation)?;
        let (shape, mask_shape) = (self.graph.shape(z).clone(), self.graph.shape(node).clone());
        if !shape.same_as(&mask_shape) {
            let mask = crate::syntax::expr_text(arg);
            return Err(layer_error(LayerArgError::MaskShape { layer: "softmax", mask, mask_shape, shape }, arg.span));
        }
        let (m, n) = shape.as_matrix().expect("softmax takes a vector or a matrix");
        let Some(values) = values else { return Ok(self.graph.masked_softmax(z, node, axis)) };
        let lane = match shape.vector_axis() {
            Some(_) => values.iter().all(Zero::is_zero).then_some(None),
            None if axis == Axis::ACROSS => {
                (0..m).find(|&i| (0..n).all(|j| values[i * n + j].is_zero())).map(|i| Some((true, i)))
            }
            None => (0..n).find(|&j| (0..m).all(|i| values[i * n + j].is_zero())).map(|j| Some((false, j))),
        };
        if let Some(lane) = lane {
            let name = crate::syntax::expr_text(arg);
            return Err(layer_error(LayerArgError::SoftmaxMaskEmpty { name, lane }, arg.span));
        }
        Ok(self.graph.masked_softmax(z, node, axis))
    }

    /// The mask of a softmax over scores: as [`Checker::const_mask`], except
    /// that a const declared without a value is taken (`None`), as `derive`
    /// needs no numbers; its values are checked when the evaluator meets them.
    fn score_mask(&self, layer: &'static str, arg: &ast::Expr) -> Result<Option<Vec<BigRational>>, Error> {
        let valueless = match &unparen(arg).kind {
            ExprKind::Name(n) => {
                self.tensors.get(&n.name).is_some_and(|t| t.role == Role::Const && t.exact_value().is_none())
            }
            _ => false,
        };
        if valueless {
            return Ok(None);
        }
        self.const_mask(layer, arg).map(Some)
    }

    /// Refuses a mask that is not a `const` of 0s and 1s; its values.
    fn const_mask(&self, layer: &'static str, arg: &ast::Expr) -> Result<Vec<BigRational>, Error> {
        let tensor = match &unparen(arg).kind {
            ExprKind::Name(n) => self.tensors.get(&n.name),
            _ => None,
        };
        crate::model::mask::binary_values(layer, tensor, arg, super::decimal)
    }
}

/// The expression inside any parentheses.
fn unparen(mut e: &ast::Expr) -> &ast::Expr {
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    e
}

/// A call of a layer with a module of its own, as its
/// [`LayerOp::expand`](crate::model::ops::layer::LayerOp::expand) sees it.
pub(super) struct Call<'c, 'a> {
    pub(super) checker: &'c mut Checker<'a>,
    pub(super) args: &'c [ast::Expr],
    pub(super) keywords: &'c [ast::KeywordArg],
    pub(super) built: &'c [NodeId],
    /// The whole call, as written.
    pub(super) span: Span,
}

impl LayerCall for Call<'_, '_> {
    fn operands(&self) -> &[NodeId] {
        self.built
    }

    fn operand_source(&self, i: usize) -> &ast::Expr {
        &self.args[i]
    }

    fn tensor_named(&self, e: &ast::Expr) -> Option<(TensorId, &NamedTensor)> {
        match &unparen(e).kind {
            ExprKind::Name(n) => {
                let (index, _, tensor) = self.checker.tensors.get_full(&n.name)?;
                Some((TensorId(index as u32), tensor))
            }
            _ => None,
        }
    }

    fn keyword_source(&self, name: &str) -> Option<&ast::Expr> {
        self.keywords.iter().find(|k| k.name.name == name).map(|k| &k.value)
    }

    fn keyword(&mut self, name: &str) -> Result<Option<(NodeId, ast::Expr)>, Error> {
        let Some(k) = self.keywords.iter().find(|k| k.name.name == name) else { return Ok(None) };
        let node = self.checker.build(&k.value, &Scope::Equation)?;
        Ok(Some((node, k.value.clone())))
    }

    fn graph(&mut self) -> &mut Graph {
        &mut self.checker.graph
    }

    fn decimal(&self, r: &BigRational) -> String {
        super::decimal(r)
    }

    fn span(&self) -> Span {
        self.span
    }

    fn owner(&self) -> TensorId {
        self.checker.current.expect("a layer is called in an equation")
    }

    fn is_whole_equation(&self) -> bool {
        self.checker.equations.get(&self.owner()).is_some_and(|e| unparen(e).span == self.span)
    }

    fn write_out(&mut self, base: &str, definition: NodeId) -> (TensorId, NodeId) {
        self.checker.write_out(base, definition, self.span)
    }

    fn layout_axis(&self, x: NodeId) -> Option<Axis> {
        self.checker.layout_axis(x)
    }

    fn note_batch(&mut self, batch: Batch) {
        self.checker.note_batch(batch);
    }

    fn record_norm(&mut self, layer: NormLayer) {
        self.checker.norms.push(layer);
    }
}
