//! Local adjoint rules: for each operation, how the gradient flowing into
//! its result (`ḡ`) flows on to each operand. One arm per operation; the
//! forward meaning of each is given beside it, except for the map
//! operations (`conv2d`, pooling), whose adjoints are their own files'
//! (`model::ops::map`).

use num_rational::BigRational;

use super::rules;
use crate::model::ops::map::{self, AnyMapNode};
use crate::model::{Axis, Fired, Func, Graph, LossFn, Node, NodeId, Reduction};

/// A contribution to the gradient of one operand.
#[derive(Clone, Debug)]
pub struct Local {
    /// Which child of the node (0-based) it flows to.
    pub child: NodeId,
    pub contribution: NodeId,
    /// The rule's name, for derivation steps.
    pub rule: &'static str,
    /// A textbook form of the same contribution shown before it is expanded
    /// (the softmax Jacobian product), when there is one.
    pub explanation: Option<NodeId>,
    /// `d-broadcast` when the operand was stretched over the result (a bias
    /// added to every example) and its contribution is summed back.
    pub broadcast: Option<&'static str>,
    /// The simplifications that fired while the contribution was built.
    pub simplified: Fired,
}

/// The contributions of node `id` (whose value is written `out`, the named
/// tensor when it defines one) given the gradient `seed` of its result.
/// `wants(child)` says which operands need a gradient at all.
pub fn local_adjoints(
    g: &mut Graph,
    id: NodeId,
    out: NodeId,
    seed: NodeId,
    wants: &dyn Fn(NodeId) -> bool,
) -> Vec<Local> {
    let node = g.node(id).clone();
    let mut out_list = Vec::new();
    // What fires from here on belongs to the contributions built below.
    g.take_fired();
    let mut push = |g: &mut Graph, child: NodeId, c: NodeId, rule: &'static str, explanation: Option<NodeId>| {
        if wants(child) {
            let c = unbroadcast(g, c, child, id);
            let c = expand(g, c, child);
            let broadcast = stretched(g, child, id).then_some("d-broadcast");
            // Each contribution is built just before it is pushed.
            let simplified = g.take_fired();
            out_list.push(Local { child, contribution: c, rule, explanation, broadcast, simplified });
        }
    };
    // p = exp(z) ⊘ Σexp(z) is softmax(z) written out: its gradient flows to z
    // by the softmax rule, past exp and Σ, so that a cross-entropy after it
    // cancels to ŷ − y as it does after the built-in.
    if let Some((exp, z)) = rules::softmax_written_out(g, id) {
        if wants(exp) {
            let (c, explanation) = softmax_jacobian_product(g, out, seed);
            let simplified = g.take_fired();
            return vec![Local {
                child: z,
                contribution: c,
                rule: rules::D_SOFTMAX_WRITTEN_OUT,
                explanation,
                broadcast: None,
                simplified,
            }];
        }
    }
    match node {
        Node::Tensor(_) | Node::Param(_) | Node::Symbol(_) | Node::Const(_) | Node::Ones(_) => {}
        // z = a + b: ā = ḡ, b̄ = ḡ
        Node::Add(a, b) => {
            push(g, a, seed, "d-add", None);
            push(g, b, seed, "d-add", None);
        }
        // z = a − b: ā = ḡ, b̄ = −ḡ
        Node::Sub(a, b) => {
            push(g, a, seed, "d-sub", None);
            let n = g.neg(seed);
            push(g, b, n, "d-sub", None);
        }
        // z = −a: ā = −ḡ
        Node::Neg(a) => {
            let n = g.neg(seed);
            push(g, a, n, "d-neg", None);
        }
        // z = a ⊙ b: ā = ḡ ⊙ b, b̄ = ḡ ⊙ a
        Node::Mul(a, b) => {
            if wants(a) {
                let c = g.mul(seed, b);
                push(g, a, c, "d-mul", None);
            }
            if wants(b) {
                let c = g.mul(seed, a);
                push(g, b, c, "d-mul", None);
            }
        }
        // z = a ⊘ b: ā = ḡ ⊘ b, b̄ = −ḡ ⊙ a ⊘ b²
        Node::Div(a, b) => {
            if wants(a) {
                let c = g.div(seed, b);
                push(g, a, c, "d-div", None);
            }
            if wants(b) {
                let ga = g.mul(seed, a);
                let b2 = g.pow(b, BigRational::from_integer(2.into()));
                let q = g.div(ga, b2);
                let c = g.neg(q);
                push(g, b, c, "d-div", None);
            }
        }
        // z = aᵉ: ā = ḡ ⊙ e aᵉ⁻¹
        Node::Pow(a, e) => {
            let one = BigRational::from_integer(1.into());
            let p = g.pow(a, e.clone() - one);
            let ec = g.constant(e);
            let d = g.mul(ec, p);
            let c = g.mul(seed, d);
            push(g, a, c, "d-pow", None);
        }
        // z = A B: Ā = ḡ Bᵀ, B̄ = Aᵀ ḡ
        Node::MatMul(a, b) => {
            if wants(a) {
                let bt = g.transpose(b);
                let c = g.matmul(seed, bt);
                push(g, a, c, "d-matmul-left", None);
            }
            if wants(b) {
                let at = g.transpose(a);
                let c = g.matmul(at, seed);
                push(g, b, c, "d-matmul-right", None);
            }
        }
        // z = aᵀ: ā = ḡᵀ
        Node::Transpose(a) => {
            let c = g.transpose(seed);
            push(g, a, c, "d-transpose", None);
        }
        // z = f(a): ā = ḡ ⊙ f′(a)
        // z = f(a, b) for a built-in of two arguments: ā = ḡ ⊙ ∂f/∂a, b̄ = ḡ ⊙ ∂f/∂b
        Node::Apply(Func::Builtin(f), args) => {
            for (i, &a) in args.iter().enumerate() {
                if wants(a) {
                    let d = rules::partial(g, f, &args, i, out);
                    let c = g.mul(seed, d);
                    push(g, a, c, rules::rule(f).name, None);
                }
            }
        }
        // z = f(a1, …, an) for a custom f: āi = ḡ ⊙ ∂f/∂ti(a1, …, an)
        Node::Apply(Func::Custom(f), args) => {
            for (i, &a) in args.iter().enumerate() {
                if wants(a) {
                    let d = g.apply(Func::Derivative { func: f, wrt: i as u32 }, args.clone());
                    let c = g.mul(seed, d);
                    push(g, a, c, "d-custom", None);
                }
            }
        }
        // Derivatives of custom functions appear only in derived formulas,
        // which are never differentiated again.
        Node::Apply(Func::Derivative { .. }, _) | Node::Diag(_) => {}
        // z = Σ a: ā = ḡ (broadcast)
        Node::Reduce(Reduction::Sum, a) => push(g, a, seed, "d-sum", None),
        // z = mean(a): ā = ḡ / n
        Node::Reduce(Reduction::Mean, a) => {
            let n = g.shape(a).len() as i64;
            let inv = g.constant(BigRational::new(1.into(), n.max(1).into()));
            let c = g.mul(inv, seed);
            push(g, a, c, "d-mean", None);
        }
        // S = softmax(A) of a matrix along an axis: each column (or row) is
        // a softmax of its own, Ā = S ⊙ Ḡ − S ⊙ 1ᵀ(S ⊙ Ḡ) (or (S ⊙ Ḡ) 1):
        // the vector rule below, column by column.
        Node::Softmax(a, axis) if g.shape(a).vector_axis().is_none() => {
            let s = out;
            let sg = g.mul(s, seed);
            let totals = g.sum_axis(sg, axis);
            let scaled = g.mul(s, totals);
            let c = g.sub(sg, scaled);
            push(g, a, c, "d-softmax", None);
        }
        // s = softmax(a): ā = (diag(s) − s sᵀ) ḡ = s ⊙ ḡ − s Σ(s ⊙ ḡ)
        Node::Softmax(a, _) => {
            let (c, explanation) = softmax_jacobian_product(g, out, seed);
            push(g, a, c, "d-softmax", explanation);
        }
        // A = softmax(S) over the entries a mask M keeps (masked scores
        // −∞): S̄ = A ⊙ Ā − A ⊙ ((A ⊙ Ā) 1), d-softmax over the kept
        // entries; where M is 0, A is 0 and so is S̄. The mask is data.
        Node::MaskedSoftmax(a, _, axis) => {
            let s = out;
            let sg = g.mul(s, seed);
            let totals = match g.shape(a).vector_axis() {
                Some(_) => g.reduce(Reduction::Sum, sg),
                None => g.sum_axis(sg, axis),
            };
            let scaled = g.mul(s, totals);
            let c = g.sub(sg, scaled);
            push(g, a, c, "d-masked-softmax", None);
        }
        // l = log_softmax(a): ā = ḡ − softmax(a) Σḡ (of a matrix, along
        // its axis: Ḡ − softmax(A) ⊙ 1ᵀḠ, or Ḡ 1)
        Node::LogSoftmax(a, axis) => {
            let s = g.softmax(a, axis);
            let total = g.sum_axis(seed, axis);
            let scaled = g.mul(s, total);
            let c = g.sub(seed, scaled);
            push(g, a, c, "d-log-softmax", None);
        }
        Node::Loss(kind, y, p) => {
            loss_adjoints(g, kind, y, p, seed, &mut |g, child, c, rule| push(g, child, c, rule, None))
        }
        // A map operation's adjoint is its own (`model::ops::map`): the
        // backward parts it builds for each operand, none for a backward part.
        Node::Conv(part, a, b, c) => {
            for a in map::conv(part, a, b, c).adjoint(g, seed, wants) {
                push(g, a.operand, a.contribution, a.rule, None);
            }
        }
        Node::Pool(kind, part, ref operands, w) => {
            for a in map::pool(kind, part, operands, w).adjoint(g, seed, wants) {
                push(g, a.operand, a.contribution, a.rule, None);
            }
        }
        // v = flatten(T): T̄ = ḡ laid out in T's shape again
        Node::Flatten(a) => {
            let shape = g.shape(a).clone();
            let c = g.reshape(seed, shape);
            push(g, a, c, "d-flatten", None);
        }
        // t = reshape(a): ā = t̄ laid out in a's shape again (a channels-last
        // bias [F] is added as [1, 1, 1, F])
        Node::Reshape(a, _) => {
            let shape = g.shape(a).clone();
            let c = g.reshape(seed, shape);
            push(g, a, c, "d-reshape", None);
        }
        // μ = Σₙᵢⱼ X (spatial batch norm's sums): every entry of channel c
        // receives ḡ[c], spread over the maps as a channel's bias is.
        Node::SumSpatial(a, _) => push(g, a, seed, "d-sum", None),
        // s = X 1 or 1ᵀX: every entry of a row (column) receives that row's ḡ
        Node::SumAxis(a, _) => push(g, a, seed, "d-sum", None),
        // Class labels are data: nothing to differentiate.
        Node::OneHot(..) => {}
        // S = A[r]: Ā = S̄ placed at r in zeros of A's shape
        Node::Slice(a, ranges) => {
            let source = g.shape(a).clone();
            let c = g.unslice(seed, ranges, source);
            push(g, a, c, "d-slice", None);
        }
        // O = W[x]: W̄[k] = Σ Ō[p] over the positions p with x[p] = k; the
        // ids are data, with no gradient.
        Node::Gather(w, x) => {
            let (rows, width) = match g.shape(w).dims() {
                [rows, width] => (*rows, *width),
                _ => (g.shape(w).len(), 1),
            };
            let c = g.scatter_add(seed, x, rows, width);
            push(g, w, c, "d-lookup", None);
        }
        // Their gradients appear only in derived formulas.
        Node::Unslice(..) | Node::ScatterAdd(..) => {}
    }
    out_list
}

