//! The abstract syntax tree: a faithful picture of a `.nn` file, with a span on
//! every node. Nothing here is checked yet; names are strings and shapes are
//! whatever the file wrote. The checked form is [`crate::model`].

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

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
    /// A list with a list among its entries (or none at all: `[]`).
    List {
        items: Vec<Literal>,
        span: Span,
    },
    /// A list whose entries are all numbers, as the rows of a matrix are,
    /// kept compactly: a few bytes per number instead of a node each.
    Numbers(NumberList),
}

impl Literal {
    pub fn span(&self) -> Span {
        match self {
            Literal::Number(n) => n.span,
            Literal::List { span, .. } => *span,
            Literal::Numbers(list) => list.span,
        }
    }
}

/// An exact number kept small: `mantissa · 10^exponent` whenever the
/// mantissa fits in 64 bits (every decimal of up to 18 digits), else any
/// rational at all.
#[derive(Clone, Debug)]
pub enum Decimal {
    Small { mantissa: i64, exponent: i32 },
    Rational(Box<BigRational>),
}

impl Decimal {
    /// The exact value, in lowest terms.
    pub fn to_rational(&self) -> BigRational {
        let (mut mantissa, mut exponent) = match self {
            Decimal::Rational(r) => return (**r).clone(),
            Decimal::Small { mantissa, exponent } => (*mantissa, *exponent),
        };
        if mantissa == 0 {
            return BigRational::zero();
        }
        // Lowest terms without a gcd: the denominator is 10^k, so only
        // factors 2 and 5 of the mantissa can cancel.
        while exponent < 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        if (-18..0).contains(&exponent) {
            // Both parts fit in 64 bits: reduce there.
            let power = 10u64.pow(exponent.unsigned_abs());
            let common = num_integer::Integer::gcd(&mantissa.unsigned_abs(), &power);
            let numer = BigInt::from(mantissa / common as i64);
            return BigRational::new_raw(numer, BigInt::from(power / common));
        }
        let numer = BigInt::from(mantissa);
        if exponent >= 0 {
            return BigRational::from_integer(numer * num_traits::pow(BigInt::from(10), exponent as usize));
        }
        let places = exponent.unsigned_abs();
        let (twos, fives) = (mantissa.unsigned_abs().trailing_zeros().min(places), fives_in(mantissa).min(places));
        let numer = numer / (BigInt::from(1u8) << twos as usize) / num_traits::pow(BigInt::from(5), fives as usize);
        let denom = (BigInt::from(1u8) << (places - twos) as usize)
            * num_traits::pow(BigInt::from(5), (places - fives) as usize);
        BigRational::new_raw(numer, denom)
    }

    /// Any rational, kept small when it is a short decimal.
    pub fn from_rational(r: BigRational) -> Decimal {
        if let Some(n) = r.is_integer().then(|| r.numer().to_i64()).flatten() {
            return Decimal::Small { mantissa: n, exponent: 0 };
        }
        Decimal::Rational(Box::new(r))
    }
}

/// Equal values are equal however they are kept (`0.5`, `0.50`, `1/2`).
impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        match (self, other) {
            (Decimal::Small { mantissa: a, exponent: e }, Decimal::Small { mantissa: b, exponent: f }) if e == f => {
                a == b
            }
            _ => self.to_rational() == other.to_rational(),
        }
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Decimal {
        match self {
            Decimal::Small { mantissa, exponent } => match mantissa.checked_neg() {
                Some(m) => Decimal::Small { mantissa: m, exponent },
                None => Decimal::Rational(Box::new(-Decimal::Small { mantissa, exponent }.to_rational())),
            },
            Decimal::Rational(r) => Decimal::Rational(Box::new(-*r)),
        }
    }
}

/// How many times 5 divides `n` (0 for 0).
fn fives_in(mut n: i64) -> u32 {
    let mut count = 0;
    while n != 0 && n % 5 == 0 {
        n /= 5;
        count += 1;
    }
    count
}

/// The numbers of a list such as `[1, -2.5, 3e-2]`: their values, and
/// where each was written, for `fmt` and for errors that point at one.
#[derive(Clone, PartialEq)]
pub struct NumberList {
    /// From `[` to `]`.
    pub span: Span,
    /// The list's text as written, from `[` to `]`.
    text: String,
    values: Vec<Decimal>,
    /// Each number's byte range in `text`.
    bounds: Vec<(u32, u32)>,
}

impl NumberList {
    /// A list from its text and, for each number, its value and byte range
    /// in that text; `None` if the text is too long to index with u32.
    pub fn new(span: Span, text: String, values: Vec<Decimal>, bounds: Vec<(u32, u32)>) -> Option<NumberList> {
        (u32::try_from(text.len()).is_ok() && values.len() == bounds.len()).then_some(NumberList {
            span,
            text,
            values,
            bounds,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn values(&self) -> &[Decimal] {
        &self.values
    }

    /// Number `i` as written, sign included.
    pub fn text(&self, i: usize) -> &str {
        let (start, end) = self.bounds[i];
        &self.text[start as usize..end as usize]
    }

    /// Number `i` as a [`Number`], with its span.
    pub fn number(&self, i: usize) -> Number {
        let (start, end) = self.bounds[i];
        let before = &self.text[..start as usize];
        let breaks = before.matches('\n').count() as u32;
        let line = self.span.line + breaks;
        let column = match before.rfind('\n') {
            Some(at) => before[at + 1..].chars().count() as u32 + 1,
            None => self.span.column + before.chars().count() as u32,
        };
        let offset = self.span.start;
        let end_line = line + self.text(i).matches('\n').count() as u32;
        let span = Span { start: offset + start as usize, end: offset + end as usize, line, column, end_line };
        Number { text: self.text(i).to_string(), value: self.values[i].to_rational(), span }
    }

    /// Every number as a [`Number`], with its span (counted on from one
    /// number to the next, so this takes one pass over the text).
    pub fn numbers(&self) -> Vec<Number> {
        let mut out = Vec::with_capacity(self.len());
        let (mut line, mut column, mut at) = (self.span.line, self.span.column, 0usize);
        for i in 0..self.len() {
            let (start, end) = (self.bounds[i].0 as usize, self.bounds[i].1 as usize);
            for c in self.text[at..start].chars() {
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            at = start;
            let end_line = line + self.text(i).matches('\n').count() as u32;
            let span = Span { start: self.span.start + start, end: self.span.start + end, line, column, end_line };
            out.push(Number { text: self.text(i).to_string(), value: self.values[i].to_rational(), span });
        }
        out
    }
}

impl std::fmt::Debug for NumberList {
    /// The numbers as written, as a list of [`Literal::Number`] would show them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((0..self.len()).map(|i| self.text(i))).finish()
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
