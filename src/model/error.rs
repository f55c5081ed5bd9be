//! Errors of the checker: each one a kind plus the place it points at.

use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

use super::func::MapLayout;
use super::names::{Notation, Printed};
use super::optimizer::{Kind, Range, Setting, StateArg, KINDS};
use super::shape::{LayerShapeError, Shape};
use super::Role;

/// A checking error.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// Boxed: some kinds carry two shapes, and errors travel through every `?`.
    pub kind: Box<ErrorKind>,
    pub span: Option<Span>,
}

/// What went wrong. Each variant's doc gives an input that produces it.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// A file with no statements at all (an empty file, or only comments).
    EmptyFile,
    /// `Z = W @ q` where nothing declares or defines `q`.
    UnknownName { name: String, suggestion: Option<String> },
    /// `H = fx(Z1)` where `fx` is neither a built-in nor a `fn`; `args` are
    /// the arguments as written, for the help (`ln(z)`: write `log(z)`).
    UnknownFunction { name: String, suggestion: Option<String>, args: Vec<String> },
    /// `G = x^T`: a transpose written as a power (`base` is `x`).
    TransposeAsPower { base: String },
    /// `loss L = cross_entropy(yhat, y)` where `yhat` is computed by the
    /// network and `y` is data: the target comes first.
    LossArgumentsSwapped { func: String, first: Operand, second: Operand, first_text: String, second_text: String },
    /// `target y = 1` with `loss L = mse(y, yhat)` where `yhat` is `[1]`: a
    /// scalar against one entry; `rewrite` declares the data side to match
    /// (`target y[1] = [1]`).
    LossScalarAgainstOneEntry { func: String, left: Operand, right: Operand, rewrite: String },
    /// `param W[2]` twice, or an equation named like a declared tensor.
    Duplicate { name: String, first: Span },
    /// `yhat = softmax(Z)` and `y_hat = …`: two names that a writer shows
    /// alike (both ŷ); also `Z2` and `Z_2` (both `Z_{2}` in LaTeX), a
    /// tensor `h_t` and the sequence `h[t]` (both `h_t`), `fn f2` and
    /// `fn f_2`, or `fn f(a1, a_1)`. `name` is the later of the two.
    PrintsAlike { name: Printed, other: Printed, shown: String, notation: Notation, first: Span },
    /// `Z = W1 @ b1` with incompatible shapes (`op` is the operator).
    ShapeMismatch { op: String, left: Operand, right: Operand },
    /// `softmax(W1)` on a matrix, or `.T` on a rank-3 tensor.
    WrongRank { what: String, shape: Shape, expected: &'static str },
    /// `relu(a, b)`: a function called with the wrong number of arguments.
    /// `args` are the arguments as written, for the help (`sum(a, b)`:
    /// write `sum(a) + sum(b)`).
    WrongArity { func: String, expected: usize, found: usize, args: Vec<String> },
    /// `x ^ y` where the exponent is not a number.
    ExponentNotNumber,
    /// `loss L = Z1` where `Z1` is not a scalar.
    LossNotScalar { shape: Shape },
    /// A file with equations but no `loss` statement.
    NoLoss,
    /// Two `loss` statements.
    SecondLoss { first: Span },
    /// `layout rows` and then `layout columns` (or the same twice).
    SecondLayout { first: Span },
    /// `Z = X @ W + b` with `X`, `W` inputs of shapes `[2,2]` and `b[2]`:
    /// the vector fits as a column and as a row of the square matrix, and
    /// neither a `layout` statement nor a product with a parameter says
    /// which.
    /// `vector_first` when the vector is the left operand.
    VectorReadEitherWay { op: String, vector: Operand, matrix: Operand, vector_first: bool },
    /// `A = B + 1` and `B = A * 2`: equations that depend on each other.
    Cycle { names: Vec<String> },
    /// `fn f(t) = t * W1`: a function body naming something other than its parameters.
    FnUsesTensor { func: String, name: String },
    /// `fn f(t) = f(t) + 1`, or a call to a `fn` defined further down.
    FnNotYetDefined { func: String, called: String, recursive: bool },
    /// `fn f(t) = softmax(t)`: only elementwise built-ins belong in a scalar function.
    NotElementwise { func: String, called: String },
    /// `fn relu(t) = t`: a `fn` may not take a built-in's name.
    ShadowsBuiltin { name: String },
    /// `fn f(t, t) = t`.
    DuplicateParam { name: String, first: Span },
    /// `H = f` where `f` is a function, not a tensor.
    FunctionAsValue { name: String },
    /// `Z = x(1)` where `x` is a tensor, not a function.
    TensorAsFunction { name: String },
    /// `input x[0]`.
    ZeroDim,
    /// `param W[100000, 100000]`: more entries than nnderive will allocate.
    TooLarge { entries: u128, limit: usize },
    /// `conv2d(X, K, pad = 4095)` with X `[1, 1, 1]` and K `[1, 1, 4096, 4096]`:
    /// the input padded on every side (X̃, which the kernels slide over) has
    /// more entries than a tensor may.
    PaddedTooLarge { entries: u128, pad: usize, limit: usize },
    /// `input x[3] = [1, 2]`: the literal does not match the declared dims.
    LiteralShape { expected: String, found: String },
    /// `train sgd(lr = 0.1)` twice.
    SecondTrain { first: Span },
    /// `train adagrad(lr = 0.1)`: an optimizer nnderive does not know
    /// (`train sgd_momentum(lr = 0.1)` suggests `momentum`).
    UnknownOptimizer { name: String, suggestion: Option<String> },
    /// `train sgd(rate = 0.1)`, or `train adam(lr = 0.001, beta = 0.9)`;
    /// `train sgd(lr = 0.1, momentum = 0.9)` has a `rewrite`, the statement
    /// as nnderive writes it (`train momentum(lr = 0.1, beta = 0.9)`).
    UnknownTrainArg { optimizer: &'static Kind, name: String, suggestion: Option<String>, rewrite: Option<String> },
    /// `train sgd()` without `lr`.
    MissingLearningRate { optimizer: &'static str },
    /// `train sgd(lr = 0)`.
    LearningRateNotPositive,
    /// `train adam(lr = 0.001, beta1 = 0.9, beta1 = 0.8)`.
    DuplicateSetting { optimizer: &'static str, name: String, first: Span },
    /// `train momentum(lr = 0.1, beta = 1)` or `train adam(lr = 0.001, eps = 0)`.
    SettingOutOfRange { optimizer: &'static str, setting: Setting },
    /// `train sgd(lr = 0.1, steps = 0.5)`.
    BadSteps { limit: u32 },
    /// `train sgd(lr = w0)`: a setting given a tensor's name.
    SettingNeedsNumber { optimizer: &'static str, setting: Setting },
    /// `train momentum(lr = 0.1, velocity = 0)`: a state given a number.
    StateNeedsTensors { optimizer: &'static str, part: StateArg },
    /// `train sgd(lr = 0.1, velocity = v0)`: a part of another optimizer's state.
    StateOfOtherOptimizer { optimizer: &'static Kind, name: String, owner: &'static str },
    /// `train momentum(lr = 0.1, velocity = v9)` without a `const v9`, or
    /// with `v9` a `param` (`role`).
    StateNotConst { name: String, role: Option<Role>, suggestion: Option<String> },
    /// `train momentum(lr = 0.1, velocity = v0)` with `v0` of another shape than the parameter.
    StateShape { setting: &'static str, name: String, shape: Shape, param: String, param_shape: Shape },
    /// `train momentum(lr = 0.1, velocity = v0)` with two parameters, or
    /// `velocity = [v1, v2, v3]` with two.
    StateCount { setting: &'static str, given: usize, params: Vec<String> },
    /// `train adam(lr = 0.01, t = -1)` or `t = 2.5`.
    BadTaken { name: &'static str, limit: u32 },
    /// `train sgd(lr = 0.1)` in a file without any `param`.
    NothingToTrain,
    /// `loss L = sum(x)` where the loss depends on no parameter at all.
    LossIgnoresParams,
    /// A value given from outside the file (`given={"W3": ...}` in Python)
    /// for a name the file does not declare.
    GivenUnknown { name: String, suggestion: Option<String> },
    /// A value given from outside the file for `H`, which an equation defines.
    GivenNotData { name: String },
    /// A value of shape [4, 3] given from outside the file for `param W1[3,4]`.
    GivenShape { name: String, declared: Shape, given: Shape },
    /// A value given from outside the file for `W`, declared `shape`, that
    /// holds something other than finite numbers in even rows:
    /// `given={"W": [[1, 2], [3]]}` or `{"w": float("nan")}` in Python.
    GivenFault { name: String, shape: Shape, fault: GivenFault },
    /// `--cases y=random`: a kind of cases nnderive does not know.
    CasesKind { found: String },
    /// `--cases W1=onehot`: one-hot cases need a vector `[n]`.
    CasesShape { name: String, shape: Shape },
    /// `--cases y=onehot` for `target y[1000]`: more classes than
    /// [`super::given::MAX_CASES`], each a whole solve shown side by side.
    CasesTooMany { name: String, classes: usize, limit: usize },
    /// `maxpool(A, 2, padding = 1)`: a keyword argument the function does not take.
    UnknownKeyword { func: String, name: String, allowed: &'static [&'static str] },
    /// `conv2d(X, K, stride = 1, stride = 2)`.
    DuplicateKeyword { name: String, first: Span },
    /// `conv2d(X, K, stride = 1.5)` or `maxpool(A, 0)`: strides, paddings and
    /// windows are whole numbers written as literals.
    BadLayerArg { what: &'static str, min: usize, max: usize },
    /// `maxpool(A, 2, ceil = 1)`: a switch is `true` or `false`.
    BadSwitch { what: &'static str },
    /// `conv2d(X, K, stride = 2)` with X `[1, 6, 6]` and K `[1, 1, 3, 3]`: the
    /// output size (6 − 3)/2 + 1 is not whole; also a window larger than its
    /// input, wrong ranks, or a channel count that differs. `pad` is conv2d's.
    LayerShape { func: String, error: LayerShapeError, operands: Vec<Operand>, pad: usize },
    /// `steps t = 1..3` twice.
    SecondSteps { first: Span },
    /// `steps t = 3..1`, or a range of more than [`super::time::MAX_TIME_STEPS`] steps.
    BadStepRange { first: u64, last: u64, limit: u64 },
    /// `x[t]` in a file without a `steps t = ...` statement.
    NoSteps,
    /// `W[1]` in a file without a `steps` statement: NumPy's row 1, which
    /// nnderive writes as a slice.
    NoStepsInteger { name: String, at: u64 },
    /// `h[s]` when the file says `steps t = 1..3`.
    UnknownIndex { found: String, index: String },
    /// `Z = Wxh @ x[t]`, or `loss L = cross_entropy(y[t], yhat[t])`: `t`
    /// outside a time-indexed equation and outside `sum(… for t)`.
    IndexOutsideTime { index: String },
    /// `h[t] = tanh(W @ h[t-2])` with only `h[0]` given: a step that nothing defines.
    UndefinedStep { name: String, step: i128, at: Option<String>, defined: String },
    /// `Z[t] = W[t] @ x[t]` where `W` is not a sequence.
    NotASequence { name: String },
    /// `Z = W @ x` where `x` is a sequence `x[t]`.
    SequenceWithoutIndex { name: String },
    /// `input x[t][2] = [[1, 0], [0, 1]]` with three steps.
    SequenceRows { name: String, steps: u64, rows: usize },
    /// `h[t+1] = ...` or `input x[t-1][2]`: a sequence is declared and defined at `[t]`.
    OffsetInDefinition,
    /// `steps t = 1..10000` over equations of 1000 nodes each: more than
    /// [`super::time::MAX_UNROLLED_NODES`] once written out step by step.
    UnrolledTooLarge { nodes: u64, limit: u64 },
    /// `relu(x[t] for t)`: only `sum` and `mean` take `… for t`, as their only argument.
    OverOutsideSum { func: String },
    /// `P = softmax(S)` where `S` is a matrix `[2, 3]` (`arg` is `S`) and no
    /// product with a weight shows whether its examples are columns or rows.
    AxisNeeded { func: String, shape: Shape, arg: String },
    /// `softmax(Z, axis = 2)`: a matrix has axes 0 and 1.
    BadAxis,
    /// `dropout(H, M, keep = 1.5)`: an argument of a regularising or
    /// normalising layer that its formulas cannot refuse (each kind's doc
    /// gives its input).
    LayerArgument(super::layer_error::LayerArgError),
    /// A tensor read two ways (channels first by one layer, last by
    /// another), or a vector beside a map that fits two of its axes.
    Axes(super::axes::AxesError),
    /// `softmax(z, axis = 1)` where `z` is a column `[3]`: every row has one entry.
    AxisOfVector { func: String, shape: Shape, axis: usize },
    /// `target c[3] = [2, 0, 3]` as the labels of `cross_entropy(c, P)`
    /// with P `[3, 3]`: labels number the C classes from 0 to C − 1.
    ClassLabel { name: String, value: String, entry: usize, classes: usize, output: Shape },
    /// `a[:, :, 0:2]` where `a` is a matrix `[3, 20]`: more axes than the tensor has.
    SliceRank { name: String, shape: Shape, axes: usize },
    /// `a[:, 0]`: an integer on an axis, which NumPy reads as dropping the
    /// axis; nnderive keeps every axis, so the slice `0:1` is written instead.
    SliceIndex { name: String, axis: usize, at: i64, rank: usize },
    /// `a[:, 0:25]` where `a` is `[3, 20]`: a bound past the axis's length
    /// (a negative bound counts from the end, and may not pass its start).
    SliceOutOfRange { name: String, axis: usize, bound: i64, len: usize },
    /// `a[:, 5:5]` or `a[:, 7:2]`: a slice that keeps no entry.
    SliceEmpty { name: String, axis: usize, start: usize, end: usize },
    /// `a[:, 0:H]` where `H` is not a declared scalar constant holding a whole number.
    SliceBoundNotWhole { name: String },
    /// `a[:, 0:2*H]` where `2*H` passes what nnderive counts.
    SliceBoundTooLarge,
    /// `out = W[x]` where `W` is not a matrix `[V, D]` (a table of V rows).
    LookupTable { name: String, shape: Shape },
    /// `out = W[x]` where `x` is a parameter or computed by the network:
    /// the ids of an embedding lookup are given data (`input` or `const`).
    LookupIdsNotData { ids: String, role: &'static str },
    /// `input x[2] = [1, 7]` as the ids of `W[x]` with `W` `[5, 3]`: an id
    /// that is not a whole number from 0 to V − 1 (`index` is its NumPy index).
    LookupId { ids: String, table: String, value: String, index: Vec<usize>, rows: usize },
    /// `param W[2,2] ~ unifrom(-1, 1)`: a draw rule `nnderive vary` does not know.
    /// `rules` are the usages of the rules there are, to list.
    DrawUnknown { found: String, suggestion: Option<String>, rules: Vec<&'static str> },
    /// `param W[2,2] ~ uniform(1)`, or `~ onehot(2)`: arguments the rule does not take.
    DrawArguments { rule: &'static str, usage: &'static str },
    /// `param W[2,2] ~ uniform(1, -1)`: the low end above the high end.
    DrawEmptyRange { low: String, high: String },
    /// `param W[2,2] ~ uniform(-1, 1, step = 0)`.
    DrawStep { step: String },
    /// `input x[2] ~ fixed` where the file gives x no value to keep.
    DrawFixedWithoutValue { name: String },
    /// `param b ~ onehot` on a scalar (or a tensor of rank 3 or more).
    DrawOneHotShape { name: String, shape: Shape },
}

/// One side of a binary operation, described for an error message.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    /// The tensor's name when the operand is a plain name.
    pub name: Option<String>,
    pub shape: Shape,
    pub span: Span,
}

impl Operand {
    pub(crate) fn describe(&self, side: &str) -> String {
        match &self.name {
            Some(n) => format!("{n} is {}", self.shape),
            None => format!("the {side} side is {}", self.shape),
        }
    }
}

/// What is wrong with a value given from outside the file, as the caller
/// that read it found (a notebook's nested lists, arrays and numbers).
/// Indices count from 0, as NumPy's do.
#[derive(Clone, Debug, PartialEq)]
pub enum GivenFault {
    /// `{"w": float("nan")}`: a number that is not finite; `found` as the caller shows it.
    NotFinite { index: Vec<usize>, found: String },
    /// `{"W": [[1, "a"]]}`: an entry that is not a number.
    NotNumber { index: Vec<usize>, found: String },
    /// `{"w": "1e5000"}`: a decimal whose exponent is past the ±1000 that
    /// a file's numbers may have, so that an exact value stays small.
    ExponentTooLarge { index: Vec<usize>, found: String },
    /// `{"W": [[1, 2], [3]]}`: nested lists whose lengths differ. The item
    /// at `index` has `found` entries where the first at its depth has
    /// `expected` (`None`: a number, not a list).
    Ragged { index: Vec<usize>, expected: Option<usize>, found: Option<usize> },
}

pub use crate::syntax::MAX_ENTRIES;

/// The most errors one run reports, as compilers cap theirs (clang stops at
/// 20): past it, the first ones in the file are kept and the rest counted as
/// left out, so a file of a million bad lines costs no more to report than
/// a hundred.
pub const MAX_ERRORS: usize = 100;

/// Every error the checker found in a file, in file order (errors about the
/// file as a whole last), at most one per place and at most [`MAX_ERRORS`].
/// Never empty once returned by the checker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Errors {
    list: Vec<Error>,
    /// Errors were found past the first [`MAX_ERRORS`] and left out.
    left_out: bool,
}

impl Errors {
    /// Where an error sorts: by its place in the file, errors without a place last.
    fn position(error: &Error) -> usize {
        error.span.map_or(usize::MAX, |s| s.start)
    }

    /// Would an error at `span` be kept? False once [`MAX_ERRORS`] earlier
    /// errors are held, so that work done only for the message (finding a
    /// "did you mean") can be skipped.
    pub(crate) fn keeps(&self, span: Option<Span>) -> bool {
        let at = span.map_or(usize::MAX, |s| s.start);
        self.list.len() < MAX_ERRORS || self.list.last().is_some_and(|last| at < Self::position(last))
    }

    /// Adds `error` in file order. A second error at the same place is
    /// dropped: an equation over time is checked once per step, and its
    /// error is one error of the file.
    pub(crate) fn push(&mut self, error: Error) {
        if error.span.is_some() && self.list.iter().any(|e| e.span == error.span) {
            return;
        }
        let at = Self::position(&error);
        let index = self.list.partition_point(|e| Self::position(e) <= at);
        self.list.insert(index, error);
        if self.list.len() > MAX_ERRORS {
            self.list.pop();
            self.left_out = true;
        }
    }

    /// True only for a collection nothing was pushed to.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many errors are held.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The first error in the file (`None` only for a collection nothing was pushed to).
    pub fn first(&self) -> Option<&Error> {
        self.list.first()
    }

    /// Every error held, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Error> {
        self.list.iter()
    }

    /// True when more errors were found than are held (past [`MAX_ERRORS`]).
    pub fn left_out(&self) -> bool {
        self.left_out
    }
}

impl From<Error> for Errors {
    fn from(error: Error) -> Errors {
        Errors { list: vec![error], left_out: false }
    }
}

impl Error {
    pub fn new(kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, Some(span))
    }

    /// An error about the file as a whole when `span` is `None`.
    pub fn at(kind: ErrorKind, span: Option<Span>) -> Error {
        Error { kind: Box::new(kind), span }
    }

    /// The located, human message for this error.
    pub fn diagnostic(&self) -> Diagnostic {
        use ErrorKind::*;
        let d = |m: String| Diagnostic::new(m, self.span);
        match &*self.kind {
            EmptyFile => Diagnostic::new("the file has no statements", None).with_help(
                "declare tensors, write the forward equations and a `loss`, e.g.\n  input x[2] = [1, 2]\n  param W[1,2] = [[0.5, -0.5]]\n  loss L = sum(W @ x)",
            ),
            UnknownName { name, suggestion } => {
                let diag = d(format!("unknown name '{name}'")).with_label("not declared or defined");
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean '{s}'?")),
                    None => diag.with_help(format!(
                        "declare it (e.g. `input {name}[3]`) or define it with an equation (`{name} = ...`)"
                    )),
                }
            }
            UnknownFunction { name, suggestion, args } => d(format!("unknown function '{name}'"))
                .with_label("no built-in or `fn` has this name")
                .with_help(unknown_function_help(name, suggestion.as_deref(), args)),
            TransposeAsPower { base } => d(format!("`{base}^T` is a power of a tensor named T, not a transpose"))
                .with_label("not a transpose")
                .with_help(format!("write `{base}.T` for the transpose")),
            LossArgumentsSwapped { func, first, second, first_text, second_text } => d(format!(
                "{func} takes the target first and the network's output second, but {first_text} is computed by the network and {second_text} is data"
            ))
            .with_label("arguments in the wrong order")
            .with_related(first.span, "the network's output")
            .with_related(second.span, "the target")
            .with_help(format!("write `{func}({second_text}, {first_text})`")),
            LossScalarAgainstOneEntry { func, left, right, rewrite } => d(format!(
                "shape mismatch in '{func}': {} but {}",
                left.describe("left"),
                right.describe("right")
            ))
            .with_label("a scalar against a vector of one entry")
            .with_related(left.span, format!("this is {}", left.shape))
            .with_related(right.span, format!("this is {}", right.shape))
            .with_help(format!(
                "a scalar and a column [1] differ in nnderive; declare the data with the output's shape: `{rewrite}`"
            )),
            Duplicate { name, first } => d(format!("'{name}' is defined twice"))
                .with_label("defined again here")
                .with_related(*first, "first defined here")
                .with_help("give each tensor, equation and function its own name"),
            PrintsAlike { name, other, shown, notation, first } => {
                let place = if *notation == Notation::Latex { " in LaTeX" } else { "" };
                d(format!("{name} prints as {shown}{place}, like {other}"))
                    .with_label(format!("prints as {shown}"))
                    .with_related(*first, format!("{other} is declared here"))
                    .with_help("rename one of them: a reader could not tell them apart in the formulas")
            }
            ShapeMismatch { op, left, right } => d(format!(
                "shape mismatch in '{op}': {} but {}",
                left.describe("left"),
                right.describe("right")
            ))
            .with_label(format!("{} {op} {}", short(&left.shape), short(&right.shape)))
            .with_related(left.span, format!("this is {}", left.shape))
            .with_related(right.span, format!("this is {}", right.shape))
            .with_help(shape_help(op, left, right)),
            WrongRank { what, shape, expected } => {
                d(format!("{what} needs {expected}, but its argument is {shape}")).with_label(format!("this is {shape}"))
            }
            WrongArity { func, expected, found, args } => d(format!(
                "'{func}' takes {expected} argument{}, but {found} {} given",
                if *expected == 1 { "" } else { "s" },
                if *found == 1 { "was" } else { "were" }
            ))
            .with_label("in this call")
            .with_help_opt(arity_help(func, args)),
            ExponentNotNumber => d("the exponent of '^' must be a number".into())
                .with_label("not a number")
                .with_help("write a constant exponent such as `t^2` or `t^-1`; for other powers use exp and log"),
            LossNotScalar { shape } => d(format!("the loss must be a scalar, but it is {shape}"))
                .with_label("this is not a scalar")
                .with_help("reduce it with sum(...) or mean(...), or use a built-in loss such as cross_entropy(y, yhat)"),
            NoLoss => Diagnostic::new("the file defines no loss", self.span)
                .with_help("add a line such as `loss L = cross_entropy(y, yhat)`"),
            SecondLayout { first } => d("a file has one layout, and this is the second".into())
                .with_label("second layout")
                .with_related(*first, "the layout is stated here")
                .with_help("keep one `layout rows` or `layout columns` statement"),
            VectorReadEitherWay { op, vector, matrix, vector_first } => {
                let v = vector.name.clone().unwrap_or_else(|| "the vector".into());
                let x = matrix.name.clone().unwrap_or_else(|| "the matrix".into());
                let m = vector.shape.dims().first().copied().unwrap_or(0);
                d(format!(
                    "'{op}' of a vector {} and a square matrix {} can be read two ways",
                    vector.shape, matrix.shape
                ))
                .with_label(match vector_first {
                    true => format!("{} {op} {}", short(&vector.shape), short(&matrix.shape)),
                    false => format!("{} {op} {}", short(&matrix.shape), short(&vector.shape)),
                })
                .with_related(vector.span, format!("this is {}", vector.shape))
                .with_related(matrix.span, format!("this is {}", matrix.shape))
                .with_help(format!(
                    "read as a row (NumPy's reading), {v}[j] meets column j of every row of {x}; \
                     read as a column, {v}[i] meets row i of every column; \
                     state the layout with `layout rows` or `layout columns` on a line of its own, \
                     or declare {v} as a row [1,{m}] or a column [{m},1]"
                ))
            }
            SecondLoss { first } => d("a file has one loss, and this is the second".into())
                .with_label("second loss")
                .with_related(*first, "the first loss")
                .with_help("add the terms into one loss: `loss L = a + b`"),
            Cycle { names } => d(format!("these equations depend on each other: {}", cycle_text(names)))
                .with_label("this equation is part of the cycle")
                .with_help("every equation must be computable from earlier values"),
            FnUsesTensor { func, name } => d(format!("function '{func}' uses '{name}', which is not one of its parameters"))
                .with_label("not a parameter")
                .with_help(format!("a `fn` sees only its parameters; pass {name} in as an argument")),
            FnNotYetDefined { func, called, recursive: true } => d(format!("function '{func}' calls itself"))
                .with_label(format!("'{called}' is recursive here"))
                .with_help("a scalar function must be an explicit formula; recursion is not allowed"),
            FnNotYetDefined { func, called, recursive: false } => d(format!(
                "function '{func}' calls '{called}', which is defined further down"
            ))
            .with_label("defined later")
            .with_help(format!("move `fn {called}` above `fn {func}`")),
            NotElementwise { func, called } => d(format!(
                "function '{func}' calls '{called}', which is not an elementwise function"
            ))
            .with_label("not elementwise")
            .with_help("a `fn` is applied entry by entry; use softmax, sums and losses in equations instead"),
            ShadowsBuiltin { name } => d(format!("'{name}' is a built-in function and cannot be redefined"))
                .with_label("built-in name")
                .with_help(format!("choose another name, e.g. `fn my_{name}(t) = ...`")),
            DuplicateParam { name, first } => d(format!("parameter '{name}' appears twice"))
                .with_label("again here")
                .with_related(*first, "first here"),
            FunctionAsValue { name } => d(format!("'{name}' is a function, not a tensor"))
                .with_label("a function")
                .with_help(format!("call it: `{name}(...)`")),
            TensorAsFunction { name } => d(format!("'{name}' is a tensor, not a function"))
                .with_label("cannot be called")
                .with_help(format!("to multiply, write `{name} * (...)`; to apply a matrix, `{name} @ (...)`")),
            ZeroDim => d("a dimension must be at least 1".into()).with_label("zero"),
            TooLarge { entries, limit } => d(format!(
                "this tensor would have {entries} entries; nnderive holds at most {limit}"
            ))
            .with_label("too large")
            .with_help("the limit bounds memory (a tensor at the limit takes 128 MB in f64); use smaller dims"),
            PaddedTooLarge { entries, pad, limit } => d(format!(
                "the input padded by {pad} on every side would have {entries} entries; nnderive holds at most {limit}"
            ))
            .with_label("padded input too large")
            .with_help("the limit counts the padded map the kernels slide over; use less padding or a smaller input"),
            LiteralShape { expected, found } => d(format!("the value does not match the declared dims: expected {expected}, found {found}"))
                .with_label("this value")
                .with_help("write one bracket level per dimension: [n] is `[a, b, c]`, [m, n] is `[[...], [...]]`"),
            SecondTrain { first } => d("a file has one `train` statement, and this is the second".into())
                .with_label("second")
                .with_related(*first, "the first"),
            UnknownOptimizer { name, suggestion } => {
                let known: Vec<String> = KINDS.iter().map(|k| format!("`{}`", k.name)).collect();
                let diag = d(format!("unknown optimizer '{name}'")).with_label("not known");
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean `{s}`? nnderive knows {}", and_list(&known))),
                    None => diag.with_help(format!(
                        "nnderive knows {}: write, for example, `train adam(lr = 0.001)`",
                        and_list(&known)
                    )),
                }
            }
            UnknownTrainArg { optimizer, name, suggestion, rewrite } => {
                let diag = d(format!("{} has no setting '{name}'", optimizer.name)).with_label("unknown setting");
                let takes = settings_help(optimizer);
                match (rewrite, suggestion) {
                    (Some(r), _) if optimizer.name == "sgd" => diag.with_help(format!(
                        "SGD with momentum is its own optimizer, whose `beta` is the momentum: write `{r}`"
                    )),
                    (Some(r), _) => diag.with_help(format!("nnderive calls it differently: write `{r}`")),
                    (None, Some(s)) => diag.with_help(format!("did you mean `{s}`? {takes}")),
                    (None, None) => diag.with_help(takes),
                }
            }
            MissingLearningRate { optimizer } => d(format!("{optimizer} needs a learning rate"))
                .with_help(format!("write `train {optimizer}(lr = {})`", if *optimizer == "sgd" { "0.01" } else { "0.001" })),
            LearningRateNotPositive => d("the learning rate must be positive".into()).with_label("not > 0"),
            DuplicateSetting { optimizer, name, first } => d(format!("{optimizer}'s setting '{name}' is given twice"))
                .with_label("again here")
                .with_related(*first, "first here"),
            SettingOutOfRange { optimizer, setting } => match setting.range {
                Range::DecayRate => d(format!("{optimizer}'s {} must be at least 0 and less than 1", setting.name))
                    .with_label("not in [0, 1)")
                    .with_help(format!(
                        "{} ({}) is the fraction of the old value kept at each step, and 1 would keep it forever; the default is {}",
                        setting.name,
                        setting.meaning,
                        default_text(setting)
                    )),
                Range::Positive | Range::Count => d(format!("{optimizer}'s {} must be positive", setting.name))
                    .with_label("not > 0")
                    .with_help(format!("{} is {}; the default is {}", setting.name, setting.meaning, default_text(setting))),
            },
            BadSteps { limit } => d(format!("steps must be a whole number from 1 to {limit}")).with_label("not a valid count"),
            SettingNeedsNumber { optimizer, setting } => d(format!("{optimizer}'s {} is a number", setting.name))
                .with_label("not a number")
                .with_help(format!("{} is {}", setting.name, setting.meaning)),
            StateNeedsTensors { optimizer, part } => d(format!(
                "{optimizer}'s {} is given as the `const` tensors it starts from, one per parameter",
                part.name
            ))
            .with_label("not a tensor's name")
            .with_help(format!(
                "declare `const {short}0[...]` with the parameter's shape and values and write `{} = {short}0` (a list `[a, b]` in declaration order for several parameters); left out, {} starts at zero",
                part.name,
                part.meaning(),
                short = part.name.chars().next().unwrap_or('s'),
            )),
            StateOfOtherOptimizer { optimizer, name, owner } => {
                let diag = d(format!("'{name}' is part of {owner}'s state, not {}'s", optimizer.name)).with_label("not this optimizer's");
                let own: Vec<String> = optimizer.state.iter().map(|s| format!("`{}` ({})", s.name, s.meaning())).collect();
                match own.is_empty() {
                    true => diag.with_help(format!("{} keeps no state from step to step; to start {owner} from a state, write `train {owner}(...)`", optimizer.name)),
                    false => diag.with_help(format!("{} starts from {}", optimizer.name, and_list(&own))),
                }
            }
            StateNotConst { name, role: None, suggestion } => {
                let diag = d(format!("the state names '{name}', but the file declares no '{name}'")).with_label("not declared");
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean '{s}'?")),
                    None => diag.with_help(format!("declare it with its value, of the parameter's shape: `const {name}[...] = ...`")),
                }
            }
            StateNotConst { name, role: Some(role), .. } => d(format!("the state names '{name}', declared `{}`, not `const`", role.name()))
                .with_label("not a const")
                .with_help(format!("a state starts from fixed values: declare `const {name}[...] = ...`")),
            StateShape { setting, name, shape, param, param_shape } => d(format!(
                "'{name}' has shape {shape}, but the {setting} of '{param}' has the parameter's shape {param_shape}"
            ))
            .with_label(format!("{shape}, not {param_shape}"))
            .with_help(format!("each tensor of `{setting} = ...` has the shape of the parameter it belongs to, in declaration order")),
            StateCount { setting, given, params } => {
                let names: Vec<String> = params.iter().map(|p| format!("'{p}'")).collect();
                let list: Vec<String> = params.iter().map(|p| format!("{setting}_{p}")).collect();
                d(format!(
                    "`{setting}` names {given} {} for {} {}",
                    if *given == 1 { "tensor" } else { "tensors" },
                    params.len(),
                    if params.len() == 1 { "parameter" } else { "parameters" }
                ))
                .with_label(format!("{given} given"))
                .with_help(match params.len() {
                    1 => format!("give one tensor, of the shape of {}", names.join("")),
                    _ => format!(
                        "give one per parameter, in the order they are declared ({}), as a list: `{setting} = [{}]`",
                        and_list(&names),
                        list.join(", ")
                    ),
                })
            }
            BadTaken { name, limit } => d(format!(
                "{name}, the number of updates already taken, must be a whole number from 0 to {limit}"
            ))
            .with_label("not a valid count")
            .with_help(format!("the first update here is number {name} + 1, as CS231n's config['t']")),
            NothingToTrain => d("`train` needs at least one `param` to update".into())
                .with_label("nothing to train")
                .with_help("declare the trainable tensors with `param`, e.g. `param W1[3,4]`"),
            LossIgnoresParams => d("the loss does not depend on any `param`".into())
                .with_label("no parameter reaches this loss")
                .with_help("declare the weights with `param` so their gradients can be derived"),
            GivenUnknown { name, suggestion } => {
                let diag = d(format!("a value is given for '{name}', but the file declares no '{name}'"));
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean '{s}'?")),
                    None => diag.with_help("values can be given for the tensors the file declares (input, target, param, const)"),
                }
            }
            GivenNotData { name } => d(format!("a value is given for '{name}', but an equation defines it"))
                .with_label("an equation's name")
                .with_help("values can be given only for declared tensors (input, target, param, const)"),
            GivenFault { name, shape, fault } => given_fault(d, name, shape, fault),
            GivenShape { name, declared, given } => {
                let diag = d(format!("the value given for '{name}' is {given}, but '{name}' is declared {declared}"))
                    .with_label(format!("declared {declared} here"));
                if given.transpose().is_some_and(|t| t == *declared) && given != declared {
                    diag.with_help("the value is the transpose of what the file expects: pass its transpose (`.T` in NumPy)")
                } else {
                    diag.with_help(format!("give a value of shape {declared}"))
                }
            }
            CasesKind { found } => d(format!("unknown kind of cases '{found}'"))
                .with_label("expected 'onehot'")
                .with_help("write `--cases NAME=onehot` to solve once for each one-hot value of the target NAME"),
            CasesShape { name, shape } => d(format!("one-hot cases need a vector, but '{name}' is {shape}"))
                .with_label("not a vector")
                .with_help("give the cases for a target declared as a vector, e.g. `target y[2]`"),
            CasesTooMany { name, classes, limit } => d(format!(
                "'{name}' has {classes} classes, and one-hot cases are solved and shown side by side for at most {limit}"
            ))
            .with_label("too many classes")
            .with_help(format!(
                "give '{name}' a value (`--given '{name}=[...]'`) and solve once, or use a target with at most {limit} classes"
            )),
            UnknownKeyword { func, name, allowed } => {
                let diag = d(format!("'{func}' has no keyword argument '{name}'")).with_label("unknown keyword");
                match allowed {
                    [] => diag.with_help(format!("'{func}' takes no keyword arguments")),
                    list => diag.with_help(format!("'{func}' takes {}", keyword_list(list))),
                }
            }
            DuplicateKeyword { name, first } => d(format!("keyword argument '{name}' is given twice"))
                .with_label("again here")
                .with_related(*first, "first here"),
            BadLayerArg { what, min, max } => d(format!("{what} must be a whole number from {min} to {max}"))
                .with_label("not a valid size")
                .with_help("write a literal whole number, as in `conv2d(X, K, stride = 2, pad = 1)` or `maxpool(A, 2)`"),
            BadSwitch { what } => d(format!("{what} must be true or false"))
                .with_label("not true or false")
                .with_help(format!("write `{what} = true` or `{what} = false`, as in `maxpool(A, 2, ceil = true)`")),
            LayerShape { func, error, operands, pad } => layer_shape(d, func, error, operands, *pad),
            SecondSteps { first } => d("a file has one `steps` statement, and this is the second".into())
                .with_label("second")
                .with_related(*first, "the first"),
            BadStepRange { first, last, limit } => {
                d(format!("the steps {first}..{last} are not a range of 1 to {limit} steps"))
                    .with_label("not a valid range")
                    .with_help("write the first and the last step, first ≤ last, as in `steps t = 1..3`")
            }
            NoStepsInteger { name, at } => d(format!(
                "`{name}[{at}]` reads as step {at} of a sequence, and the file has no `steps` statement"
            ))
            .with_label("a step, or an entry?")
            .with_help(format!(
                "to take entry {at} along the first axis (NumPy's `{name}[{at}]`), write the slice `{name}[{at}:{}]`, which keeps the axis with length 1; for a sequence, declare `steps t = 1..T`",
                at + 1
            )),
            NoSteps => d("a time index needs a `steps` statement".into())
                .with_label("time index")
                .with_help("declare the time index first, e.g. `steps t = 1..3`"),
            UnknownIndex { found, index } => d(format!("unknown time index '{found}'; the time index is '{index}'"))
                .with_label("not the time index")
                .with_help(format!("write `[{index}]`, `[{index}-1]` or a step such as `[0]`")),
            IndexOutsideTime { index } => d(format!("'{index}' is used outside a time-indexed equation"))
                .with_label(format!("no '{index}' here"))
                .with_help(format!(
                    "'{index}' has a value in an equation such as `h[{index}] = ...` and inside `sum(... for {index})`; elsewhere name one step, as in `h[3]`"
                )),
            UndefinedStep { name, step, at, defined } => {
                let what = match at {
                    Some(at) => format!("{at} is step {step} of '{name}', which is not defined"),
                    None => format!("step {step} of '{name}' is not defined"),
                };
                d(what).with_label("no such step").with_help(format!("'{name}' is defined at {defined}"))
            }
            NotASequence { name } => d(format!("'{name}' is not a sequence, so it has no steps"))
                .with_label("not time-indexed")
                .with_help(format!("write `{name}` without a time index, or declare it per step: `{name}[t][...]`")),
            SequenceWithoutIndex { name } => d(format!("'{name}' is a sequence: say which step"))
                .with_label("no time index")
                .with_help(format!("write `{name}[t]`, `{name}[t-1]` or one step such as `{name}[1]`")),
            SequenceRows { name, steps, rows } => d(format!(
                "'{name}' has {steps} step{} but its value has {rows} row{}",
                plural(*steps as usize),
                plural(*rows)
            ))
            .with_label("one row per step")
            .with_help("a sequence's value is a list with one entry per step, in step order"),
            OffsetInDefinition => d("a sequence is declared and defined at the time index itself".into())
                .with_label("an offset here")
                .with_help("write `h[t] = ... h[t-1] ...` and `input x[t][2]`; give a starting value as a step, `const h[0][3]`"),
            UnrolledTooLarge { nodes, limit } => d(format!(
                "written out step by step, the equations would have {nodes} nodes; nnderive unrolls at most {limit}"
            ))
            .with_label("too many steps for these equations")
            .with_help("use fewer steps or smaller equations"),
            AxisNeeded { func, shape, arg } => d(format!(
                "{func} of a matrix needs an axis: nothing shows whether the examples of {arg} ({shape}) are its columns or its rows"
            ))
            .with_label("which axis?")
            .with_help(format!(
                "write `{func}({arg}, axis = 0)` to work on each column (examples as columns, as after `W @ X`) or `{func}({arg}, axis = 1)` on each row (examples as rows, as after `X @ W`)"
            )),
            LayerArgument(error) => error.diagnostic(self.span),
            Axes(error) => error.diagnostic(self.span),
            BadAxis => d("axis must be 0 or 1".into())
                .with_label("not an axis of a matrix")
                .with_help("`axis = 0` works down each column, `axis = 1` along each row"),
            AxisOfVector { func, shape, axis } => {
                let (what, each) = if *axis == 1 { ("a column", "row") } else { ("a row", "column") };
                d(format!("the argument of {func} is {what} {shape}: along axis {axis}, each {each} has one entry"))
                    .with_label(format!("axis {axis}"))
                    .with_help(format!("leave the axis out: `{func}` of a vector works over all its entries"))
            }
            ClassLabel { name, value, entry, classes, output } => d(format!(
                "'{name}' holds the class labels of a cross-entropy over {classes} classes, but its entry {} is {value}",
                crate::layout::entry_index(name, &[*entry])
            ))
            .with_label("class labels")
            .with_help(format!(
                "a label is the class number of one example, a whole number from 0 to {}; for probabilities, give the target the output's shape {output}",
                classes.saturating_sub(1)
            )),
            SliceRank { name, shape, axes } => d(format!(
                "'{name}' is {shape}, with {} ax{}, but the slice has {axes}",
                shape.rank(),
                if shape.rank() == 1 { "is" } else { "es" }
            ))
            .with_label(format!("{axes} axes"))
            .with_help("give one range per axis, from the first; axes left out at the end are kept whole"),
            SliceIndex { name, axis, at, rank } => {
                // `-1` keeps the last entry as `-1:`, since `-1:0` would be empty.
                let range = if *at == -1 { "-1:".to_string() } else { format!("{at}:{}", at + 1) };
                let mut axes = vec![":".to_string(); (*axis + 1).min(*rank)];
                axes[*axis] = range;
                d(format!("an integer on axis {axis} of '{name}' would drop that axis, as NumPy does; nnderive keeps every axis"))
                    .with_label("an integer, not a slice")
                    .with_help(format!("write the slice `{name}[{}]`, which keeps the axis with length 1", axes.join(", ")))
            }
            SliceOutOfRange { name, axis, bound, len } => d(format!(
                "the slice bound {bound} is outside axis {axis} of '{name}', which has length {len}"
            ))
            .with_label("out of range")
            .with_help(format!(
                "a bound runs from 0 to {len} (the end is not included; a negative bound counts from the end, down to -{len})"
            )),
            SliceEmpty { name, axis, start, end } => d(format!(
                "the slice {start}:{end} on axis {axis} of '{name}' keeps no entry"
            ))
            .with_label(if start > end { "reversed" } else { "empty" })
            .with_help("a slice start:end keeps the entries from start up to, not including, end: start must be less than end"),
            SliceBoundNotWhole { name } => d(format!(
                "the slice bound '{name}' is not a declared whole-number constant"
            ))
            .with_label("not a whole-number constant")
            .with_help(format!("declare it, as in `const {name} = 5`, or write the number")),
            SliceBoundTooLarge => d("this slice bound is too large".into()).with_label("too large"),
            LookupTable { name, shape } => d(format!(
                "an embedding lookup picks rows of a table [V, D], but '{name}' is {shape}"
            ))
            .with_label(format!("this is {shape}"))
            .with_help("declare the table as a matrix, one row of D numbers for each of the V ids, as in `param W[5,3]`"),
            LookupIdsNotData { ids, role } => d(format!(
                "the ids of an embedding lookup are given whole numbers, but '{ids}' is {role}"
            ))
            .with_label("not given data")
            .with_help(format!("declare the ids with values, as in `input {ids}[2,4] = [[0, 3, 1, 2], [2, 1, 0, 3]]`")),
            LookupId { ids, table, value, index, rows } => d(format!(
                "'{ids}' holds the ids of the lookup {table}[{ids}] into {rows} rows, but its entry {} is {value}",
                crate::layout::entry_index(ids, index)
            ))
            .with_label("ids")
            .with_help(format!("an id is a row number of '{table}', a whole number from 0 to {}", rows.saturating_sub(1))),
            DrawUnknown { found, suggestion, rules } => {
                let diag = d(format!("unknown rule '{found}' for drawing values")).with_label("not a draw rule");
                match suggestion {
                    Some(s) => diag.with_help(format!("did you mean '{s}'?")),
                    None => diag.with_help(format!("the rules are {}", rules.join("; "))),
                }
            }
            DrawArguments { rule, usage } => d(format!("wrong arguments for the draw rule '{rule}'"))
                .with_label("not how it is called")
                .with_help(format!("write {usage}")),
            DrawEmptyRange { low, high } => d(format!("the range from {low} to {high} is empty"))
                .with_label("low end above high end")
                .with_help(format!("write the low end first: uniform({high}, {low})")),
            DrawStep { step } => d(format!("the step of a range must be positive, not {step}"))
                .with_label("not a positive step")
                .with_help("write a positive step, as in uniform(-0.5, 0.5, step = 0.1)"),
            DrawFixedWithoutValue { name } => d(format!("'fixed' keeps the file's value of '{name}', but it has none"))
                .with_label("no value to keep")
                .with_help(format!("give '{name}' a value (`= [...]`) or a range to draw from (`~ uniform(-1, 1)`)")),
            DrawOneHotShape { name, shape } => d(format!("one-hot values need a vector or a matrix, but '{name}' is {shape}"))
                .with_label("not a vector or a matrix")
                .with_help("draw it from a range instead, as in `~ uniform(-1, 1)`"),
            OverOutsideSum { func } => d(format!("'{func}' cannot take `... for t`"))
                .with_label("a sum over time")
                .with_help("a sum over time is `sum(e for t)` or `mean(e for t)`, with that as the only argument"),
        }
    }
}

/// How a built-in is called, for a call with the wrong number of arguments.
fn arity_help(func: &str, args: &[String]) -> Option<String> {
    use super::func::Builtin;
    let builtin = Builtin::lookup(func)?;
    Some(match func {
        // Tensors of any shapes: the sum of all their entries is the sum of the sums.
        "sum" if args.len() > 1 => {
            let sums: Vec<String> = args.iter().map(|a| format!("sum({a})")).collect();
            format!("`sum` adds the entries of one tensor; for the entries of all of them write `{}`", sums.join(" + "))
        }
        "batchnorm" | "layernorm" => format!(
            "call it as `{func}(Z, gamma, beta)` with the batch named first, `Z = {}`, and gamma, beta holding one entry per feature; `eps = 0.00001` may follow",
            args.first().map_or("X @ W", String::as_str)
        ),
        "dropout" => format!(
            "call it as `dropout({}, M, keep = 0.8)`, with M a `const` mask of 0s and 1s of the same shape; keep is the probability of keeping a unit",
            args.first().map_or("X", String::as_str)
        ),
        "leaky_relu" => "call it as `leaky_relu(t, a)`, a the slope for t ≤ 0: `leaky_relu(Z1, 0.01)`".into(),
        "max" | "min" => format!(
            "`{func}(a, b)` compares two tensors entry by entry (`max(Z, 0)` is relu(Z)); nnderive has no {func} over the entries of one tensor"
        ),
        "cross_entropy" | "mse" | "bce" => format!("call it as `{func}(y, p)`: the target first, then the network's output"),
        "conv2d" => {
            "call it as `conv2d(X, K)` or with a bias `conv2d(X, K, b)`, optionally with `stride = s, pad = p`".into()
        }
        "maxpool" | "avgpool" => format!(
            "call it as `{func}(A, k)` for k × k windows, optionally with `stride = s`, `pad = p` and `ceil = true`"
        ),
        _ if builtin.arity() == 1 => {
            format!("call it as `{func}(t)` on one tensor; to use two, combine them first, as in `{func}(a + b)`")
        }
        _ => return None,
    })
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A setting's default as the file would write it: `0.9`, `1e-8`.
fn default_text(setting: &Setting) -> String {
    let Some((m, e)) = setting.default else { return "none".into() };
    let digits = m.unsigned_abs().to_string();
    let sign = if m < 0 { "-" } else { "" };
    let places = e.unsigned_abs() as usize;
    match e {
        e if e < -3 => format!("{m}e{e}"),
        e if e >= 0 => format!("{sign}{digits}{}", "0".repeat(places)),
        _ if digits.len() > places => {
            let (int, frac) = digits.split_at(digits.len() - places);
            format!("{sign}{int}.{frac}")
        }
        _ => format!("{sign}0.{}{digits}", "0".repeat(places - digits.len())),
    }
}

/// What an optimizer takes: "sgd takes `lr` (the learning rate) and
/// optionally `steps` (how many updates)".
fn settings_help(kind: &Kind) -> String {
    let required: Vec<String> =
        kind.settings.iter().filter(|s| s.default.is_none()).map(|s| format!("`{}` ({})", s.name, s.meaning)).collect();
    let optional: Vec<String> = kind
        .settings
        .iter()
        .filter(|s| s.default.is_some())
        .map(|s| match s.name {
            "steps" => format!("`steps` ({}, default 1)", s.meaning),
            _ => format!("`{}` ({}, default {})", s.name, s.meaning, default_text(s)),
        })
        .collect();
    let takes = format!("{} takes {} and optionally {}", kind.name, and_list(&required), and_list(&optional));
    let state: Vec<String> = kind.state.iter().map(|s| format!("`{}` ({})", s.name, s.meaning())).collect();
    match state.is_empty() {
        true => takes,
        false => format!("{takes}; it may start from a state: {}", and_list(&state)),
    }
}

fn keyword_list(list: &[&str]) -> String {
    let quoted: Vec<String> = list.iter().map(|k| format!("`{k} = ...`")).collect();
    quoted.join(" and ")
}

/// The message of a convolution or pooling whose window does not fit.
fn layer_shape(
    d: impl Fn(String) -> Diagnostic,
    func: &str,
    error: &LayerShapeError,
    operands: &[Operand],
    pad: usize,
) -> Diagnostic {
    let mut diag = match error {
        LayerShapeError::Rank { operand, expected } => {
            let shape = operands.get(*operand).map(|o| o.shape.to_string()).unwrap_or_default();
            d(format!("{func} needs {expected} as argument {}, but it is {shape}", operand + 1))
                .with_label(format!("in this {func}"))
        }
        LayerShapeError::Channels { input, kernel, layout } => {
            let help = match layout {
                MapLayout::Nchw => "K is [F, C, kh, kw]: its second dimension must equal the input's channels C in [C, H, W]",
                MapLayout::Nhwc => "with layout = nhwc, W is [kh, kw, C, F]: its third dimension must equal the input's channels C, the last of [N, H, W, C]",
            };
            d(format!("{func}: the input has {input} channel{} but the kernels expect {kernel}", plural(*input)))
                .with_label("channels differ")
                .with_help(help)
        }
        LayerShapeError::WindowTooLarge { axis, input, window } => {
            let padded = if pad > 0 { format!(" (with padding {pad})") } else { String::new() };
            d(format!("{func}: the window spans {window} along the {axis}, but the input{padded} has only {input}"))
                .with_label("window larger than the input")
                .with_help("use a smaller window or kernel, or pad the input")
        }
        LayerShapeError::PaddingPastWindow { axis, pad, window } => d(format!(
            "{func}: the padding {pad} is more than the kernel's {axis} {window}, so whole windows would see only padding"
        ))
        .with_label("padding past the kernel")
        .with_help(format!(
            "pad at most {window} (the kernel's {axis}); pad = (k − 1)/2 keeps the size of the input, pad = k − 1 is a full convolution"
        )),
        LayerShapeError::PoolPaddingPastHalf { axis, pad, window } => d(format!(
            "{func}: the padding {pad}{} is more than half the window {window}, so a window could lie wholly in the padding",
            axis.map(|axis| format!(" along the {axis}")).unwrap_or_default()
        ))
        .with_label("padding past half the window")
        .with_help(format!("pad at most {} (half the window, as PyTorch requires)", window / 2)),
        LayerShapeError::Bias { filters, shape, layout: MapLayout::Nchw } => {
            d(format!("{func}: the bias is {shape}, but the {filters} kernel{} need one entry each, [{filters}]", plural(*filters)))
                .with_label("one bias entry per kernel")
                .with_help(format!("the bias b of conv2d(X, K, b) is [F], F = {filters} the first dimension of K [F, C, kh, kw]"))
        }
        LayerShapeError::Bias { filters, shape, layout: MapLayout::Nhwc } => {
            d(format!("{func}: the bias is {shape}, but the {filters} kernel{} need one entry each, [{filters}] or [1, 1, 1, {filters}]", plural(*filters)))
                .with_label("one bias entry per kernel")
                .with_help(format!("with layout = nhwc the bias b of conv2d(A, W, b) is [F] or [1, 1, 1, F] (deeplearning.ai's), F = {filters} the last dimension of W [kh, kw, C, F]"))
        }
        LayerShapeError::NotWhole { axis, input, window, stride } => {
            let raw = input - 2 * pad;
            let formula = if pad > 0 {
                format!("({raw} + 2·{pad} − {window})/{stride} + 1")
            } else {
                format!("({raw} − {window})/{stride} + 1")
            };
            let size = (input - window) as f64 / (*stride).max(1) as f64 + 1.0;
            let shown = format!("{size:.3}").trim_end_matches('0').to_string();
            let sign = if (size * 1000.0).fract() == 0.0 { "=" } else { "≈" };
            d(format!(
                "{func}: the output {axis} {formula} {sign} {shown} is not a whole number (input {axis} {raw}, window {window}, stride {stride})"
            ))
            .with_label("the windows do not tile the input")
            .with_help("choose the stride and padding so that (H + 2·pad − k) is a multiple of the stride")
        }
    };
    for o in operands {
        diag = diag.with_related(o.span, format!("this is {}", o.shape));
    }
    diag
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The message of a value given from outside the file that is not even
/// rows of finite numbers.
fn given_fault(d: impl Fn(String) -> Diagnostic, name: &str, shape: &Shape, fault: &GivenFault) -> Diagnostic {
    let at = |index: &[usize]| match index {
        [] => String::new(),
        i => format!(" at [{}]", i.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let entries = |n: usize| if n == 1 { "1 entry".to_string() } else { format!("{n} entries") };
    let (message, help) = match fault {
        GivenFault::NotFinite { index, found } => (
            format!("the value given for '{name}' holds {found}{}, which is not a finite number", at(index)),
            "give finite numbers: NaN and infinities have no exact value to compute with".to_string(),
        ),
        GivenFault::NotNumber { index, found } => (
            format!("the value given for '{name}' holds {found}{}, which is not a number", at(index)),
            "give numbers: integers, decimals or fractions".to_string(),
        ),
        GivenFault::ExponentTooLarge { index, found } => (
            format!("the value given for '{name}' holds {found}{}, whose exponent is past ±1000", at(index)),
            "a number's exponent may be from -1000 to 1000, as in the file".to_string(),
        ),
        GivenFault::Ragged { index, expected, found } => {
            let what = match (expected, found) {
                (Some(e), Some(f)) => {
                    format!("the list{} has {} where the first has {}", at(index), entries(*f), entries(*e))
                }
                (Some(e), None) => {
                    format!("a number{} stands where the first item is a list of {}", at(index), entries(*e))
                }
                (_, found) => format!(
                    "a list of {}{} stands where the first item is a number",
                    entries(found.unwrap_or(0)),
                    at(index)
                ),
            };
            (
                format!("the value given for '{name}' is ragged: {what}"),
                format!("give nested lists of equal lengths, or an array, of shape {shape}"),
            )
        }
    };
    d(message).with_label(format!("'{name}' is declared {shape} here")).with_help(help)
}

fn short(s: &Shape) -> String {
    if s.is_scalar() {
        "[]".into()
    } else {
        s.to_string()
    }
}

fn shape_help(op: &str, left: &Operand, right: &Operand) -> String {
    match op {
        "@" => match [left, right].iter().find(|o| o.shape.rank() >= 3) {
            // A feature map [C, H, W] reaches a dense layer as one column.
            Some(map) => {
                let name = map.name.as_deref().unwrap_or("the feature map");
                let (a, b) = (left.name.as_deref().unwrap_or("A"), right.name.as_deref().unwrap_or("B"));
                let written = match map.name.as_deref() {
                    Some(n) if std::ptr::eq(*map, right) => format!("`{a} @ flatten({n})`"),
                    Some(n) => format!("`flatten({n}) @ {b}`"),
                    None => "`W @ flatten(P)`".into(),
                };
                format!(
                    "{name} is a feature map {}: flatten it to a column of its {} entries first, {written}",
                    map.shape,
                    map.shape.len()
                )
            }
            None => {
                "for A @ B the columns of A must equal the rows of B; [n] is a column (n×1), and B.T transposes".into()
            }
        },
        "*" if left.shape.matmul(&right.shape).is_some() => {
            let a = left.name.as_deref().unwrap_or("A");
            let b = right.name.as_deref().unwrap_or("B");
            format!("`*` multiplies entry by entry; for the matrix product write `{a} @ {b}`")
        }
        "cross_entropy" | "mse" | "bce" if left.shape.transpose().is_some_and(|t| t.same_as(&right.shape)) => {
            let target = left.name.as_deref().unwrap_or("the target");
            format!(
                "one is the other's transpose: lay the target out as the output is (declare {target} as {})",
                right.shape
            )
        }
        _ => elementwise_help(left, right),
    }
}

/// The help for an elementwise operation whose shapes do not broadcast.
fn elementwise_help(left: &Operand, right: &Operand) -> String {
    const RULE: &str = "elementwise operations need equal shapes, a scalar on one side, or a side whose size-1 axes stretch over the other (a column [m] over each column of [m, N], a row [1, n] over each row of [N, n])";
    for (small, big) in [(left, right), (right, left)] {
        // NumPy's habit: a bias of shape (n,) added to every row of (N, n).
        if let ([k], [_, n]) = (small.shape.dims(), big.shape.dims()) {
            if k == n {
                let name = small.name.as_deref().unwrap_or("it");
                return format!(
                    "{} is a column ({k}×1) in nnderive unless the examples are rows; to add it to each row of {}, state `layout rows` on a line of its own, or make it a row: declare {name} as [1, {k}]",
                    small.shape, big.shape
                );
            }
        }
    }
    let (l, r) = (left.shape.as_matrix(), right.shape.as_matrix());
    if let (Some((lr, lc)), Some((rr, rc)), false, false) = (l, r, left.shape.is_scalar(), right.shape.is_scalar()) {
        let fits = |a: usize, b: usize| a == b || a == 1 || b == 1;
        if fits(lr, rr) && fits(lc, rc) {
            return format!(
                "{} and {} would each stretch over the other into a {}×{} matrix, which nnderive does not do silently: make one side that shape first (for an outer product, write `u @ v.T`)",
                left.shape,
                right.shape,
                lr.max(rr),
                lc.max(rc)
            );
        }
    }
    RULE.into()
}

/// The help for an unknown function, fitted to the name: a foreign spelling
/// gets the nnderive form, a derivative's name the news that nnderive
/// derives it, a typo its built-in, a common activation its `fn`.
fn unknown_function_help(name: &str, suggestion: Option<&str>, args: &[String]) -> String {
    use super::func::Builtin;
    if let Some(form) = crate::syntax::habits::form(name, args) {
        return match name {
            "ln" => format!("the natural logarithm is `log`: write `{form}`"),
            "transpose" | "t" => format!("a transpose is the suffix `.T`: write `{form}`"),
            _ => format!("nnderive writes `{form}`"),
        };
    }
    let lower = name.to_ascii_lowercase();
    let stem = ["_prime", "_derivative", "_deriv", "_grad", "prime", "_backward"]
        .iter()
        .find_map(|s| lower.strip_suffix(s))
        .or_else(|| lower.strip_prefix("d_"))
        .or_else(|| lower.strip_prefix("grad_"));
    if let Some(stem) = stem.filter(|s| Builtin::lookup(s).is_some()) {
        return format!(
            "nnderive works out {stem}′ itself: write the forward pass with `{stem}(...)`, and `nnderive derive` shows the derivative where the chain rule uses it"
        );
    }
    if lower.contains("softmax") && (lower.contains("entropy") || lower.contains("loss") || lower.contains("logits")) {
        return "write `cross_entropy(y, softmax(z))`: the target first, then the probabilities; the derivation simplifies its error term to ŷ − y".into();
    }
    if let Some(s) = suggestion {
        return format!("did you mean '{s}'?");
    }
    let definition = crate::syntax::habits::DEFINITIONS.iter().find(|(n, _)| *n == lower).map(|(_, d)| *d);
    if let Some(definition) = definition {
        return format!("it is not a built-in; define it from built-ins: `{definition}`");
    }
    // The argument as the written-out forms use it.
    let arg = match args {
        [one] => one.clone(),
        _ => "z".into(),
    };
    let grouped = if is_atom(&arg) { arg.clone() } else { format!("({arg})") };
    match lower.as_str() {
        "linear" | "dense" | "fc" | "affine" => return "a dense layer is written out: `W @ x + b`".into(),
        "norm" | "l2_norm" | "norm2" | "frobenius_norm" => {
            return format!(
            "nnderive has no norm: the squared norm ‖{arg}‖² is `sum({grouped}^2)`, the norm `sqrt(sum({grouped}^2))`"
        )
        }
        _ => {}
    }
    let params: Vec<String> = match args.len() {
        0 | 1 => vec!["t".into()],
        n => (0..n).map(|i| ((b'a' + (i % 26) as u8) as char).to_string()).collect(),
    };
    format!(
        "define it as a scalar formula, applied entry by entry: `fn {name}({}) = ...`; or use a built-in: {}",
        params.join(", "),
        Builtin::names().collect::<Vec<_>>().join(", ")
    )
}

/// Is the expression text `s` one operand as it stands: a name, or a call
/// whose parenthesis closes at the end (`relu(W1 @ x)`, not `f(a) + g(b)`)?
fn is_atom(s: &str) -> bool {
    let name_end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    if name_end == s.len() {
        return name_end > 0;
    }
    if name_end == 0 || !s[name_end..].starts_with('(') {
        return false;
    }
    let mut depth = 0usize;
    for (i, c) in s.char_indices().skip(name_end) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i == s.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

fn cycle_text(names: &[String]) -> String {
    let mut t = names.join(" → ");
    if let Some(first) = names.first() {
        t.push_str(" → ");
        t.push_str(first);
    }
    t
}
