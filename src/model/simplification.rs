//! The simplifications that [`Graph`](super::Graph)'s constructors apply,
//! as one table.
//!
//! Every node is built through a constructor that keeps it canonical
//! (`expr.rs`); each rewrite a constructor may make is one named line here,
//! and the constructor records which fired. The derivation reads that record
//! to name, in its steps, the simplifications a reader would otherwise have
//! to guess (`like-terms`, `common-factor`); the ones every reader makes
//! without a word (`1 x = x`, `x + 0 = x`, number arithmetic) are kept out
//! of the steps, so that naming rules does not bury the derivative rules.

/// One simplification of the constructors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Simplification {
    FoldConstants,
    AddZero,
    TimesOne,
    TimesZero,
    PowerZero,
    ConstantFirst,
    DoubleNegation,
    MinusNegation,
    NegationOut,
    NegateCoefficient,
    ScalarOperand,
    DoubleTranspose,
    ReshapeInverse,
    NegateDifference,
    NegativeFirst,
    LikeTerms,
    NegativeCoefficient,
    CommonFactor,
    PositiveCoefficient,
    CoefficientProduct,
    Reciprocal,
    DivisionOut,
    DivideCoefficient,
    ZeroOver,
    TransposeProduct,
    SumCoefficient,
    SquareOfRoot,
}

/// A simplification's entry in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimplificationRule {
    pub rule: Simplification,
    /// The rule's name, as shown in derivation steps (`like-terms`).
    pub name: &'static str,
    /// The rule, its formulas in both notations.
    pub statement: Sentence,
    /// Whether derivation steps name it: false for what every reader does
    /// silently (arithmetic on numbers, identities, where a sign is written).
    pub shown: bool,
}

use super::sentence::{m, same, w, Sentence};
use Simplification as S;

const fn rule(rule: Simplification, name: &'static str, statement: Sentence, shown: bool) -> SimplificationRule {
    SimplificationRule { rule, name, statement, shown }
}

