//! The errors of a layer's arguments (`dropout`, the normalizations,
//! `attention`, a pooling's `[height, width]` lists), as data with their
//! messages; the checkers that find them are `check/layers.rs` and
//! `check/window.rs`.

use super::shape::Shape;
use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

/// What is wrong with an argument of `dropout` (and the normalisation layers).
#[derive(Clone, Debug, PartialEq)]
pub enum LayerArgError {
    /// `dropout(H, M)` or `attention(Q, K, V, mask = M)` where `M` is not a
    /// `const` with a value (an input, a parameter, an expression): the
    /// mask is fixed data.
    MaskNotConst { layer: &'static str, found: String },
    /// `const M[2,2] = [[1, 0.5], [0, 1]]` as a mask: every entry keeps (1)
    /// or drops (0) its unit, or its score.
    MaskNotBinary { layer: &'static str, name: String, entry: String, value: String },
    /// `dropout(H, M)` with H `[2, 2]` and M `[2, 3]`: one mask entry per unit.
    MaskShape { layer: &'static str, mask: String, mask_shape: Shape, shape: Shape },
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
    /// `attention(Q, K, V, mask = M)` with Q `[2, d]`, K `[3, d]` and M not
    /// `[2, 3]`: one mask entry per score, a row per query.
    AttentionMaskShape { mask: String, mask_shape: Shape, queries: usize, keys: usize },
    /// A mask whose row masks every key: that query's softmax is over no
    /// scores at all.
    AttentionMaskRowEmpty { name: String, row: usize, keys: usize },
    /// `softmax(z, mask = m)` where m masks every entry of the vector, or of
    /// a row or column of a matrix (`lane`: whether a row, and which).
    SoftmaxMaskEmpty { name: String, lane: Option<(bool, usize)> },
    /// `batchnorm(X, gamma, beta)` with X `[N, C, H, W]` and gamma not `[C]`:
    /// spatial batch norm scales and shifts each channel.
    SpatialNormParamShape { name: String, shape: Shape, channels: usize },
    /// `batchnorm(Z, gamma, beta, eps = 0)`: ε keeps the division defined.
    /// `operands` spells the call's operands for the help (`Z, gamma, beta`).
    EpsNotPositive { func: &'static str, operands: &'static str, found: String },
    /// `maxpool(X, [2, 3, 4])`: a pooling's size, stride or padding given
    /// as a list holds two entries, the height's and the width's.
    ListLength { what: &'static str, found: usize },
    /// `conv2d(X, K, stride = [2, 3])` or `sum([1, 2])`: a list stands only
    /// as a pooling's size, stride or padding.
    ListNotAllowed { what: String },
    /// `conv2d(A, W, layout = nwhc)`: a map keeps its channels first (`nchw`)
    /// or last (`nhwc`); `suggestion` is the nearer word, if any.
    UnknownLayout { func: String, found: String, suggestion: Option<String> },
    /// `conv2d(A, W, b, layout = nhwc)` (or `conv2d(A, W, layout = nhwc) + b`)
    /// with the output `[N, H', W', F]` whose height H' is F too, and `b`
    /// `[F]`: a vector `[F]` beside a map goes with the channels-first axis
    /// when that fits, so this bias would be added along the height.
    AmbiguousBias { filters: usize, out: Shape },
}

impl LayerArgError {
    /// The located message, for [`Error::diagnostic`].
    pub fn diagnostic(&self, span: Option<Span>) -> Diagnostic {
        match self {
            LayerArgError::MaskNotConst { layer, found } => {
                let help = match *layer {
                    "attention" => "declare the mask as fixed data of 0s and 1s, one row per query and one column per key, as in the causal `const M[3,3] = [[1, 0, 0], [1, 1, 0], [1, 1, 1]]`",
                    _ => "declare the mask as fixed data of 0s and 1s with X's shape, as in `const M[2,3] = [[1, 0, 1], [1, 1, 0]]`",
                };
                Diagnostic::new(format!("the mask of {layer} must be a `const` with a value, but {found}"), span)
                    .with_label("not a const mask")
                    .with_help(help)
            }
            LayerArgError::MaskNotBinary { layer, name, entry, value } => Diagnostic::new(
                format!("the {layer} mask '{name}' must hold only 0s and 1s, but {entry} is {value}"),
                span,
            )
            .with_label("not a mask of 0s and 1s")
            .with_help(match *layer {
                "attention" => "write 1 for a score that is kept and 0 for one that is masked (its weight becomes 0, as a score of −∞ would give)",
                _ => "write 1 for a unit that is kept and 0 for one that is dropped; the division by `keep` is dropout's own",
            }),
            LayerArgError::MaskShape { layer, mask, mask_shape, shape } => Diagnostic::new(
                format!("the {layer} mask '{mask}' is {mask_shape}, but what it masks is {shape}"),
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
            .with_help(match *func {
                "batchnorm" => "normalize a matrix with one example per row or per column, or a batch of feature maps [N, C, H, W] (spatial batch norm, per channel)",
                _ => "normalize a matrix with one example per row or per column",
            }),
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
            LayerArgError::AttentionMaskShape { mask, mask_shape, queries, keys } => Diagnostic::new(
                format!("the attention mask '{mask}' is {mask_shape}, but the scores Q Kᵀ are [{queries}, {keys}]: one row per query, one column per key"),
                span,
            )
            .with_label(format!("this is {mask_shape}"))
            .with_help(format!("give the mask the shape [{queries}, {keys}]: entry [t, s] is 1 where query t may attend to key s, 0 where it may not")),
            LayerArgError::AttentionMaskRowEmpty { name, row, keys } => Diagnostic::new(
                format!("row {} of the attention mask '{name}' (NumPy row {row}) masks every one of the {keys} keys, so that query's softmax is over no scores at all: its weights would be 0/0", row + 1),
                span,
            )
            .with_label("a query with no key to attend to")
            .with_help("keep at least one key in every row (a causal mask keeps the diagonal, so each query sees itself)"),
            LayerArgError::SoftmaxMaskEmpty { name, lane } => {
                let which = match lane {
                    None => "every entry".to_string(),
                    Some((true, i)) => format!("every entry of row {} (NumPy row {i})", i + 1),
                    Some((false, i)) => format!("every entry of column {} (NumPy column {i})", i + 1),
                };
                Diagnostic::new(
                    format!("the softmax mask '{name}' masks {which}, so that softmax is over no entries at all: its values would be 0/0"),
                    span,
                )
                .with_label("nothing left to normalize")
                .with_help("keep at least one entry (a 1 in the mask) in every softmax")
            }
            LayerArgError::SpatialNormParamShape { name, shape, channels } => Diagnostic::new(
                format!("'{name}' of spatial batchnorm must hold one entry per channel ({channels}), but it is {shape}"),
                span,
            )
            .with_label(format!("this is {shape}"))
            .with_help(format!("declare it as [{channels}]: batch norm of maps [N, C, H, W] scales and shifts each channel")),
            LayerArgError::EpsNotPositive { func, operands, found } => {
                Diagnostic::new(format!("eps of {func} must be a positive number, but it is {found}"), span)
                    .with_label("not a positive number")
                    .with_help(format!("write it as a number, as in `{func}({operands}, eps = 0.00001)`"))
            }
            LayerArgError::ListLength { what, found } => Diagnostic::new(
                format!("{what} of a pooling is one number or a list of two, [height, width], but this list has {found}"),
                span,
            )
            .with_label(format!("{found} entr{}", if *found == 1 { "y" } else { "ies" }))
            .with_help("write `[2, 3]` for a window 2 high and 3 wide (PyTorch's kernel_size=(2, 3)), or one number for a square"),
            LayerArgError::ListNotAllowed { what } => Diagnostic::new(format!("{what} cannot be a list"), span)
                .with_label("a list")
                .with_help("lists [height, width] are only for a pooling's window, stride and pad, as in `maxpool(X, [2, 3], stride = [2, 3])`; conv2d takes one stride and one padding for both axes"),
            LayerArgError::UnknownLayout { func, found, suggestion } => {
                let diag = Diagnostic::new(format!("{func}: '{found}' is not a layout of feature maps"), span)
                    .with_label("not nchw or nhwc");
                let known = "`layout = nchw` (channels first, [N, C, H, W], the default) or `layout = nhwc` (channels last, [N, H, W, C])";
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean `{s}`? write {known}")),
                    None => diag.with_help(format!("write {known}")),
                }
            }
            LayerArgError::AmbiguousBias { filters, out } => Diagnostic::new(
                format!(
                    "a vector [{filters}] beside the channels-last map {out} could go with axis {} or with the channels, axis {}, which both have {filters} entries",
                    out.rank().saturating_sub(3),
                    out.rank().saturating_sub(1)
                ),
                span,
            )
            .with_label("which axis?")
            .with_help(format!(
                "declare the vector as [{}{filters}] (deeplearning.ai's shape for a bias), which NumPy and nnderive add along the last axis, the channels",
                "1, ".repeat(out.rank().saturating_sub(1))
            )),
            LayerArgError::KeepOutOfRange { found } => {
                Diagnostic::new(format!("keep is the probability of keeping a unit, in (0, 1], but it is {found}"), span)
                    .with_label("not in (0, 1]")
                    .with_help("write it as a number, as in `dropout(H, M, keep = 0.8)`; `keep = 1` keeps every unit")
            }
        }
    }
}
