//! What the normalization layers (`batchnorm`, `layernorm`, `rmsnorm`)
//! share: their checks (a named input, a whole equation, γ and β one entry
//! per feature, a positive ε), the axis their features lie along, the
//! stages μ, σ² and x̂ written out as named intermediates, and the collected
//! form of ∂L/∂X that batch and layer norm's closed forms both take. Each
//! layer's own file says which of these it uses and how.

use num_rational::BigRational;
use num_traits::Zero;

use super::layer::LayerCall;
use crate::model::error::{Error, ErrorKind};
use crate::model::layer_error::LayerArgError;
use crate::model::norm::NormLayer;
use crate::model::{Axis, Elementwise, Func, Graph, NodeId, TensorId};
use crate::syntax::Span;

pub(super) fn layer_error(error: LayerArgError, span: Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

/// μ, σ² and x̂ of a normalization as named intermediates (each its tensor
/// and its node), and σ = sqrt(σ² + ε).
pub(super) struct Stages {
    pub mean: (TensorId, NodeId),
    pub var: (TensorId, NodeId),
    pub sigma: NodeId,
    pub xhat: (TensorId, NodeId),
}

/// Refuses a call inside a larger expression: the closed form needs
/// G = ∂L/∂out of an equation whose right-hand side is the layer.
pub(super) fn whole_equation(call: &dyn LayerCall, func: &'static str) -> Result<(), Error> {
    if call.is_whole_equation() {
        return Ok(());
    }
    let args: Vec<String> =
        (0..call.operands().len()).map(|i| crate::syntax::expr_text(call.operand_source(i))).collect();
    let text = format!("{func}({})", args.join(", "));
    Err(layer_error(LayerArgError::NormNotWholeEquation { func, call: text }, call.span()))
}

/// The input X, operand 0, a named tensor: the closed form is its gradient.
pub(super) fn input(call: &dyn LayerCall, func: &'static str) -> Result<TensorId, Error> {
    let arg = call.operand_source(0);
    match call.tensor_named(arg) {
        Some((id, _)) => Ok(id),
        None => {
            let found = crate::syntax::expr_text(arg);
            Err(layer_error(LayerArgError::NormInputNotNamed { func, found }, arg.span))
        }
    }
}

/// ε: the `eps` keyword, a positive number, else `default`. `operands`
/// spells the call's operands for the help (`Z, gamma, beta`).
pub(super) fn eps(
    call: &mut dyn LayerCall,
    func: &'static str,
    operands: &'static str,
    default: BigRational,
) -> Result<BigRational, Error> {
    let Some((node, value)) = call.keyword("eps")? else { return Ok(default) };
    match call.graph().as_const(node).cloned() {
        Some(e) if e > BigRational::zero() => Ok(e),
        other => {
            let found = match other {
                Some(e) => call.decimal(&e),
                None => format!("`{}`", crate::syntax::expr_text(&value)),
            };
            Err(layer_error(LayerArgError::EpsNotPositive { func, operands, found }, value.span))
        }
    }
}

/// A matrix X's `(rows, cols)`; refuses any other rank at X.
pub(super) fn matrix(call: &mut dyn LayerCall, func: &'static str) -> Result<(usize, usize), Error> {
    let x = call.operands()[0];
    let shape = call.graph().shape(x).clone();
    match shape.as_matrix().filter(|_| shape.rank() == 2) {
        Some(dims) => Ok(dims),
        None => Err(layer_error(LayerArgError::NormRank { func, shape }, call.operand_source(0).span)),
    }
}

/// The axis the features of the matrix X `[rows, cols]` lie along: the
/// network's layout, else γ's (operand 1) shape (a row `[1, D]` scales
/// rows, a column `[D]` columns).
pub(super) fn feature_axis(call: &mut dyn LayerCall, (rows, cols): (usize, usize)) -> Axis {
    let (x, gamma) = (call.operands()[0], call.operands()[1]);
    if let Some(axis) = call.layout_axis(x) {
        return axis;
    }
    let g_shape = call.graph().shape(gamma);
    let length = g_shape.len();
    if length == cols && length != rows {
        Axis::ACROSS
    } else if length == rows && length != cols {
        Axis::DOWN
    } else if g_shape.as_matrix() == Some((1, cols)) && g_shape.rank() == 2 {
        Axis::ACROSS
    } else {
        Axis::DOWN
    }
}

/// The per-feature operands (γ, β: operands 1, 2, …), each laid along the
/// features (transposed when a column `[D]` scales rows); refuses one that
/// is not one entry per feature.
pub(super) fn per_feature(
    call: &mut dyn LayerCall,
    func: &'static str,
    features: Axis,
    count: usize,
) -> Result<Vec<NodeId>, Error> {
    let mut oriented = Vec::new();
    for i in 1..call.operands().len() {
        let node = call.operands()[i];
        let s = call.graph().shape(node).clone();
        let as_row = s.as_matrix() == Some((1, count)) && s.rank() == 2;
        let as_column = s.as_matrix() == Some((count, 1)) && s.rank() <= 2;
        let node = match (features == Axis::ACROSS, as_row, as_column) {
            (true, true, _) | (false, _, true) => node,
            (true, false, true) | (false, true, false) => call.graph().transpose(node),
            _ => {
                let arg = call.operand_source(i);
                let error = LayerArgError::NormParamShape {
                    func,
                    name: crate::syntax::expr_text(arg),
                    shape: s,
                    features: count,
                    rows: features == Axis::ACROSS,
                };
                return Err(layer_error(error, arg.span));
            }
        };
        oriented.push(node);
    }
    Ok(oriented)
}

/// The stages of a normalization, each of μ, σ² and x̂ written out as a
/// named intermediate: μ = Σ X / n and σ² = Σ (X − μ)² / n, `sum`
/// totalling the `count` entries of each statistic (along an axis of a
/// matrix, or over a map's N, H, W), and x̂ = (X − μ) ⊘ σ with
/// σ = sqrt(σ² + ε), which is returned too.
pub(super) fn stages(
    call: &mut dyn LayerCall,
    x: NodeId,
    sum: impl Fn(&mut Graph, NodeId) -> NodeId,
    count: usize,
    eps: &BigRational,
) -> Stages {
    let g = call.graph();
    let n = g.int(count as i64);
    let total = sum(g, x);
    let mean_def = g.div(total, n);
    let mean = call.write_out("mu", mean_def);
    let g = call.graph();
    let centered = g.sub(x, mean.1);
    let squares = g.pow(centered, BigRational::from_integer(2.into()));
    let total = sum(g, squares);
    let var_def = g.div(total, n);
    let var = call.write_out("var", var_def);
    let g = call.graph();
    let eps_node = g.constant(eps.clone());
    let shifted = g.add(var.1, eps_node);
    let sigma = g.apply(Func::Builtin(Elementwise::Sqrt), vec![shifted]);
    let xhat_def = g.div(centered, sigma);
    let xhat = call.write_out("xhat", xhat_def);
    Stages { mean, var, sigma, xhat }
}

/// `(1/n) factor ⊙ (n U − Σ U − x̂ ⊙ Σ (U ⊙ x̂))`, the collected form of
/// ∂L/∂X of batch and layer norm, U the gradient reaching x̂ (`upstream`)
/// and the sums along the layer's axis (per channel over N, H, W for maps).
pub(super) fn collected(
    g: &mut Graph,
    layer: &NormLayer,
    upstream: NodeId,
    factor: impl FnOnce(&mut Graph) -> NodeId,
) -> NodeId {
    let xhat = layer.xhat_node;
    let n = g.int(layer.count as i64);
    let scaled = g.mul(n, upstream);
    let sum = |g: &mut Graph, a: NodeId| {
        if layer.spatial {
            let channel = g.shape(a).channel_axis().unwrap_or(0);
            g.sum_spatial(a, channel)
        } else {
            g.sum_axis(a, layer.axis)
        }
    };
    let total = sum(g, upstream);
    let along = g.mul(upstream, xhat);
    let projected = sum(g, along);
    let correction = g.mul(xhat, projected);
    let first = g.sub(scaled, total);
    let inner = g.sub(first, correction);
    let factor = factor(g);
    let product = g.mul(factor, inner);
    g.div(product, n)
}