/// The gradient through a softmax `s` of a vector, given the gradient `seed`
/// of `s`: `s ⊙ ḡ − s Σ(s ⊙ ḡ)`, with the Jacobian product it expands
/// (`(diag(s) − s sᵀ) ḡ`) as the explanation. The Jacobian is diag(s) − s sᵀ
/// for a column, diag(s) − sᵀ s for a row (then the gradient, a row too,
/// multiplies it from the left).
fn softmax_jacobian_product(g: &mut Graph, s: NodeId, seed: NodeId) -> (NodeId, Option<NodeId>) {
    let d = g.diag(s);
    let st = g.transpose(s);
    let row = matches!(g.shape(s).dims(), [1, n] if *n > 1);
    let outer = if row { g.matmul(st, s) } else { g.matmul(s, st) };
    let jac = g.sub(d, outer);
    let explanation = if row { g.matmul(seed, jac) } else { g.matmul(jac, seed) };
    let sg = g.mul(s, seed);
    let total = g.reduce(Reduction::Sum, sg);
    let scaled = g.mul(s, total);
    (g.sub(sg, scaled), Some(explanation))
}

/// Adjoints of the built-in losses.
fn loss_adjoints(
    g: &mut Graph,
    kind: LossFn,
    y: NodeId,
    p: NodeId,
    seed: NodeId,
    push: &mut dyn FnMut(&mut Graph, NodeId, NodeId, &'static str),
) {
    let n = g.shape(p).len().max(1) as i64;
    match kind {
        // L = −Σ y ⊙ log p: p̄ = −ḡ y ⊘ p, ȳ = −ḡ log p; for a batch of N
        // examples L = −Σ Y ⊙ log P / N: P̄ = −ḡ (Y ⊘ P)/N, Ȳ = −ḡ log(P)/N
        LossFn::CrossEntropy(classes) => {
            let examples = classes.map(|axis| g.shape(p).axis_len(axis.other()) as i64);
            let per_example = |g: &mut Graph, x: NodeId| match examples {
                Some(n) => {
                    let n = g.int(n);
                    g.div(x, n)
                }
                None => x,
            };
            let q = g.div(y, p);
            let q = per_example(g, q);
            let q = g.neg(q);
            let c = g.mul(seed, q);
            push(g, p, c, "d-cross-entropy");
            let lp = g.apply(Func::Builtin(crate::model::Elementwise::Log), vec![p]);
            let lp = per_example(g, lp);
            let lp = g.neg(lp);
            let c = g.mul(seed, lp);
            push(g, y, c, "d-cross-entropy");
        }
        // L = mean((p − y)²): p̄ = ḡ (2/n)(p − y), ȳ = −p̄
        LossFn::Mse => {
            let k = g.constant(BigRational::new(2.into(), n.into()));
            let diff = g.sub(p, y);
            let d = g.mul(k, diff);
            let c = g.mul(seed, d);
            push(g, p, c, "d-mse");
            let c = g.neg(c);
            push(g, y, c, "d-mse");
        }
        // L = −mean(y ⊙ log p + (1 − y) ⊙ log(1 − p)):
        // p̄ = −(ḡ/n)(y ⊘ p − (1 − y) ⊘ (1 − p))
        LossFn::Bce => {
            let one = g.int(1);
            let q1 = g.div(y, p);
            let one_y = g.sub(one, y);
            let one_p = g.sub(one, p);
            let q2 = g.div(one_y, one_p);
            let diff = g.sub(q1, q2);
            let k = g.constant(BigRational::new((-1).into(), n.into()));
            let d = g.mul(k, diff);
            let c = g.mul(seed, d);
            push(g, p, c, "d-bce");
            let lp = g.apply(Func::Builtin(crate::model::Elementwise::Log), vec![p]);
            let l1p = g.apply(Func::Builtin(crate::model::Elementwise::Log), vec![one_p]);
            let diff = g.sub(lp, l1p);
            let d = g.mul(k, diff);
            let c = g.mul(seed, d);
            push(g, y, c, "d-bce");
        }
    }
}

/// Sums a contribution down to its operand's shape: a scalar that was
/// broadcast over a tensor collects the gradient of every entry, a column
/// `[m]` stretched over every column of `[m, N]` (a bias added to each
/// example) the sum of each row, ∂L/∂b = Δ 1, a row `[1, n]` stretched over
/// `[N, n]` the sum of each column, 1ᵀΔ, and a vector `[F]` spread over a map
/// `[F, H, W]` (a conv layer's bias) the sum of each channel, ∂L/∂b_f =
/// Σᵢⱼ ḡ_f[i,j]. A scalar contribution stands for the same value in every
/// entry of the result `parent`, so an operand with fewer entries collects
/// it once per entry it was spread over.
fn unbroadcast(g: &mut Graph, c: NodeId, child: NodeId, parent: NodeId) -> NodeId {
    let (n_parent, n_child) = (g.shape(parent).len(), g.shape(child).len().max(1));
    if g.shape(c).is_scalar() && n_parent > n_child {
        let k = g.int((n_parent / n_child) as i64);
        g.mul(k, c)
    } else if g.shape(child).is_scalar() && !g.shape(c).is_scalar() {
        g.reduce(Reduction::Sum, c)
    } else if let Some(axis) = g.shape(child).spread_axis(g.shape(c)) {
        // Summed to [F], then laid out as the operand was written
        // (deeplearning.ai's [1, 1, 1, F]; a reshape that only adds ones,
        // which the formulas do not show).
        let sums = g.sum_spatial(c, axis);
        let shape = g.shape(child).clone();
        g.reshape(sums, shape)
    } else {
        let axes: Vec<Axis> = g.shape(child).stretched_axes(&g.shape(c).clone());
        axes.into_iter().fold(c, |c, axis| g.sum_axis(c, axis))
    }
}

/// Expands a contribution to its operand's shape: the gradient of an
/// operand always has the operand's shape. A contribution with fewer
/// entries stands for the same value in every entry it was spread over
/// (the seed of `Σ P` is 1 in every entry of P, that of `X 1` each row's
/// value along the row, that of `R ⊙ μ` for a column μ the column copied
/// across); left smaller, it would reach a layer's adjoint, a product or
/// a sum along an axis as if it had that smaller shape. So it is written
/// out with 𝟏, the tensor of ones: ∂L/∂P = 𝟏, ∂L/∂R = μ ⊙ 𝟏.
fn expand(g: &mut Graph, c: NodeId, child: NodeId) -> NodeId {
    let shape = g.shape(child).clone();
    let fits = g.shape(c).broadcast(&shape).is_some_and(|s| s == shape);
    if fits {
        g.expand(c, &shape)
    } else {
        c
    }
}

/// Is the contribution of `child` to `parent` summed along an axis it was
/// stretched over (then the rule `d-broadcast` says why)?
pub fn stretched(g: &Graph, child: NodeId, parent: NodeId) -> bool {
    !g.shape(child).stretched_axes(g.shape(parent)).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Elementwise, Shape, SymbolId, TensorId};

    /// `exp(z) / Σexp(z)` for the vector `z`, and `exp(z)`.
    fn written_softmax(g: &mut Graph, z: NodeId) -> (NodeId, NodeId) {
        let e = g.apply(Func::Builtin(Elementwise::Exp), vec![z]);
        let total = g.reduce(Reduction::Sum, e);
        (g.div(e, total), e)
    }

    /// A softmax written out sends its gradient straight to z by the softmax
    /// rule, p ⊙ ḡ − p Σ(p ⊙ ḡ), explained as (diag(p) − p pᵀ) ḡ.
    #[test]
    fn softmax_written_out_takes_the_softmax_rule() {
        let mut g = Graph::new();
        let z = g.tensor(TensorId(0), Shape::vector(3));
        let (p, _) = written_softmax(&mut g, z);
        let seed = g.symbol(SymbolId(0), Shape::vector(3));
        let locals = local_adjoints(&mut g, p, p, seed, &|_| true);
        assert_eq!(locals.len(), 1);
        assert_eq!(locals[0].child, z);
        assert_eq!(locals[0].rule, rules::D_SOFTMAX_WRITTEN_OUT);
        // The same formula built by hand.
        let pg = g.mul(p, seed);
        let total = g.reduce(Reduction::Sum, pg);
        let scaled = g.mul(p, total);
        assert_eq!(locals[0].contribution, g.sub(pg, scaled));
        let d = g.diag(p);
        let pt = g.transpose(p);
        let outer = g.matmul(p, pt);
        let jac = g.sub(d, outer);
        assert_eq!(locals[0].explanation, Some(g.matmul(jac, seed)));
    }

    /// Near misses are ordinary quotients: Σ of another exponential, a mean,
    /// or a scalar z.
    #[test]
    fn only_exp_over_its_own_sum_is_a_softmax() {
        let mut g = Graph::new();
        let z = g.tensor(TensorId(0), Shape::vector(3));
        let w = g.tensor(TensorId(1), Shape::vector(3));
        let ez = g.apply(Func::Builtin(Elementwise::Exp), vec![z]);
        let ew = g.apply(Func::Builtin(Elementwise::Exp), vec![w]);
        let other = g.reduce(Reduction::Sum, ew);
        let mean = g.reduce(Reduction::Mean, ez);
        let s = g.tensor(TensorId(2), Shape::scalar());
        let (scalar, _) = written_softmax(&mut g, s);
        for quotient in [g.div(ez, other), g.div(ez, mean)] {
            assert_eq!(rules::softmax_written_out(&g, quotient), None);
            let seed = g.symbol(SymbolId(0), Shape::vector(3));
            let locals = local_adjoints(&mut g, quotient, quotient, seed, &|_| true);
            assert!(locals.iter().all(|l| l.rule == "d-div"), "{locals:?}");
        }
        assert_eq!(rules::softmax_written_out(&g, scalar), None);
    }
}
