//! `attention(Q, K, V, mask = M)`: scaled dot-product attention on rows.

use num_rational::BigRational;
use num_traits::Zero;

use super::spec::{LayerCall, LayerOp};
use crate::model::error::{Error, ErrorKind};
use crate::model::layer_error::LayerArgError;
use crate::model::{Axis, Elementwise, Func, NodeId, Role, Shape};

/// Written out as the equations `S = Q Kᵀ / sqrt(d)` and `A = softmax(S)`
/// (each row over the keys) and the output `A V`, so that reverse mode
/// gives the textbook steps: ∂L/∂V = Aᵀ G, ∂L/∂A = G Vᵀ, ∂L/∂S by
/// d-softmax, then ∂L/∂Q and ∂L/∂K through the product.
///
/// With `mask = M` (a const of 0s and 1s, `[T, S]`) the softmax of each
/// row is over the keys M keeps, as if the masked scores were −∞: their
/// weights are exactly 0, which no finite score could give, so the graph
/// has a softmax node that takes the mask rather than a score made very
/// negative.
pub struct Attention;

fn layer_error(error: LayerArgError, span: crate::syntax::Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

impl LayerOp for Attention {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn arity(&self) -> usize {
        3
    }

    fn keywords(&self) -> &'static [&'static str] {
        &["mask"]
    }

    fn expand(&self, call: &mut dyn LayerCall) -> Result<NodeId, Error> {
        let (q, k, v) = (call.operands()[0], call.operands()[1], call.operands()[2]);
        let matrix = |s: &Shape| s.rank() == 2 && s.as_matrix().is_some();
        let g = call.graph();
        let (sq, sk, sv) = (g.shape(q).clone(), g.shape(k).clone(), g.shape(v).clone());
        let fits = matrix(&sq)
            && matrix(&sk)
            && matrix(&sv)
            && sq.axis_len(Axis::ACROSS) == sk.axis_len(Axis::ACROSS)
            && sk.axis_len(Axis::DOWN) == sv.axis_len(Axis::DOWN);
        if !fits {
            return Err(layer_error(LayerArgError::AttentionShapes { q: sq, k: sk, v: sv }, call.span()));
        }
        let (queries, keys) = (sq.axis_len(Axis::DOWN), sk.axis_len(Axis::DOWN));
        let mask = mask(call, queries, keys)?;
        let d = sq.axis_len(Axis::ACROSS);
        let g = call.graph();
        let kt = g.transpose(k);
        let product = g.matmul(q, kt);
        let scale = match exact_sqrt(d) {
            Some(r) => g.int(r as i64),
            None => {
                let d = g.int(d as i64);
                g.apply(Func::Builtin(Elementwise::Sqrt), vec![d])
            }
        };
        let scores = g.div(product, scale);
        let scores = call.write_out("S", scores);
        let weights = match mask {
            Some(m) => call.graph().masked_softmax(scores.1, m, Axis::ACROSS),
            None => call.graph().softmax(scores.1, Axis::ACROSS),
        };
        let weights = call.write_out("A", weights);
        Ok(call.graph().matmul(weights.1, v))
    }
}

/// The `mask` keyword, if given: a const of 0s and 1s of the scores' shape
/// `[queries, keys]` that keeps at least one key in every row. A const
/// declared without values is taken, as `derive` needs no numbers; its
/// values are checked when the evaluator meets them.
fn mask(call: &mut dyn LayerCall, queries: usize, keys: usize) -> Result<Option<NodeId>, Error> {
    let Some(arg) = call.keyword_source("mask").cloned() else { return Ok(None) };
    let tensor = call.tensor_named(&arg).map(|(_, t)| t);
    let valueless = tensor.is_some_and(|t| t.role == Role::Const && t.exact_value().is_none());
    let values = match valueless {
        true => None,
        false => Some(crate::model::mask::binary_values("attention", tensor, &arg, |r| call.decimal(r))?),
    };
    let (node, _) = call.keyword("mask")?.expect("the keyword is given");
    let shape = call.graph().shape(node).clone();
    if shape.rank() != 2 || shape.as_matrix() != Some((queries, keys)) {
        let mask = crate::syntax::expr_text(&arg);
        let error = LayerArgError::AttentionMaskShape { mask, mask_shape: shape, queries, keys };
        return Err(layer_error(error, arg.span));
    }
    let values: Vec<BigRational> = values.unwrap_or_default();
    let empty = |t: usize| values.get(t * keys..(t + 1) * keys).is_some_and(|row| row.iter().all(Zero::is_zero));
    if let Some(row) = (0..queries).find(|&t| empty(t)) {
        let name = crate::syntax::expr_text(&arg);
        return Err(layer_error(LayerArgError::AttentionMaskRowEmpty { name, row, keys }, arg.span));
    }
    Ok(Some(node))
}

/// The whole square root of `n`, if it has one (√4 = 2 keeps values exact).
fn exact_sqrt(n: usize) -> Option<usize> {
    (0..=n).find(|r| r * r >= n).filter(|r| r * r == n)
}

#[cfg(test)]
mod tests {
    use super::exact_sqrt;

    #[test]
    fn exact_square_roots_only() {
        assert_eq!(exact_sqrt(4), Some(2));
        assert_eq!(exact_sqrt(1), Some(1));
        assert_eq!(exact_sqrt(3), None);
    }
}