/// Every simplification, in the order of [`Simplification`].
pub const SIMPLIFICATIONS: [SimplificationRule; 27] = [
    rule(
        S::FoldConstants,
        "fold-constants",
        &[m("c ∘ d", r"c \circ d"), w(" is computed exactly for numbers "), same("c"), w(" and "), same("d")],
        false,
    ),
    rule(
        S::AddZero,
        "add-zero",
        &[m("x + 0 = 0 + x = x − 0 = x", "x + 0 = 0 + x = x - 0 = x"), w(", "), m("0 − x = −x", "0 - x = -x")],
        false,
    ),
    rule(
        S::TimesOne,
        "times-one",
        &[
            same("1 x = x"),
            w(", "),
            same("x / 1 = x"),
            w(", "),
            m("x¹ = x", "x^{1} = x"),
            w(", "),
            m("(−1) x = −x", "(-1)\\, x = -x"),
        ],
        false,
    ),
    rule(S::TimesZero, "times-zero", &[m("0 x = 0", r"0\, x = 0"), w(" for a scalar "), same("x")], false),
    rule(S::PowerZero, "power-zero", &[m("x⁰ = 1", "x^{0} = 1"), w(" for a scalar "), same("x")], false),
    rule(
        S::ConstantFirst,
        "constant-first",
        &[m("x c = c x", r"x\, c = c\, x"), w(": a number is written in front")],
        false,
    ),
    rule(S::DoubleNegation, "double-negation", &[m("−(−x) = x", "-(-x) = x")], false),
    rule(
        S::MinusNegation,
        "minus-negation",
        &[m("a + (−b) = a − b", "a + (-b) = a - b"), w(", "), m("a − (−b) = a + b", "a - (-b) = a + b")],
        false,
    ),
    rule(
        S::NegationOut,
        "negation-out",
        &[
            m("(−a) b = a (−b) = −(a b)", r"(-a)\, b = a\, (-b) = -(a\, b)"),
            w(" for "),
            m("⊙", r"\odot"),
            w(", "),
            m("⊘", r"\oslash"),
            w(" and matrix products; "),
            m("(−a)ᵀ = −aᵀ", r"(-a)^\top = -a^\top"),
            w("; "),
            m("Σ(−a) = −Σa", r"\textstyle\sum (-a) = -\sum a"),
        ],
        false,
    ),
    rule(
        S::NegateCoefficient,
        "negate-coefficient",
        &[m("−(c x) = (−c) x", r"-(c\, x) = (-c)\, x"), w(" for a number "), same("c")],
        false,
    ),
    rule(
        S::ScalarOperand,
        "scalar-operand",
        &[
            m("A B = A ⊙ B", r"A B = A \odot B"),
            w(" when "),
            same("A"),
            w(" or "),
            same("B"),
            w(" is a scalar; "),
            m("Σa = aᵀ = a", r"\textstyle\sum a = a^\top = a"),
            w(" for a scalar "),
            same("a"),
        ],
        false,
    ),
    rule(S::DoubleTranspose, "double-transpose", &[m("(Aᵀ)ᵀ = A", r"(A^\top)^\top = A")], false),
    rule(
        S::ReshapeInverse,
        "reshape-inverse",
        &[
            m("flatten(reshape(v)) = v", r"\operatorname{flatten}(\operatorname{reshape}(v)) = v"),
            w(", "),
            m("reshape(flatten(T)) = T", r"\operatorname{reshape}(\operatorname{flatten}(T)) = T"),
            w("; flattening a column or reshaping to its own shape changes nothing"),
        ],
        false,
    ),
    rule(S::NegateDifference, "negate-difference", &[m("−(a − b) = b − a", "-(a - b) = b - a")], true),
    rule(S::NegativeFirst, "negative-first", &[m("(−a) + b = b − a", "(-a) + b = b - a")], true),
    rule(S::LikeTerms, "like-terms", &[m("c x ± d x = (c ± d) x", r"c\, x \pm d\, x = (c \pm d)\, x")], true),
    rule(
        S::NegativeCoefficient,
        "negative-coefficient",
        &[
            m("a + (−c) x = a − c x", r"a + (-c)\, x = a - c\, x"),
            w(", "),
            m("a − (−c) x = a + c x", r"a - (-c)\, x = a + c\, x"),
            w(" for a number "),
            m("c > 0", "c > 0"),
        ],
        true,
    ),
    rule(
        S::CommonFactor,
        "common-factor",
        &[
            m("a ⊙ b ± a ⊙ c = a ⊙ (b ± c)", r"a \odot b \pm a \odot c = a \odot (b \pm c)"),
            w(", "),
            m("c x ± c y = c (x ± y)", r"c\, x \pm c\, y = c\, (x \pm y)"),
        ],
        true,
    ),
    rule(
        S::PositiveCoefficient,
        "positive-coefficient",
        &[m("(−c) (a − b) = c (b − a)", r"(-c)\, (a - b) = c\, (b - a)"), w(" for a number "), m("c > 0", "c > 0")],
        true,
    ),
    rule(
        S::CoefficientProduct,
        "coefficient-product",
        &[
            m("c (d x) = (c d) x", r"c\, (d\, x) = (c\, d)\, x"),
            w(", "),
            m("x (c y) = c (x y)", r"x\, (c\, y) = c\, (x\, y)"),
            w(" for numbers "),
            same("c"),
            w(" and "),
            same("d"),
        ],
        true,
    ),
    rule(S::Reciprocal, "reciprocal", &[m("a ⊙ (1 ⊘ b) = a ⊘ b", r"a \odot (1 \oslash b) = a \oslash b")], true),
    rule(
        S::DivisionOut,
        "division-out",
        &[m("x (y / d) = (x y) / d", r"x\, (y / d) = (x\, y) / d"), w(" for a number "), same("d")],
        true,
    ),
    rule(
        S::DivideCoefficient,
        "divide-coefficient",
        &[
            m("(c x) / d = (c / d) x", r"(c\, x) / d = (c / d)\, x"),
            w(" for numbers "),
            same("c"),
            w(" and "),
            same("d"),
        ],
        true,
    ),
    rule(S::ZeroOver, "zero-over", &[same("0 / u = 0")], true),
    rule(
        S::TransposeProduct,
        "transpose-product",
        &[
            m("(A Bᵀ)ᵀ = B Aᵀ", r"(A B^\top)^\top = B A^\top"),
            w(", "),
            m("(Aᵀ B)ᵀ = Bᵀ A", r"(A^\top B)^\top = B^\top A"),
        ],
        true,
    ),
    rule(
        S::SumCoefficient,
        "sum-coefficient",
        &[m("Σ(c x) = c Σx", r"\textstyle\sum (c\, x) = c \sum x"), w(" for a number "), same("c")],
        true,
    ),
    rule(
        S::SquareOfRoot,
        "square-of-root",
        &[m("sqrt(a)² = (a^(1/2))² = a", r"\sqrt{a}^{2} = (a^{1/2})^{2} = a")],
        true,
    ),
];

