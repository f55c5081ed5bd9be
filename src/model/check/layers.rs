//! Checking the layers that regularise and normalise: `dropout` (and, with
//! it, the errors of their arguments). Each is built from the graph's
//! ordinary operations, so the derivation, the evaluator and every writer
//! know it already; what is checked here is what the formulas cannot say
//! (a mask of 0s and 1s, a keep-probability in (0, 1]).

use num_rational::BigRational;
use num_traits::{One, Zero};

use super::super::error::{Error, ErrorKind};
use super::super::expr::NodeId;
use super::super::expr::TensorId;
use super::super::func::{Axis, Elementwise, Func};
use super::super::norm::{NormKind, NormLayer};
use super::super::shape::Shape;
use super::super::{NamedTensor, Role};
use super::{Checker, Scope};
use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{self, ExprKind};
use crate::syntax::Span;

/// What is wrong with an argument of `dropout` (and the normalisation layers).
#[derive(Clone, Debug, PartialEq)]
pub enum LayerArgError {
    /// `dropout(H, M)` where `M` is not a `const` with a value (an input,
    /// a parameter, an expression): the mask is fixed data.
    MaskNotConst { found: String },
    /// `const M[2,2] = [[1, 0.5], [0, 1]]` as a dropout mask: every entry
    /// keeps (1) or drops (0) its unit.
    MaskNotBinary { name: String, entry: String, value: String },
    /// `dropout(H, M)` with H `[2, 2]` and M `[2, 3]`: one mask entry per unit.
    MaskShape { mask: String, mask_shape: Shape, shape: Shape },
    /// `dropout(H, M, keep = 1.2)` or `keep = 0`: the probability of keeping
    /// a unit is in (0, 1].
    KeepOutOfRange { found: String },
    /// `batchnorm(X @ W, gamma, beta)`: the input of a normalization is a
    /// named tensor, whose gradient the closed form states.
    NormInputNotNamed { func: &'static str, found: String },
    /// `batchnorm(z, gamma, beta)` with z a vector `[3]`, or a map `[C,H,W]`:
    /// a normalization works on a batch, one example per row or column.
    NormRank { func: &'static str, shape: Shape },
    /// `batchnorm(Z, gamma, beta)` with Z `[4, 3]` (rows) and gamma `[2]`:
    /// gamma and beta hold one entry per feature.
    NormParamShape { func: &'static str, name: String, shape: Shape, features: usize, rows: bool },
    /// `H = relu(batchnorm(Z, gamma, beta))`: a normalization is an
    /// equation of its own, so that G = ∂L/∂out names its output.
    NormNotWholeEquation { func: &'static str, call: String },
    /// `attention(Q, K, V)` with Q `[3, 4]` and K `[3, 2]`: queries and keys
    /// are rows of one length d, and K and V have one row per key.
    AttentionShapes { q: Shape, k: Shape, v: Shape },
    /// `attention(Q, K, V, mask = M)`: masked attention is not supported yet.
    AttentionMaskNotYet,
    /// `batchnorm(Z, gamma, beta, eps = 0)`: ε keeps the division defined.
    EpsNotPositive { func: &'static str, found: String },
}

impl LayerArgError {
    /// The located message, for [`Error::diagnostic`].
    pub fn diagnostic(&self, span: Option<Span>) -> Diagnostic {
        match self {
            LayerArgError::MaskNotConst { found } => {
                Diagnostic::new(format!("the mask of dropout must be a `const` with a value, but {found}"), span)
                    .with_label("not a const mask")
                    .with_help("declare the mask as fixed data of 0s and 1s with X's shape, as in `const M[2,3] = [[1, 0, 1], [1, 1, 0]]`")
            }
            LayerArgError::MaskNotBinary { name, entry, value } => Diagnostic::new(
                format!("the dropout mask '{name}' must hold only 0s and 1s, but {entry} is {value}"),
                span,
            )
            .with_label("not a mask of 0s and 1s")
            .with_help("write 1 for a unit that is kept and 0 for one that is dropped; the division by `keep` is dropout's own"),
            LayerArgError::MaskShape { mask, mask_shape, shape } => Diagnostic::new(
                format!("the dropout mask '{mask}' is {mask_shape}, but what it masks is {shape}"),
                span,
            )
            .with_label(format!("this is {mask_shape}"))
            .with_help(format!("give the mask the shape {shape}: one entry, 0 or 1, per unit")),
            LayerArgError::NormInputNotNamed { func, found } => Diagnostic::new(
                format!("the input of {func} must be a named tensor, but `{found}` is an expression"),
                span,
            )
            .with_label("not a name")
            .with_help(format!("name it first, as in `Z = {found}` and then `{func}(Z, gamma, beta)`: its gradient is the one the closed form gives")),
            LayerArgError::NormRank { func, shape } => Diagnostic::new(
                format!("{func} works on a batch of examples, a matrix [N, D] (rows) or [D, N] (columns), but this is {shape}"),
                span,
            )
            .with_label(format!("this is {shape}"))
            .with_help("normalize a matrix with one example per row or per column; spatial batch normalization of [N, C, H, W] feature maps is not supported yet"),
            LayerArgError::NormParamShape { func, name, shape, features, rows } => {
                let (row, column) = (format!("[1, {features}]"), format!("[{features}]"));
                let layout = if *rows { "examples as rows" } else { "examples as columns" };
                Diagnostic::new(
                    format!("'{name}' of {func} must hold one entry per feature ({features}, {layout}), but it is {shape}"),
                    span,
                )
                .with_label(format!("this is {shape}"))
                .with_help(format!("declare it as {row} or {column}"))
            }
            LayerArgError::NormNotWholeEquation { func, call } => Diagnostic::new(
                format!("{func} must be the whole right-hand side of an equation"),
                span,
            )
            .with_label("inside a larger expression")
            .with_help(format!(
                "give it an equation of its own, as in `B = {call}`, and use B: its gradient ∂L/∂B is the G of the closed form"
            )),
            LayerArgError::AttentionShapes { q, k, v } => Diagnostic::new(
                format!("attention takes queries Q [T, d], keys K [S, d] and values V [S, dv], one per row, but Q is {q}, K is {k} and V is {v}"),
                span,
            )
            .with_label("shapes that do not fit")
            .with_help("give Q and K the same number of columns d, and K and V the same number of rows"),
            LayerArgError::AttentionMaskNotYet => Diagnostic::new("masked attention is not supported yet", span)
                .with_label("a mask")
                .with_help("leave the mask out for attention over every key; a causal or padding mask is not a layer nnderive derives yet"),
            LayerArgError::EpsNotPositive { func, found } => {
                Diagnostic::new(format!("eps of {func} must be a positive number, but it is {found}"), span)
                    .with_label("not a positive number")
                    .with_help(format!("write it as a number, as in `{func}(Z, gamma, beta, eps = 0.00001)`"))
            }
            LayerArgError::KeepOutOfRange { found } => {
                Diagnostic::new(format!("keep is the probability of keeping a unit, in (0, 1], but it is {found}"), span)
                    .with_label("not in (0, 1]")
                    .with_help("write it as a number, as in `dropout(H, M, keep = 0.8)`; `keep = 1` keeps every unit")
            }
        }
    }
}

fn layer_error(error: LayerArgError, span: Span) -> Error {
    Error::new(ErrorKind::LayerArgument(error), span)
}

/// The keep-probability of dropout when the file gives none, as CS231n's
/// and PyTorch's examples often use (PyTorch's `p = 0.2` drops).
fn default_keep() -> BigRational {
    BigRational::new(4.into(), 5.into())
}

/// ε of a normalization when the file gives none: 1e-5, as CS231n and PyTorch.
fn default_eps() -> BigRational {
    BigRational::new(1.into(), 100_000.into())
}

impl Checker<'_> {
    /// `dropout(X, M, keep = 0.8)`: inverted dropout with the given mask,
    /// `X ⊙ M / keep`, so that the expected activation is unchanged and the
    /// gradient is `∂L/∂out ⊙ M / keep` by the product and quotient rules.
    pub(super) fn dropout(
        &mut self,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: &[NodeId],
    ) -> Result<NodeId, Error> {
        let (x, m) = (built[0], built[1]);
        self.dropout_mask(&args[1])?;
        if !self.graph.shape(x).same_as(self.graph.shape(m)) {
            let error = LayerArgError::MaskShape {
                mask: crate::syntax::expr_text(&args[1]),
                mask_shape: self.graph.shape(m).clone(),
                shape: self.graph.shape(x).clone(),
            };
            return Err(layer_error(error, args[1].span));
        }
        let keep = match keywords.iter().find(|k| k.name.name == "keep") {
            Some(k) => {
                let node = self.build(&k.value, &Scope::Equation)?;
                match self.graph.as_const(node) {
                    Some(p) if p > &BigRational::zero() && p <= &BigRational::one() => p.clone(),
                    Some(p) => {
                        let found = super::decimal(p);
                        return Err(layer_error(LayerArgError::KeepOutOfRange { found }, k.value.span));
                    }
                    None => {
                        let found = format!("`{}`, not a number", crate::syntax::expr_text(&k.value));
                        return Err(layer_error(LayerArgError::KeepOutOfRange { found }, k.value.span));
                    }
                }
            }
            None => default_keep(),
        };
        let g = &mut self.graph;
        let kept = g.mul(x, m);
        let keep = g.constant(keep);
        Ok(g.div(kept, keep))
    }

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
        let Some((rows, cols)) = shape.as_matrix().filter(|_| shape.rank() == 2) else {
            return Err(layer_error(LayerArgError::NormRank { func: name, shape }, args[0].span));
        };
        let input = match &unparen(&args[0]).kind {
            ExprKind::Name(n) => TensorId(self.tensors.get_index_of(&n.name).expect("built, so declared") as u32),
            _ => {
                let found = crate::syntax::expr_text(&args[0]);
                return Err(layer_error(LayerArgError::NormInputNotNamed { func: name, found }, args[0].span));
            }
        };
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
        let eps = match keywords.iter().find(|k| k.name.name == "eps") {
            Some(k) => {
                let node = self.build(&k.value, &Scope::Equation)?;
                match self.graph.as_const(node) {
                    Some(e) if e > &BigRational::zero() => e.clone(),
                    other => {
                        let found = match other {
                            Some(e) => super::decimal(e),
                            None => format!("`{}`", crate::syntax::expr_text(&k.value)),
                        };
                        return Err(layer_error(LayerArgError::EpsNotPositive { func: name, found }, k.value.span));
                    }
                }
            }
            None => default_eps(),
        };
        let axis = match kind {
            NormKind::Batch => features.other(),
            NormKind::Layer => features,
        };
        if kind == NormKind::Batch {
            self.note_batch(crate::model::Batch { examples: axis, size: shape.axis_len(axis) });
        }
        let count = shape.axis_len(axis);
        let g = &mut self.graph;
        let n = g.int(count as i64);
        let total = g.sum_axis(x, axis);
        let mean_def = g.div(total, n);
        let mean = self.write_out("mu", mean_def, span);
        let g = &mut self.graph;
        let centered = g.sub(x, mean.1);
        let squares = g.pow(centered, BigRational::from_integer(2.into()));
        let total = g.sum_axis(squares, axis);
        let var_def = g.div(total, n);
        let var = self.write_out("var", var_def, span);
        let g = &mut self.graph;
        let eps_node = g.constant(eps.clone());
        let shifted = g.add(var.1, eps_node);
        let sigma = g.apply(Func::Builtin(Elementwise::Sqrt), vec![shifted]);
        let xhat_def = g.div(centered, sigma);
        let xhat = self.write_out("xhat", xhat_def, span);
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
            count,
            eps,
        });
        let _ = func;
        Ok(out)
    }

    /// `attention(Q, K, V)`: scaled dot-product attention on rows, written
    /// out as the equations `S = Q Kᵀ / sqrt(d)` and `A = softmax(S)` (each
    /// row over the keys) and the output `A V`, so that reverse mode gives
    /// the textbook steps: ∂L/∂V = Aᵀ G, ∂L/∂A = G Vᵀ, ∂L/∂S by d-softmax,
    /// then ∂L/∂Q and ∂L/∂K through the product.
    pub(super) fn attention(
        &mut self,
        args: &[ast::Expr],
        keywords: &[ast::KeywordArg],
        built: &[NodeId],
        span: Span,
    ) -> Result<NodeId, Error> {
        if let Some(k) = keywords.iter().find(|k| k.name.name == "mask") {
            return Err(layer_error(LayerArgError::AttentionMaskNotYet, k.name.span));
        }
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
        let weights = self.graph.softmax(scores.1, Axis::ACROSS);
        let weights = self.write_out("A", weights, span);
        Ok(self.graph.matmul(weights.1, v))
    }

    /// Adds an equation `base = definition` that a layer writes out, named
    /// `base` when that name is free (else `base_2`, …), placed just before
    /// the equation being built; returns it and the node that names it.
    fn write_out(&mut self, base: &str, definition: NodeId, span: Span) -> (TensorId, NodeId) {
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
        let tensor = NamedTensor {
            name: name.clone(),
            role: Role::Intermediate,
            shape: shape.clone(),
            value: None,
            definition: Some(definition),
            draw: None,
            span,
        };
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

    /// Refuses a mask that is not a `const` of 0s and 1s.
    fn dropout_mask(&self, arg: &ast::Expr) -> Result<(), Error> {
        let tensor = match &unparen(arg).kind {
            ExprKind::Name(n) => self.tensors.get(&n.name),
            _ => None,
        };
        let Some(tensor) = tensor else {
            let found = format!("`{}` is an expression", crate::syntax::expr_text(arg));
            return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
        };
        let values = match (tensor.role, tensor.exact_value()) {
            (Role::Const, Some(values)) => values,
            (Role::Const, None) => {
                let found = format!("'{}' is declared without one", tensor.name);
                return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
            }
            (role, _) => {
                let found = format!("'{}' is {} {}", tensor.name, article(role.name()), role.name());
                return Err(layer_error(LayerArgError::MaskNotConst { found }, arg.span));
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_zero() && !v.is_one()) {
            let dims: Vec<usize> = tensor.shape.dims().to_vec();
            let entry = crate::layout::entry_index(&tensor.name, &unravel(i, &dims));
            let value = super::decimal(&values[i]);
            let name = tensor.name.clone();
            return Err(layer_error(LayerArgError::MaskNotBinary { name, entry, value }, arg.span));
        }
        Ok(())
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The multi-index of the `i`-th entry in row-major order.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        index[k] = i % d;
        i /= d;
    }
    index
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
