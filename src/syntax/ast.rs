//! The abstract syntax tree: a faithful picture of a `.nn` file, with a span on
//! every node. Nothing here is checked yet; names are strings and shapes are
//! whatever the file wrote. The checked form is [`crate::model`].

use std::borrow::Cow;

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
    /// `layout rows` or `layout columns`: how a batch lays out its examples.
    Layout(LayoutDecl),
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
            Item::Layout(l) => l.span,
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

/// How a batch lays out its examples, as `layout rows` or `layout columns`
/// states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One example per row (`X @ W + b`, NumPy's and PyTorch's habit): a
    /// vector `[M]` beside an `[N, M]` matrix is a row added to every row.
    Rows,
    /// One example per column (`W @ X + b`, the textbooks' habit): a vector
    /// `[M]` beside an `[M, N]` matrix is a column added to every column.
    Columns,
}

impl Layout {
    /// The word the statement uses.
    pub fn word(self) -> &'static str {
        match self {
            Layout::Rows => "rows",
            Layout::Columns => "columns",
        }
    }
}

/// `layout rows`: the layout, where its word is, and the whole statement.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutDecl {
    pub layout: Layout,
    pub word_span: Span,
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
    /// `~ uniform(-0.5, 0.5, step = 0.1)`: how `nnderive vary` draws new
    /// numbers for this tensor.
    pub draw: Option<Draw>,
    pub span: Span,
}

/// `~ NAME` or `~ NAME(args)` after a declaration: the rule by which
/// `nnderive vary` draws the tensor's numbers (`uniform(-0.5, 0.5, step =
/// 0.1)`, `choice(0, 1)`, `onehot`, `fixed`). Checked by the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    pub name: Ident,
    /// The arguments in the order written, positional or `key = value`.
    pub args: Vec<DrawArg>,
    /// From `~` to the end of the rule.
    pub span: Span,
}

/// One argument of a [`Draw`]: a number, named (`step = 0.1`) or not.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawArg {
    pub name: Option<Ident>,
    pub value: Number,
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
            _ => crate::rational::eq(&self.to_rational(), &other.to_rational()),
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

/// A sequence of [`Decimal`]s kept in 8 bytes each when short (a mantissa
/// within ±2^54, a power of ten from −128 to 127: every decimal as people
/// write them), so that a 4000×4000 literal takes 128 MB, not 256 MB; any
/// other decimal is kept whole on the side.
#[derive(Clone, Default)]
pub struct Decimals {
    /// Per entry: bit 0 clear, a short decimal (bits 1–8 the power of ten
    /// as an i8, bits 9–63 the mantissa as a 55-bit signed integer); bit 0
    /// set, bits 1–63 the index in `long`.
    packed: Vec<u64>,
    long: Vec<Decimal>,
}

/// What [`Decimals::parts`] gives for an index past `long` (never met).
static ZERO: Decimal = Decimal::Small { mantissa: 0, exponent: 0 };

/// The mantissas a packed decimal holds: 55-bit signed integers.
const PACKED_MANTISSA: std::ops::RangeInclusive<i64> = -(1 << 54)..=(1 << 54) - 1;

impl Decimals {
    pub fn new() -> Decimals {
        Decimals::default()
    }