impl Simplification {
    /// Every simplification, in table order.
    pub const ALL: [Simplification; 27] = {
        let mut all = [S::FoldConstants; 27];
        let mut i = 0;
        while i < 27 {
            all[i] = SIMPLIFICATIONS[i].rule;
            i += 1;
        }
        all
    };

    /// The rule's entry in [`SIMPLIFICATIONS`].
    pub fn entry(self) -> &'static SimplificationRule {
        &SIMPLIFICATIONS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.entry().name
    }

    pub fn shown(self) -> bool {
        self.entry().shown
    }
}

/// A set of simplifications: those that fired while something was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fired(u32);

impl Fired {
    pub fn insert(&mut self, s: Simplification) {
        self.0 |= 1 << s as u32;
    }

    pub fn contains(self, s: Simplification) -> bool {
        self.0 & (1 << s as u32) != 0
    }

    pub fn union(self, other: Fired) -> Fired {
        Fired(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in table order.
    pub fn iter(self) -> impl Iterator<Item = Simplification> {
        Simplification::ALL.into_iter().filter(move |&s| self.contains(s))
    }

    /// Only the members that derivation steps name.
    pub fn shown(self) -> Fired {
        Fired(self.iter().filter(|s| s.shown()).fold(0, |acc, s| acc | 1 << s as u32))
    }

    /// The names of the members that derivation steps name, in table order.
    pub fn shown_names(self) -> Vec<&'static str> {
        self.iter().filter(|s| s.shown()).map(Simplification::name).collect()
    }
}

#[cfg(test)]
mod tests {
    //! One test per simplification (egg style): a start, the canonical form
    //! the constructors make of it, and the rule recorded as fired. The form
    //! is written out by a small printer of the node structure, so that a
    //! test does not rebuild its expectation through the rule it tests.

    use num_rational::BigRational;

    use super::*;
    use crate::model::expr::{Graph, Node, NodeId, TensorId};
    use crate::model::{Reduction, Shape};

    /// The node structure as an s-expression: `(⊙ 2 (− y x))`.
    fn show(g: &Graph, id: NodeId) -> String {
        let names = ["x", "y", "z", "s", "A", "B", "M"];
        let c = |n: NodeId| show(g, n);
        match g.node(id) {
            Node::Tensor(TensorId(i)) => names[*i as usize].to_string(),
            Node::Const(v) => v.to_string(),
            Node::Neg(a) => format!("(− {})", c(*a)),
            Node::Add(a, b) => format!("(+ {} {})", c(*a), c(*b)),
            Node::Sub(a, b) => format!("(− {} {})", c(*a), c(*b)),
            Node::Mul(a, b) => format!("(⊙ {} {})", c(*a), c(*b)),
            Node::Div(a, b) => format!("(⊘ {} {})", c(*a), c(*b)),
            Node::Pow(a, e) => format!("(^ {} {e})", c(*a)),
            Node::MatMul(a, b) => format!("(@ {} {})", c(*a), c(*b)),
            Node::Transpose(a) => format!("(ᵀ {})", c(*a)),
            Node::Reduce(_, a) => format!("(Σ {})", c(*a)),
            Node::Flatten(a) => format!("(flatten {})", c(*a)),
            Node::Reshape(a, _) => format!("(reshape {})", c(*a)),
            other => format!("{other:?}"),
        }
    }

    /// The leaves the tests build from: vectors x, y, z of length 3, a
    /// scalar s, matrices A [2,3] and B [4,3], and a map M [2,2,2].
    struct Leaves {
        x: NodeId,
        y: NodeId,
        z: NodeId,
        s: NodeId,
        a: NodeId,
        b: NodeId,
        m: NodeId,
    }

