//! The abstract syntax tree: a faithful picture of a `.nn` file, with a span on
//! every node. Nothing here is checked yet; names are strings and shapes are
//! whatever the file wrote. The checked form is [`crate::model`].

use num_rational::BigRational;

use super::Span;

/// A whole `.nn` file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Statements in file order.
    pub items: Vec<Item>,
    /// Every `#` comment in file order (kept for `nnderive fmt`).
    pub comments: Vec<Comment>,
}

/// A `#` comment; `text` excludes the `#` and the line break.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `input x[4] = [...]`, `param W[2,3]`, `const b = 0.35`, ...
    Tensor(TensorDecl),
    /// `fn f(t) = relu(t) + sin(t)`
    Function(FnDef),
    /// `Z1 = W1 @ x + b1`
    Equation(Equation),
    /// `loss L = cross_entropy(y, yhat)`
    Loss(Equation),
    /// `train sgd(lr = 0.001)`
    Train(Train),
    /// `steps t = 1..3`: a time index for recurrent networks.
    Steps(Steps),
}

impl Item {
    /// The span of the whole statement.
    pub fn span(&self) -> Span {
        match self {
            Item::Tensor(d) => d.span,
            Item::Function(f) => f.span,
            Item::Equation(e) | Item::Loss(e) => e.span,
            Item::Train(t) => t.span,
            Item::Steps(s) => s.span,
        }
    }
}

/// The role a declared tensor plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Network input (data).
    Input,
    /// Training target (data).
    Target,
    /// Trainable parameter: what training updates.
    Param,
    /// A fixed constant (data).
    Const,
}

impl Role {
    /// The keyword that introduces this role.
    pub fn keyword(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Target => "target",
            Role::Param => "param",
            Role::Const => "const",
        }
    }
}

/// A name with its place in the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `steps t = 1..3`: the name of the time index and its first and last step.
#[derive(Clone, Debug, PartialEq)]
pub struct Steps {
    pub index: Ident,
    pub first: u64,
    pub last: u64,
    /// The span of `1..3`.
    pub range_span: Span,
    pub span: Span,
}

/// `[t]`, `[t-1]`, `[t+1]` or `[0]` after a name: which step of a sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeIndex {
    pub kind: TimeIndexKind,
    /// The span of the brackets and what they hold.
    pub span: Span,
}

/// What a [`TimeIndex`] holds.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeIndexKind {
    /// `t`, `t-1`, `t+1`: the time index plus an offset.
    Relative { index: Ident, offset: i64 },
    /// `0`, `3`: one step.
    Step(u64),
}

/// `ROLE NAME[time][dims] = literal`; time, dims and value are optional.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDecl {
    pub role: Role,
    pub name: Ident,
    /// `x[t][2]` (a sequence, one `[2]` per step) or `h[0][3]` (one step).
    pub time: Option<TimeIndex>,
    /// Empty for a scalar.
    pub dims: Vec<Dim>,
    /// The span of `[...]` when dims were written.
    pub dims_span: Option<Span>,
    pub value: Option<Literal>,
    pub span: Span,
}

/// One declared dimension. The size is kept as written (a `u64`); the checker
/// decides whether it is acceptable.
#[derive(Clone, Debug, PartialEq)]
pub struct Dim {
    pub size: u64,
    pub span: Span,
}

/// A literal value: a number or a bracketed list of literals.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Number(Number),
    List { items: Vec<Literal>, span: Span },
}

impl Literal {
    pub fn span(&self) -> Span {
        match self {
            Literal::Number(n) => n.span,
            Literal::List { span, .. } => *span,
        }
    }
}

/// A number as written (`-1e-3`, `0.5`, `2`) and its exact value.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// The source text, sign included.
    pub text: String,
    /// The exact value of the decimal text.
    pub value: BigRational,
    pub span: Span,
}

/// `fn NAME(params) = body`
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Expr,
    pub span: Span,
}

/// `NAME = expr` or `NAME[t] = expr` (also used for `loss NAME = expr`).
#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    pub name: Ident,
    /// `h[t] = ...`: one equation per step.
    pub time: Option<TimeIndex>,
    pub value: Expr,
    pub span: Span,
}

/// `train OPTIMIZER(key = number, ...)`
#[derive(Clone, Debug, PartialEq)]
pub struct Train {
    pub optimizer: Ident,
    pub args: Vec<TrainArg>,
    pub span: Span,
}

/// `key = number` inside `train sgd(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainArg {
    pub name: Ident,
    pub value: Number,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The forms an expression takes.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An unsigned numeric literal (a leading minus parses as [`ExprKind::Neg`]).
    Number(Number),
    /// A tensor name or a function parameter.
    Name(Ident),
    /// `-e`
    Neg(Box<Expr>),
    /// `lhs op rhs`; `op_span` covers the operator token.
    Binary { op: BinOp, op_span: Span, lhs: Box<Expr>, rhs: Box<Expr> },
    /// `name(args, key = value, ...)`: positional arguments, then keyword
    /// arguments in the order written.
    Call { func: Ident, args: Vec<Expr>, keywords: Vec<KeywordArg> },
    /// `e.T`
    Transpose(Box<Expr>),
    /// `(e)`: kept so that `fmt` can reproduce the user's parentheses.
    Paren(Box<Expr>),
    /// `h[t-1]`, `x[t]`, `h[0]`: one step of a sequence.
    Indexed { name: Ident, index: TimeIndex },
    /// `e for t`, the argument of `sum(e for t)` or `mean(e for t)`: `e` at every step.
    Over { body: Box<Expr>, index: Ident },
}

/// `key = expr` inside a call, as in `conv2d(X, K, stride = 2)`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeywordArg {
    pub name: Ident,
    pub value: Expr,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    MatMul,
}

impl BinOp {
    /// The operator as written in `.nn` syntax.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::MatMul => "@",
        }
    }
}