    pub fn with_capacity(n: usize) -> Decimals {
        Decimals { packed: Vec::with_capacity(n), long: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    #[inline]
    pub fn push(&mut self, d: Decimal) {
        let short = match d {
            Decimal::Small { mantissa, exponent } if PACKED_MANTISSA.contains(&mantissa) => {
                i8::try_from(exponent).ok().map(|e| ((mantissa as u64) << 9) | (u64::from(e as u8) << 1))
            }
            _ => None,
        };
        match short {
            Some(word) => self.packed.push(word),
            None => {
                self.packed.push(((self.long.len() as u64) << 1) | 1);
                self.long.push(d);
            }
        }
    }

    /// Pushes `mantissa · 10^exponent`, packed straight away when it fits
    /// (the parser's fast path for rows of numbers comes through here).
    #[inline]
    pub fn push_small(&mut self, mantissa: i64, exponent: i32) {
        match i8::try_from(exponent) {
            Ok(e) if PACKED_MANTISSA.contains(&mantissa) => {
                self.packed.push(((mantissa as u64) << 9) | (u64::from(e as u8) << 1))
            }
            _ => self.push(Decimal::Small { mantissa, exponent }),
        }
    }

    /// Entry `i` (`None` past the end).
    pub fn get(&self, i: usize) -> Option<Decimal> {
        self.packed.get(i).map(|&word| self.unpack(word))
    }

    fn unpack(&self, word: u64) -> Decimal {
        if word & 1 == 1 {
            return self.long.get((word >> 1) as usize).cloned().unwrap_or(Decimal::Small { mantissa: 0, exponent: 0 });
        }
        // Arithmetic shifts bring back the signs.
        let mantissa = (word as i64) >> 9;
        let exponent = i32::from(((word >> 1) & 0xff) as u8 as i8);
        Decimal::Small { mantissa, exponent }
    }

    pub fn first(&self) -> Option<Decimal> {
        self.get(0)
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Decimal> + '_ {
        self.packed.iter().map(|&word| self.unpack(word))
    }

    /// Every entry in order, a short one as its `(mantissa, exponent)`
    /// straight from its packed word (no [`Decimal`] made), any other as
    /// the decimal kept whole: for passes over millions of entries, such
    /// as their conversion to f64.
    pub fn parts(&self) -> impl ExactSizeIterator<Item = Result<(i64, i32), &Decimal>> + '_ {
        self.packed.iter().map(|&word| match word & 1 {
            0 => Ok(((word as i64) >> 9, i32::from(((word >> 1) & 0xff) as u8 as i8))),
            _ => Err(self.long.get((word >> 1) as usize).unwrap_or(&ZERO)),
        })
    }

    /// Appends every entry of `other` (short ones copied as they are).
    pub fn extend_from(&mut self, other: &Decimals) {
        if other.long.is_empty() {
            self.packed.extend_from_slice(&other.packed);
        } else {
            other.iter().for_each(|d| self.push(d));
        }
    }
}

impl FromIterator<Decimal> for Decimals {
    fn from_iter<I: IntoIterator<Item = Decimal>>(iter: I) -> Decimals {
        let mut out = Decimals::new();
        iter.into_iter().for_each(|d| out.push(d));
        out
    }
}

/// Equal when their entries are equal values.
impl PartialEq for Decimals {
    fn eq(&self, other: &Decimals) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl std::fmt::Debug for Decimals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
#[derive(Clone)]
pub struct NumberList {
    /// From `[` to `]`.
    pub span: Span,
    /// The list's text as written, from `[` to `]`; `None` when it is
    /// written as [`NumberList::canonical`] describes, so that the values
    /// give the text again (a matrix row as programs print them: most of
    /// a large file's bytes, not kept twice).
    text: Option<String>,
    values: Decimals,
    /// Each number's byte range in `text`; empty when the text is only
    /// numbers, commas and white space (a matrix row), where
    /// [`comma_bounds`] finds them again.
    bounds: Vec<(u32, u32)>,
}

/// The byte ranges of the entries of a list's text `[a, b, c]` between its
/// commas, white space trimmed; an empty entry after a trailing comma is none.
fn comma_bounds(text: &str) -> impl Iterator<Item = (u32, u32)> + '_ {
    let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    let mut at = 1;
    inner
        .split(',')
        .map(move |piece| {
            let start = at + (piece.len() - piece.trim_start().len());
            let end = at + piece.trim_end().len();
            at += piece.len() + 1;
            (start as u32, end as u32)
        })
        .filter(|(start, end)| end > start)
}

/// How a short decimal is written canonically: a `-` for a negative value,
/// the integer digits (`0` when there are none), and for a negative power
/// of ten a `.` with exactly that many fraction digits, so that `0.50`
/// keeps its zero: `decimal_text(-50, -2)` is `-0.50`. The parser keeps no
/// text for a row written this way (see [`NumberList::canonical`]).
pub fn decimal_text(mantissa: i64, exponent: i32) -> String {
    let digits = mantissa.unsigned_abs().to_string();
    let sign = if mantissa < 0 { "-" } else { "" };
    if exponent >= 0 {
        let zeros = "0".repeat(if mantissa == 0 { 0 } else { exponent as usize });
        return format!("{sign}{digits}{zeros}");
    }
    let places = exponent.unsigned_abs() as usize;
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    format!("{sign}{int}.{frac}")
}

/// The length of [`decimal_text`], without writing it.
pub(crate) fn decimal_text_len(mantissa: i64, exponent: i32) -> usize {
    let digits = mantissa.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
    let sign = usize::from(mantissa < 0);
    match exponent {
        0 => sign + digits,
        1.. if mantissa == 0 => 1,
        1.. => sign + digits + exponent as usize,
        _ => sign + digits.max(exponent.unsigned_abs() as usize + 1) + 1,
    }
}

impl NumberList {
    /// A list from its text and, for each number, its value and byte range
    /// in that text; `None` if the text is too long to index with u32.
    pub fn new(span: Span, text: String, values: Decimals, bounds: Vec<(u32, u32)>) -> Option<NumberList> {
        if u32::try_from(text.len()).is_err() || values.len() != bounds.len() {
            return None;
        }
        // Ranges that the commas give again need not be kept (8 bytes a number).
        let found_again = comma_bounds(&text).eq(bounds.iter().copied());
        let bounds = if found_again { Vec::new() } else { bounds };
        Some(NumberList { span, text: Some(text), values, bounds })
    }