    fn leaves(g: &mut Graph) -> Leaves {
        let v = Shape::vector(3);
        Leaves {
            x: g.tensor(TensorId(0), v.clone()),
            y: g.tensor(TensorId(1), v.clone()),
            z: g.tensor(TensorId(2), v),
            s: g.tensor(TensorId(3), Shape::scalar()),
            a: g.tensor(TensorId(4), Shape(vec![2, 3])),
            b: g.tensor(TensorId(5), Shape(vec![4, 3])),
            m: g.tensor(TensorId(6), Shape(vec![2, 2, 2])),
        }
    }

    macro_rules! simplifications {
        ($($test:ident: $rule:ident, |$g:ident, $l:ident| $build:expr => $expected:literal;)*) => {
            $(
                #[test]
                fn $test() {
                    let mut $g = Graph::new();
                    #[allow(unused_variables)]
                    let $l = leaves(&mut $g);
                    $g.take_fired();
                    let result = $build;
                    let fired = $g.take_fired();
                    assert_eq!(show(&$g, result), $expected);
                    assert!(fired.contains(S::$rule), "{:?} not recorded: {:?}", S::$rule, fired.iter().collect::<Vec<_>>());
                }
            )*

            /// The rules the tests above cover.
            const TESTED: &[Simplification] = &[$(S::$rule),*];
        };
    }

    simplifications! {
        fold_constants: FoldConstants, |g, l| { let (a, b) = (g.int(2), g.int(3)); g.add(a, b) } => "5";
        add_zero: AddZero, |g, l| { let zero = g.int(0); g.add(l.x, zero) } => "x";
        zero_minus: AddZero, |g, l| { let zero = g.int(0); g.sub(zero, l.x) } => "(− x)";
        times_one: TimesOne, |g, l| { let one = g.int(1); g.mul(one, l.x) } => "x";
        times_minus_one: TimesOne, |g, l| { let m = g.int(-1); g.mul(m, l.x) } => "(− x)";
        times_zero: TimesZero, |g, l| { let zero = g.int(0); g.mul(zero, l.s) } => "0";
        power_zero: PowerZero, |g, l| g.pow(l.s, BigRational::from_integer(0.into())) => "1";
        constant_first: ConstantFirst, |g, l| { let c = g.int(3); g.mul(l.x, c) } => "(⊙ 3 x)";
        double_negation: DoubleNegation, |g, l| { let n = g.neg(l.x); g.neg(n) } => "x";
        minus_negation: MinusNegation, |g, l| { let n = g.neg(l.y); g.add(l.x, n) } => "(− x y)";
        minus_minus: MinusNegation, |g, l| { let n = g.neg(l.y); g.sub(l.x, n) } => "(+ x y)";
        negation_out: NegationOut, |g, l| { let n = g.neg(l.y); g.mul(l.x, n) } => "(− (⊙ x y))";
        negation_out_of_sum: NegationOut, |g, l| { let n = g.neg(l.y); g.reduce(Reduction::Sum, n) } => "(− (Σ y))";
        negate_coefficient: NegateCoefficient, |g, l| { let c = g.int(3); let m = g.mul(c, l.x); g.neg(m) } => "(⊙ -3 x)";
        scalar_operand: ScalarOperand, |g, l| g.matmul(l.s, l.x) => "(⊙ s x)";
        double_transpose: DoubleTranspose, |g, l| { let t = g.transpose(l.a); g.transpose(t) } => "A";
        reshape_inverse: ReshapeInverse, |g, l| { let f = g.flatten(l.m); g.reshape(f, Shape(vec![2, 2, 2])) } => "M";
        negate_difference: NegateDifference, |g, l| { let d = g.sub(l.x, l.y); g.neg(d) } => "(− y x)";
        negative_first: NegativeFirst, |g, l| { let n = g.neg(l.x); g.add(n, l.y) } => "(− y x)";
        like_terms: LikeTerms, |g, l| { let t = g.add(l.x, l.x); g.add(t, l.x) } => "(⊙ 3 x)";
        like_terms_cancel: LikeTerms, |g, l| g.sub(l.s, l.s) => "0";
        negative_coefficient: NegativeCoefficient, |g, l| { let c = g.int(-2); let m = g.mul(c, l.y); g.add(l.x, m) } => "(− x (⊙ 2 y))";
        common_factor: CommonFactor, |g, l| { let a = g.mul(l.x, l.y); let b = g.mul(l.x, l.z); g.add(a, b) } => "(⊙ x (+ y z))";
        common_coefficient: CommonFactor, |g, l| { let c = g.int(2); let a = g.mul(c, l.x); let b = g.mul(c, l.y); g.sub(a, b) } => "(⊙ 2 (− x y))";
        positive_coefficient: PositiveCoefficient, |g, l| { let c = g.int(-2); let d = g.sub(l.x, l.y); g.mul(c, d) } => "(⊙ 2 (− y x))";
        coefficient_product: CoefficientProduct, |g, l| { let (two, three) = (g.int(2), g.int(3)); let m = g.mul(two, l.y); g.mul(three, m) } => "(⊙ 6 y)";
        coefficient_to_the_front: CoefficientProduct, |g, l| { let two = g.int(2); let m = g.mul(two, l.y); g.mul(l.x, m) } => "(⊙ 2 (⊙ x y))";
        reciprocal: Reciprocal, |g, l| { let one = g.int(1); let r = g.div(one, l.y); g.mul(l.x, r) } => "(⊘ x y)";
        division_out: DivisionOut, |g, l| { let two = g.int(2); let q = g.div(l.y, two); g.mul(l.x, q) } => "(⊘ (⊙ x y) 2)";
        divide_coefficient: DivideCoefficient, |g, l| { let (three, two) = (g.int(3), g.int(2)); let m = g.mul(three, l.x); g.div(m, two) } => "(⊙ 3/2 x)";
        zero_over: ZeroOver, |g, l| { let zero = g.int(0); g.div(zero, l.s) } => "0";
        transpose_product: TransposeProduct, |g, l| { let bt = g.transpose(l.b); let p = g.matmul(l.a, bt); g.transpose(p) } => "(@ B (ᵀ A))";
        sum_coefficient: SumCoefficient, |g, l| { let c = g.int(3); let m = g.mul(c, l.x); g.reduce(Reduction::Sum, m) } => "(⊙ 3 (Σ x))";
        square_of_root: SquareOfRoot, |g, l| { let r = g.apply(crate::model::Func::Builtin(crate::model::Elementwise::Sqrt), vec![l.x]); g.pow(r, BigRational::from_integer(2.into())) } => "x";
        square_of_half_power: SquareOfRoot, |g, l| { let r = g.pow(l.x, BigRational::new(1.into(), 2.into())); g.pow(r, BigRational::from_integer(2.into())) } => "x";
    }

