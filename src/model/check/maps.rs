//! Checking what a feature-map layer (`conv2d`, `maxpool`, `avgpool`) is
//! told about its maps beyond their sizes: the `layout` keyword, channels
//! first (`nchw`, the default) or last (`nhwc`), and conv2d's bias, which
//! the layout puts on one axis or another.

use super::super::error::{Error, ErrorKind};
use super::super::expr::{Node, NodeId};
use super::super::func::{ConvPart, MapLayout, PoolPart};
use super::super::layer_error::LayerArgError;
use super::super::shape::{LayerShapeError, Shape};
use super::Checker;
use crate::diagnostic::suggest;
use crate::syntax::ast::{self, ExprKind};
use crate::syntax::Span;

/// How far [`Checker::channels_last`] follows a map back to the layer that
/// made it (named tensors, entrywise functions, sums and products of its
/// own shape): far enough for any layer's output, and bounded.
const TRACE_STEPS: usize = 64;

/// The `layout = nchw` or `layout = nhwc` keyword: a bare word, channels
/// first when not given.
pub(super) fn layout_keyword(func: &ast::Ident, keywords: &[ast::KeywordArg]) -> Result<MapLayout, Error> {
    let Some(k) = keywords.iter().find(|k| k.name.name == "layout") else {
        return Ok(MapLayout::default());
    };
    let mut e = &k.value;
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    let found = match &e.kind {
        ExprKind::Name(n) => match MapLayout::lookup(&n.name.to_lowercase()) {
            Some(layout) => return Ok(layout),
            None => n.name.clone(),
        },
        _ => crate::syntax::expr_text(&k.value),
    };
    let suggestion = suggest(&found.to_lowercase(), MapLayout::ALL.map(MapLayout::name));
    let error = LayerArgError::UnknownLayout { func: func.name.clone(), found, suggestion };
    Err(Error::new(ErrorKind::LayerArgument(error), k.value.span))
}

impl Checker<'_> {
    /// `conv2d(X, K, b)`: the bias added to the convolution `z`, entry f to
    /// channel f, as `conv2d(X, K) + b` denotes. Channels first it is `[F]`;
    /// channels last `[F]` or deeplearning.ai's `[1, 1, 1, F]` (ones but
    /// the last, of the output's rank), which NumPy adds along the last axis.
    pub(super) fn conv_bias(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Expr],
        (z, k, b): (NodeId, NodeId, NodeId),
        layout: MapLayout,
        pad: usize,
    ) -> Result<NodeId, Error> {
        let kernels = layout.kernels_to_nchw(self.graph.shape(k).dims());
        let filters = kernels.first().copied().unwrap_or(0);
        let shape = self.graph.shape(b).clone();
        let out = self.graph.shape(z).clone();
        let ones_then_f = shape.rank() == out.rank()
            && shape.dims().split_last().is_some_and(|(&f, ones)| f == filters && ones.iter().all(|&d| d == 1));
        let fits = shape.dims() == [filters] || (layout == MapLayout::Nhwc && ones_then_f);
        if !fits {
            let error = LayerShapeError::Bias { filters, shape, layout };
            // The marker sits under the bias; the kernels are shown beside it.
            let operands = vec![self.operand(k, &args[1])];
            let kind = ErrorKind::LayerShape { func: func.name.clone(), error, operands, pad };
            return Err(Error::new(kind, args[2].span));
        }
        // The axis the sum puts a vector on must be the layout's: a vector
        // [F] beside [N, F, W′, F] goes with axis 1, so channels last it is
        // added as [1, 1, 1, F], which goes with the last axis only (the
        // reshape adds ones, and the formulas do not show it).
        let channel = layout.channel_axis(out.rank());
        if shape.len() > 1 && shape.spread_axis(&out) != Some(channel) && !Shape::same_dims(shape.dims(), out.dims()) {
            let mut ones = vec![1; out.rank().saturating_sub(1)];
            ones.push(filters);
            let spread = self.graph.reshape(b, Shape(ones));
            return Ok(self.graph.add(z, spread));
        }
        Ok(self.graph.add(z, b))
    }

    /// Whether the map `n` was made by a layer working channels last
    /// (`layout = nhwc`), looking back through named tensors and the
    /// entrywise operations that keep its shape.
    fn channels_last(&self, mut n: NodeId) -> bool {
        for _ in 0..TRACE_STEPS {
            let shape = self.graph.shape(n);
            let same = |m: &NodeId| self.graph.shape(*m) == shape;
            n = match self.graph.node(n) {
                Node::Conv(ConvPart::Forward, _, _, c) => return c.layout == MapLayout::Nhwc,
                Node::Pool(_, PoolPart::Forward, _, w) => return w.layout == MapLayout::Nhwc,
                Node::Tensor(t) => match self.tensors.get_index(t.0 as usize).and_then(|(_, t)| t.definition) {
                    Some(d) => d,
                    None => return false,
                },
                Node::Neg(a) => *a,
                Node::Apply(_, args) => match args.iter().find(|a| same(a)) {
                    Some(a) => *a,
                    None => return false,
                },
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b) => match (same(a), same(b)) {
                    (true, _) => *a,
                    (false, true) => *b,
                    _ => return false,
                },
                _ => return false,
            };
        }
        false
    }

    /// A vector `[F]` beside a map made channels last whose channels-first
    /// axis has F entries too: the vector would go with that axis (see
    /// `Shape::spread_axis`), not with the channels the layer made. An
    /// error that names both readings, never a silent choice.
    pub(super) fn vector_beside_channels_last(&self, op_span: Span, a: NodeId, b: NodeId) -> Result<(), Error> {
        for (vector, map) in [(a, b), (b, a)] {
            let (v, m) = (self.graph.shape(vector), self.graph.shape(map));
            let Some(axis) = v.spread_axis(m) else { continue };
            if v.rank() == 1 && v.len() > 1 && axis + 1 != m.rank() && self.channels_last(map) {
                let error = LayerArgError::AmbiguousBias { filters: v.len(), out: m.clone() };
                return Err(Error::new(ErrorKind::LayerArgument(error), op_span));
            }
        }
        Ok(())
    }
}