    /// A list whose text is only numbers, commas and white space, so that
    /// the commas say where each number is; `None` if they do not.
    pub fn plain(span: Span, text: String, values: Decimals) -> Option<NumberList> {
        let fits = u32::try_from(text.len()).is_ok() && comma_bounds(&text).count() == values.len();
        fits.then_some(NumberList { span, text: Some(text), values, bounds: Vec::new() })
    }

    /// A row read by the parser's fast path: only numbers, commas and
    /// white space, so that the commas say where each number is (checked
    /// as it was read, so not again as [`NumberList::plain`] does).
    pub(crate) fn from_row(span: Span, text: String, values: Decimals) -> NumberList {
        debug_assert!(u32::try_from(text.len()).is_ok() && comma_bounds(&text).count() == values.len());
        NumberList { span, text: Some(text), values, bounds: Vec::new() }
    }

    /// A list written `[a, b, c]` on one line: a `[`, the numbers joined by
    /// `, `, a `]`, each number written as [`decimal_text`] writes its value
    /// (so a short decimal with a power of ten from −128 to 0, and no `-0`,
    /// `+1`, `.5`, `1.`, `007` or `1e3`); no text is kept, the values give
    /// it again. The caller has checked the text, as the parser's fast path
    /// for rows does while it reads them (checked again here in debug
    /// builds only: it is a second pass over every number).
    pub(crate) fn canonical(span: Span, values: Decimals) -> NumberList {
        let list = NumberList { span, text: None, values, bounds: Vec::new() };
        debug_assert!(
            list.values.long.is_empty()
                && list.values.iter().all(|d| matches!(d, Decimal::Small { exponent: ..=0, .. }))
                && list.ranges().last().map(|(_, end)| end as usize + 1) == Some(span.end - span.start),
            "not a canonical row: {span:?}"
        );
        list
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn values(&self) -> &Decimals {
        &self.values
    }

    /// Every number's byte range in the text, in order.
    fn ranges(&self) -> Box<dyn Iterator<Item = (u32, u32)> + '_> {
        match &self.text {
            None => {
                let mut at = 1u32;
                Box::new(self.values.iter().map(move |d| {
                    let len = match d {
                        Decimal::Small { mantissa, exponent } => decimal_text_len(mantissa, exponent) as u32,
                        Decimal::Rational(_) => 0,
                    };
                    let range = (at, at + len);
                    at += len + 2;
                    range
                }))
            }
            Some(text) if self.bounds.is_empty() => Box::new(comma_bounds(text)),
            Some(_) => Box::new(self.bounds.iter().copied()),
        }
    }

    /// The byte range of number `i` (a pass over the text when the ranges are not kept).
    fn range(&self, i: usize) -> (u32, u32) {
        match self.bounds.get(i) {
            Some(&range) => range,
            None => self.ranges().nth(i).unwrap_or((0, 0)),
        }
    }

    /// Every number as written, sign included, in order.
    pub fn texts(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        self.ranges().enumerate().map(|(i, range)| self.written(i, range))
    }

    /// Number `i` as written, sign included.
    pub fn text(&self, i: usize) -> Cow<'_, str> {
        self.written(i, self.range(i))
    }