    /// The table lists every rule once, in the enum's order, and each has a test above.
    #[test]
    fn every_simplification_is_in_the_table_and_tested() {
        for (i, entry) in SIMPLIFICATIONS.iter().enumerate() {
            assert_eq!(entry.rule as usize, i, "{} is out of order", entry.name);
            assert!(TESTED.contains(&entry.rule), "{} has no test", entry.name);
        }
        let mut names: Vec<&str> = SIMPLIFICATIONS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SIMPLIFICATIONS.len(), "two rules share a name");
    }

    /// Building what is already canonical fires nothing, and the record is
    /// cleared by reading it.
    #[test]
    fn a_canonical_build_fires_nothing() {
        let mut g = Graph::new();
        let l = leaves(&mut g);
        g.take_fired();
        let p = g.mul(l.x, l.y);
        let _ = g.sub(p, l.z);
        assert!(g.take_fired().is_empty());
        let n = g.neg(l.x);
        let _ = g.neg(n);
        assert!(!g.take_fired().is_empty());
        assert!(g.take_fired().is_empty());
    }

    #[test]
    fn only_the_shown_rules_are_named() {
        let mut fired = Fired::default();
        fired.insert(S::TimesOne);
        fired.insert(S::LikeTerms);
        assert_eq!(fired.shown_names(), ["like-terms"]);
        assert!(fired.shown().contains(S::LikeTerms) && !fired.shown().contains(S::TimesOne));
    }
}
