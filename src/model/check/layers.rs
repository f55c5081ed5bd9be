//! Checking the layers that normalise and attend (and, with them, the
//! errors of their arguments), and [`Call`], what a layer with a module of
//! its own (`model::ops::layer`, such as `dropout`) sees of its call. Each
//! is built from the graph's ordinary operations, so the derivation, the
//! evaluator and every writer know it already; what is checked here is
//! what the formulas cannot say.

use num_rational::BigRational;
use num_traits::Zero;

use super::super::error::{Error, ErrorKind};
use super::super::expr::TensorId;
use super::super::expr::{Graph, NodeId};
use super::super::func::{Axis, Elementwise, Func};
use super::super::norm::{NormKind, NormLayer};
use super::super::ops::layer::LayerCall;
use super::super::shape::Shape;
use super::super::{NamedTensor, Role};
use super::{Checker, Scope};
use crate::syntax::ast::{self, ExprKind};
use crate::syntax::Span;

use super::super::layer_error::LayerArgError;

fn layer_error(error: LayerArgError, span: Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

/// ε of a normalization when the file gives none: 1e-5, as CS231n and PyTorch.
fn default_eps() -> BigRational {
    BigRational::new(1.into(), 100_000.into())
}

/// μ, σ² and x̂ of a normalization as named intermediates (each its tensor
/// and its node), and σ = sqrt(σ² + ε).
pub(super) struct NormStages {
    pub mean: (TensorId, NodeId),
    pub var: (TensorId, NodeId),
    pub sigma: NodeId,
    pub xhat: (TensorId, NodeId),
}

impl Checker<'_> {
    /// `batchnorm(X, gamma, beta, eps = 1e-5)` and `layernorm(…)`, written
    /// out as equations μ, σ² and x̂ (added before the calling equation) and
    /// the output `γ ⊙ x̂ + β`. The statistics run over the examples (batch
    /// norm) or over the features of each example (layer norm); which axis
    /// holds the examples follows the network's layout, as for softmax.
    pub(super) fn normalize(
        &mut self,
        kind: NormKind,
        func: &ast::Ident,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: &[NodeId],
        span: Span,
    ) -> Result<NodeId, Error> {
        let name = kind.name();
        let owner = self.current.expect("a layer is called in an equation");
        if self.equations.get(&owner).is_none_or(|e| unparen(e).span != span) {
            let call = crate::syntax::expr_text(&ast::Expr { kind: ExprKind::Name(func.clone()), span: func.span });
            let args: Vec<String> = args.iter().map(crate::syntax::expr_text).collect();
            let call = format!("{call}({})", args.join(", "));
            return Err(layer_error(LayerArgError::NormNotWholeEquation { func: name, call }, span));
        }
        let (x, gamma, beta) = (built[0], built[1], built[2]);
        let shape = self.graph.shape(x).clone();
        if kind == NormKind::Batch && shape.rank() == 4 {
            let input = self.norm_input(name, &args[0])?;
            let eps = self.norm_eps(name, keywords)?;
            return self.spatial_batchnorm(input, (x, gamma, beta), args, eps, span);
        }
        let Some((rows, cols)) = shape.as_matrix().filter(|_| shape.rank() == 2) else {
            return Err(layer_error(LayerArgError::NormRank { func: name, shape }, args[0].span));
        };
        let input = self.norm_input(name, &args[0])?;
        // The axis the features lie along: the network's layout, else
        // gamma's shape (a row [1, D] scales rows, a column [D] columns).
        let features = match self.layout_axis(x) {
            Some(axis) => axis,
            None => {
                let g_shape = self.graph.shape(gamma);
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
        };
        let count_features = if features == Axis::ACROSS { cols } else { rows };
        let mut oriented = Vec::new();
        for (node, arg) in [(gamma, &args[1]), (beta, &args[2])] {
            let s = self.graph.shape(node);
            let as_row = s.as_matrix() == Some((1, count_features)) && s.rank() == 2;
            let as_column = s.as_matrix() == Some((count_features, 1)) && s.rank() <= 2;
            let node = match (features == Axis::ACROSS, as_row, as_column) {
                (true, true, _) | (false, _, true) => node,
                (true, false, true) | (false, true, false) => self.graph.transpose(node),
                _ => {
                    let error = LayerArgError::NormParamShape {
                        func: name,
                        name: crate::syntax::expr_text(arg),
                        shape: s.clone(),
                        features: count_features,
                        rows: features == Axis::ACROSS,
                    };
                    return Err(layer_error(error, arg.span));
                }
            };
            oriented.push(node);
        }
        let eps = self.norm_eps(name, keywords)?;
        let axis = match kind {
            NormKind::Batch => features.other(),
            NormKind::Layer => features,
        };
        if kind == NormKind::Batch {
            self.note_batch(crate::model::Batch { examples: axis, size: shape.axis_len(axis) });
        }
        let count = shape.axis_len(axis);
        let NormStages { mean, var, sigma, xhat } = self.norm_stages(x, |g, a| g.sum_axis(a, axis), count, &eps, span);
        let g = &mut self.graph;
        let scaled = g.mul(oriented[0], xhat.1);
        let out = g.add(scaled, oriented[1]);
        let owner = self.current.expect("a layer is called in an equation");
        self.norms.push(NormLayer {
            kind,
            input,
            mean: mean.0,
            var: var.0,
            xhat: xhat.0,
            out: owner,
            gamma: oriented[0],
            sigma,
            axis,
            spatial: false,
            count,
            eps,
        });
        let _ = func;
        Ok(out)
    }

    /// The stages of a normalization, each of μ, σ² and x̂ written out as a
    /// named intermediate: μ = Σ X / n and σ² = Σ (X − μ)² / n, `sum`
    /// totalling the `count` entries of each statistic (along an axis of a
    /// matrix, or over a map's N, H, W), and x̂ = (X − μ) ⊘ σ with
    /// σ = sqrt(σ² + ε), which is returned too.
    pub(super) fn norm_stages(
        &mut self,
        x: NodeId,
        sum: impl Fn(&mut Graph, NodeId) -> NodeId,
        count: usize,
        eps: &BigRational,
        span: Span,
    ) -> NormStages {
        let g = &mut self.graph;
        let n = g.int(count as i64);
        let total = sum(g, x);
        let mean_def = g.div(total, n);
        let mean = self.write_out("mu", mean_def, span);
        let g = &mut self.graph;
        let centered = g.sub(x, mean.1);
        let squares = g.pow(centered, BigRational::from_integer(2.into()));
        let total = sum(g, squares);
        let var_def = g.div(total, n);
        let var = self.write_out("var", var_def, span);
        let g = &mut self.graph;
        let eps_node = g.constant(eps.clone());
        let shifted = g.add(var.1, eps_node);
        let sigma = g.apply(Func::Builtin(Elementwise::Sqrt), vec![shifted]);
        let xhat_def = g.div(centered, sigma);
        let xhat = self.write_out("xhat", xhat_def, span);
        NormStages { mean, var, sigma, xhat }
    }

    /// The input of a normalization: a named tensor.
    fn norm_input(&self, name: &'static str, arg: &ast::Expr) -> Result<TensorId, Error> {
        match &unparen(arg).kind {
            ExprKind::Name(n) => Ok(TensorId(self.tensors.get_index_of(&n.name).expect("built, so declared") as u32)),
            _ => {
                let found = crate::syntax::expr_text(arg);
                Err(layer_error(LayerArgError::NormInputNotNamed { func: name, found }, arg.span))
            }
        }
    }

    /// ε of a normalization: the `eps` keyword, a positive number, else 1e-5.
    fn norm_eps(&mut self, name: &'static str, keywords: &[ast::KeywordArg]) -> Result<BigRational, Error> {
        let Some(k) = keywords.iter().find(|k| k.name.name == "eps") else { return Ok(default_eps()) };
        let node = self.build(&k.value, &Scope::Equation)?;
        match self.graph.as_const(node) {
            Some(e) if e > &BigRational::zero() => Ok(e.clone()),
            other => {
                let found = match other {
                    Some(e) => super::decimal(e),
                    None => format!("`{}`", crate::syntax::expr_text(&k.value)),
                };
                Err(layer_error(LayerArgError::EpsNotPositive { func: name, found }, k.value.span))
            }
        }
    }

    /// `attention(Q, K, V)`: scaled dot-product attention on rows, written
    /// out as the equations `S = Q Kᵀ / sqrt(d)` and `A = softmax(S)` (each
    /// row over the keys) and the output `A V`, so that reverse mode gives
    /// the textbook steps: ∂L/∂V = Aᵀ G, ∂L/∂A = G Vᵀ, ∂L/∂S by d-softmax,
    /// then ∂L/∂Q and ∂L/∂K through the product.
    ///
    /// With `mask = M` (a const of 0s and 1s, `[T, S]`) the softmax of each
    /// row is over the keys M keeps, as if the masked scores were −∞: their
    /// weights are exactly 0, which no finite score could give, so the
    /// graph has a softmax node that takes the mask rather than a score
    /// made very negative.
    pub(super) fn attention(
        &mut self,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: &[NodeId],
        span: Span,
    ) -> Result<NodeId, Error> {
        let (q, k, v) = (built[0], built[1], built[2]);
        let matrix = |s: &Shape| s.rank() == 2 && s.as_matrix().is_some();
        let (sq, sk, sv) = (self.graph.shape(q).clone(), self.graph.shape(k).clone(), self.graph.shape(v).clone());
        let fits = matrix(&sq)
            && matrix(&sk)
            && matrix(&sv)
            && sq.axis_len(Axis::ACROSS) == sk.axis_len(Axis::ACROSS)
            && sk.axis_len(Axis::DOWN) == sv.axis_len(Axis::DOWN);
        if !fits {
            return Err(layer_error(LayerArgError::AttentionShapes { q: sq, k: sk, v: sv }, span));
        }
        let _ = args;
        let (queries, keys) = (sq.axis_len(Axis::DOWN), sk.axis_len(Axis::DOWN));
        let mask = match keywords.iter().find(|k| k.name.name == "mask") {
            Some(kw) => Some(self.attention_mask(&kw.value, queries, keys)?),
            None => None,
        };
        let d = sq.axis_len(Axis::ACROSS);
        let g = &mut self.graph;
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
        let scores = self.write_out("S", scores, span);
        let weights = match mask {
            Some(m) => self.graph.masked_softmax(scores.1, m, Axis::ACROSS),
            None => self.graph.softmax(scores.1, Axis::ACROSS),
        };
        let weights = self.write_out("A", weights, span);
        Ok(self.graph.matmul(weights.1, v))
    }

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

    /// The mask of `attention`: a const of 0s and 1s of the scores' shape
    /// `[queries, keys]` that keeps at least one key in every row.
    fn attention_mask(&mut self, arg: &ast::Expr, queries: usize, keys: usize) -> Result<NodeId, Error> {
        let values = self.score_mask("attention", arg)?;
        let node = self.build(arg, &Scope::Equation)?;
        let shape = self.graph.shape(node).clone();
        if shape.rank() != 2 || shape.as_matrix() != Some((queries, keys)) {
            let mask = crate::syntax::expr_text(arg);
            let error = LayerArgError::AttentionMaskShape { mask, mask_shape: shape, queries, keys };
            return Err(layer_error(error, arg.span));
        }
        let values = values.unwrap_or_default();
        let empty = |t: usize| values.get(t * keys..(t + 1) * keys).is_some_and(|row| row.iter().all(Zero::is_zero));
        if let Some(row) = (0..queries).find(|&t| empty(t)) {
            let name = crate::syntax::expr_text(arg);
            return Err(layer_error(LayerArgError::AttentionMaskRowEmpty { name, row, keys }, arg.span));
        }
        Ok(node)
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

/// The whole square root of `n`, if it has one (√4 = 2 keeps values exact).
fn exact_sqrt(n: usize) -> Option<usize> {
    (0..=n).find(|r| r * r >= n).filter(|r| r * r == n)
}

/// A call of a layer with a module of its own, as its
/// [`LayerOp::expand`](crate::model::ops::layer::LayerOp::expand) sees it.
pub(super) struct Call<'c, 'a> {
    pub(super) checker: &'c mut Checker<'a>,
    pub(super) args: &'c [ast::Expr],
    pub(super) keywords: &'c [ast::KeywordArg],
    pub(super) built: &'c [NodeId],
}

impl LayerCall for Call<'_, '_> {
    fn operands(&self) -> &[NodeId] {
        self.built
    }

    fn operand_source(&self, i: usize) -> &ast::Expr {
        &self.args[i]
    }

    fn named_tensor(&self, i: usize) -> Option<&NamedTensor> {
        match &unparen(&self.args[i]).kind {
            ExprKind::Name(n) => self.checker.tensors.get(&n.name),
            _ => None,
        }
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
}