    /// Number `i`, whose byte range is `range`, as written.
    fn written(&self, i: usize, (start, end): (u32, u32)) -> Cow<'_, str> {
        match &self.text {
            Some(text) => Cow::Borrowed(&text[start as usize..end as usize]),
            None => match self.values.get(i) {
                Some(Decimal::Small { mantissa, exponent }) => Cow::Owned(decimal_text(mantissa, exponent)),
                _ => Cow::Borrowed(""),
            },
        }
    }

    /// Number `i` as a [`Number`], with its span.
    pub fn number(&self, i: usize) -> Number {
        let (start, end) = self.range(i);
        let before = self.text.as_deref().map_or("", |text| &text[..start as usize]);
        let breaks = before.matches('\n').count() as u32;
        let line = self.span.line + breaks;
        let column = match before.rfind('\n') {
            Some(at) => before[at + 1..].chars().count() as u32 + 1,
            // A canonical text is all ASCII: one byte, one column.
            None if self.text.is_none() => self.span.column + start,
            None => self.span.column + before.chars().count() as u32,
        };
        let offset = self.span.start;
        let text = self.written(i, (start, end)).into_owned();
        let end_line = line + text.matches('\n').count() as u32;
        let span = Span { start: offset + start as usize, end: offset + end as usize, line, column, end_line };
        let value = self.values.get(i).map(|d| d.to_rational()).unwrap_or_default();
        Number { text, value, span }
    }

    /// Every number as a [`Number`], with its span (counted on from one
    /// number to the next, so this takes one pass over the text).
    pub fn numbers(&self) -> Vec<Number> {
        let mut out = Vec::with_capacity(self.len());
        let (mut line, mut column, mut at) = (self.span.line, self.span.column, 0usize);
        for (i, ((start, end), value)) in self.ranges().zip(self.values.iter()).enumerate() {
            let (start, end) = (start as usize, end as usize);
            match &self.text {
                Some(text) => {
                    for c in text[at..start].chars() {
                        if c == '\n' {
                            line += 1;
                            column = 1;
                        } else {
                            column += 1;
                        }
                    }
                }
                None => column += (start - at) as u32,
            }
            at = start;
            let text = self.written(i, (start as u32, end as u32)).into_owned();
            let end_line = line + text.matches('\n').count() as u32;
            let span = Span { start: self.span.start + start, end: self.span.start + end, line, column, end_line };
            out.push(Number { text, value: value.to_rational(), span });
        }
        out
    }
}

/// Equal when written alike in the same place, however the text is kept.
impl PartialEq for NumberList {
    fn eq(&self, other: &NumberList) -> bool {
        self.span == other.span
            && self.values == other.values
            && self.ranges().eq(other.ranges())
            && self.texts().eq(other.texts())
    }
}

impl std::fmt::Debug for NumberList {
    /// The numbers as written, as a list of [`Literal::Number`] would show them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.texts()).finish()
    }
}

/// A number as written (`-1e-3`, `0.5`, `2`) and its exact value.
#[derive(Clone, Debug)]
pub struct Number {
    /// The source text, sign included.
    pub text: String,
    /// The exact value of the decimal text.
    pub value: BigRational,
    pub span: Span,
}

/// The value compared without recursion (see [`crate::rational`]).
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.text == other.text && crate::rational::eq(&self.value, &other.value) && self.span == other.span
    }
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

/// `key = number`, `key = name` or `key = [name, ...]` inside `train sgd(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainArg {
    pub name: Ident,
    pub value: TrainValue,
}

/// What a `train` setting is given: a number (`lr = 0.01`), or the tensors
/// an optimizer's state starts from (`velocity = v0`, one per parameter in
/// a bracketed list, `velocity = [v1, v2]`).
#[derive(Clone, Debug, PartialEq)]
pub enum TrainValue {
    Number(Number),
    State(StateNames),
}

/// `v0` or `[v1, v2]`: the tensors a state starts from.
#[derive(Clone, Debug, PartialEq)]
pub struct StateNames {
    pub names: Vec<Ident>,
    /// Written in brackets (a list even of one name).
    pub bracketed: bool,
    pub span: Span,
}

impl TrainValue {
    /// As written, in the canonical layout.
    pub fn text(&self) -> String {
        match self {
            TrainValue::Number(n) => n.text.clone(),
            TrainValue::State(s) => {
                let names: Vec<&str> = s.names.iter().map(|n| n.name.as_str()).collect();
                match s.bracketed {
                    true => format!("[{}]", names.join(", ")),
                    false => names.join(", "),
                }
            }
        }
    }

