//! Checking what a feature-map layer (`conv2d`, `maxpool`, `avgpool`) is
//! told about its maps beyond their sizes: the `layout` keyword, channels
//! first (`nchw`, the default) or last (`nhwc`), and conv2d's bias, which
//! the layout puts on one axis or another.

use super::super::error::{Error, ErrorKind};
use super::super::expr::NodeId;
use super::super::func::MapLayout;
use super::super::layer_error::LayerArgError;
use super::super::shape::{LayerShapeError, Shape};
use super::Checker;
use crate::diagnostic::suggest;
use crate::syntax::ast::{self, ExprKind};

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
        // The axis the sum would put a vector on must be the layout's.
        let channel = layout.channel_axis(out.rank());
        if shape.len() > 1 && shape.spread_axis(&out) != Some(channel) && !Shape::same_dims(shape.dims(), out.dims()) {
            let error = LayerArgError::AmbiguousBias { filters, out };
            return Err(Error::new(ErrorKind::LayerArgument(error), args[2].span));
        }
        Ok(self.graph.add(z, b))
    }
}