    pub fn span(&self) -> Span {
        match self {
            TrainValue::Number(n) => n.span,
            TrainValue::State(s) => s.span,
        }
    }
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
    /// `a[:, 0:5]`, `a[2:]`, `x[1:3, :]`: NumPy's half-open slices of a
    /// tensor, one per axis from the first (axes left out are whole). A
    /// subscript holding a `:` or a `,` is a slice; `x[t]` and `x[0]` stay
    /// steps of a sequence.
    Sliced { name: Ident, axes: Vec<SliceAxis>, span: Span },
    /// `[2, 3]`: a list of values written as an argument of a call (a
    /// pooling window's height and width, `maxpool(X, [2, 3])`); only a
    /// call's arguments parse as lists, and the checker says where one may stand.
    List(Vec<Expr>),
}

/// One axis of a slice subscript, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceAxis {
    pub kind: SliceAxisKind,
    pub span: Span,
}

/// What one axis of a slice subscript holds.
#[derive(Clone, Debug, PartialEq)]
pub enum SliceAxisKind {
    /// `start:end`, either left out (`:`, `2:`, `:H`).
    Range { start: Option<Bound>, end: Option<Bound> },
    /// `0` alone on an axis: NumPy's integer index, which the checker
    /// refuses (it drops the axis; `0:1` keeps it).
    Index(Bound),
}

/// A bound of a slice: a whole number (negative counts from the end, as in
/// NumPy), or a multiple of a declared whole-number constant (`H`, `2H`, `2*H`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    pub value: BoundValue,
    pub span: Span,
}

/// What a [`Bound`] holds.
#[derive(Clone, Debug, PartialEq)]
pub enum BoundValue {
    Whole(i64),
    /// `times` × the value of the constant `name` (`2H`: 2 and `H`).
    Scaled {
        times: u64,
        name: Ident,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn small(mantissa: i64, exponent: i32) -> Decimal {
        Decimal::Small { mantissa, exponent }
    }

    #[test]
    fn decimals_keep_every_value() {
        let big = BigRational::new(BigInt::from(1), BigInt::from(3));
        let values = vec![
            small(0, 0),
            small(-1, 0),
            small(5, -1),
            small((1 << 54) - 1, -128),
            small(-(1 << 54), 127),
            // Past the packed ranges: kept whole.
            small(1 << 54, 0),
            small(-(1 << 54) - 1, 0),
            small(3, 128),
            small(3, -129),
            small(i64::MAX, -1000),
            Decimal::Rational(Box::new(big.clone())),
        ];
        let packed: Decimals = values.iter().cloned().collect();
        assert_eq!(packed.len(), values.len());
        for (i, v) in values.iter().enumerate() {
            let got = packed.get(i).unwrap();
            // Compared as written (mantissa and exponent), not only as values.
            assert_eq!(format!("{got:?}"), format!("{v:?}"), "entry {i}");
            assert_eq!(got.to_rational(), v.to_rational());
        }
        assert_eq!(packed.get(values.len()), None);
        let mut twice = packed.clone();
        twice.extend_from(&packed);
        assert_eq!(twice.iter().skip(values.len()).collect::<Vec<_>>(), values);
        let short: Decimals = [small(1, 0), small(2, -3)].into_iter().collect();
        let mut joined = short.clone();
        joined.extend_from(&short);
        assert_eq!(joined.iter().collect::<Vec<_>>(), [small(1, 0), small(2, -3), small(1, 0), small(2, -3)]);
    }

    #[test]
    fn number_lists_find_their_numbers_again() {
        let span = Span { line: 1, column: 1, end_line: 2, ..Span::default() };
        let values: Decimals = [small(1, 0), small(-25, -1), small(3, -2)].into_iter().collect();
        let text = "[1,  -2.5 ,\t3e-2, ]".to_string();
        let list = NumberList::plain(span, text.clone(), values.clone()).unwrap();
        assert_eq!(list.texts().collect::<Vec<_>>(), ["1", "-2.5", "3e-2"]);
        assert_eq!(list.text(1), "-2.5");
        // A comment between the numbers: the ranges are kept.
        let text = "[1, # a, b\n -2.5, 3e-2]".to_string();
        let bounds = vec![(1, 2), (12, 16), (18, 22)];
        assert_eq!(NumberList::plain(span, text.clone(), values.clone()).map(|_| ()), None);
        let list = NumberList::new(span, text, values, bounds).unwrap();
        assert_eq!(list.texts().collect::<Vec<_>>(), ["1", "-2.5", "3e-2"]);
        assert_eq!(list.number(2).span.line, 2);
    }
}
