//! The one formula printer. Every renderer prints expressions through it;
//! they differ only in the [`Notation`].

use std::collections::HashMap;

use num_rational::BigRational;
use num_traits::Signed;

use std::rc::Rc;

use crate::derive::time::{symbol_keys, SymbolKey};
use crate::derive::{Derivation, SymbolKind, Wrt};
use crate::model::names::{function_name, latex_ident, text_ident, with_step};
use crate::model::ops::map::{self, AnyMapNode};
use crate::model::{
    Elementwise, Func, Graph, LossFn, Model, Node, NodeId, NodeMap, Reduction, Shape, SymbolId, TensorId,
};

/// Names are spelled in the model layer, where the checker refuses two
/// that would print alike.
pub use crate::model::names::{step_name, tensor_name, Notation, StepLabel};

/// Looks up the names that formulas mention.
#[derive(Clone)]
pub struct Names<'a> {
    pub model: &'a Model,
    pub derivation: Option<&'a Derivation>,
    /// Expressions that an equation names: a derived formula that contains
    /// `softmax(Z2)` prints `ŷ` when the file says `yhat = softmax(Z2)`.
    /// Shared, like the maps below, because writers make a copy of the
    /// names for each step of a recurrence (`Names::at`): copying the map
    /// itself made writing T steps take time in T².
    aliases: Rc<NodeMap<TensorId>>,
    /// For a model with time steps: each step-indexed symbol's sequence and step.
    steps: Rc<HashMap<SymbolId, (SymbolKey, u64)>>,
    /// How steps print: concretely (`h₃`), or relative to a step.
    now: Now,
    /// In a model with time steps, the δ's outside any sequence, numbered
    /// among themselves (so that their names do not depend on T).
    untimed: Rc<HashMap<SymbolId, usize>>,
}

/// How the steps of sequences print.
#[derive(Clone, Debug, PartialEq)]
enum Now {
    /// `h₃`.
    Concrete,
    /// Relative to `step`, which plays the index: `h_t`, `h_{t−1}`.
    Index { index: String, step: u64 },
    /// The last three steps relative to T (`h_T`, `h_{T−1}`); the others,
    /// and the steps before the first (`h₀`), concrete. The first step is
    /// relative only in a formula of a later step (`include_first`): at
    /// T = 2 the step before the last is the first, and a formula of the
    /// last step names it `h_{T−1}` as it does for any T. Text that reads
    /// the same for any T.
    NearEnd { first: u64, last: u64, include_first: bool },
}

impl<'a> Names<'a> {
    pub fn new(model: &'a Model, derivation: Option<&'a Derivation>) -> Self {
        let aliases = model
            .equations()
            .filter_map(|t| model.tensor(t).definition.map(|d| (d, t)))
            .filter(|(d, _)| !matches!(model.graph.node(*d), Node::Tensor(_) | Node::Const(_)))
            .collect();
        let steps: HashMap<SymbolId, (SymbolKey, u64)> = derivation.map(|d| symbol_keys(model, d)).unwrap_or_default();
        let mut untimed = HashMap::new();
        if let (Some(d), Some(_)) = (derivation, &model.time) {
            let mut deltas: Vec<(usize, SymbolId)> = (0..d.symbols.len() as u32)
                .map(SymbolId)
                .filter(|s| !steps.contains_key(s))
                .filter_map(|s| match d.symbol(s).kind {
                    SymbolKind::Delta { layer } => Some((layer, s)),
                    SymbolKind::Adjoint => None,
                })
                .collect();
            deltas.sort_unstable();
            untimed = deltas.into_iter().enumerate().map(|(i, (_, s))| (s, i + 1)).collect();
        }
        Names {
            model,
            derivation,
            aliases: Rc::new(aliases),
            steps: Rc::new(steps),
            now: Now::Concrete,
            untimed: Rc::new(untimed),
        }
    }

    /// Names for formulas in a graph of their own (a rule stated on
    /// parameters `t0`, `t1`), where no node stands for an equation.
    pub fn detached(model: &'a Model) -> Self {
        Names { aliases: Rc::default(), ..Names::new(model, None) }
    }

    /// These names with step `step` as the time index `index`: `h[step]`
    /// prints `h_t`, `h[step - 1]` prints `h_{t−1}` (`T` for the last step).
    pub fn at(&self, index: &str, step: u64) -> Names<'a> {
        Names { now: Now::Index { index: index.to_string(), step }, ..self.clone() }
    }

    /// These names with the last steps relative to T: `h_T`, `h_{T−1}`.
    pub fn near_end(&self) -> Names<'a> {
        self.near_end_for(None)
    }

    /// [`Names::near_end`] for a formula of step `k`: one of a step after
    /// the first names the first relative to T too, when it is near the end.
    pub fn near_end_for(&self, k: Option<u64>) -> Names<'a> {
        match &self.model.time {
            Some(t) => {
                let include_first = k.is_some_and(|k| k > t.first);
                Names { now: Now::NearEnd { first: t.first, last: t.last, include_first }, ..self.clone() }
            }
            None => self.clone(),
        }
    }

    fn step_label(&self, k: u64, notation: Notation) -> StepLabel {
        match &self.now {
            // `.nn` has no T: a step near the end keeps its number there.
            Now::NearEnd { .. } if notation == Notation::Nn => StepLabel::At(k),
            Now::Index { index, step } => StepLabel::Relative { index: index.clone(), offset: k as i64 - *step as i64 },
            Now::NearEnd { first, last, include_first }
                if (k > *first || (k == *first && *include_first)) && *last >= k && *last - k <= 2 =>
            {
                StepLabel::Relative { index: "T".into(), offset: k as i64 - *last as i64 }
            }
            _ => StepLabel::At(k),
        }
    }

    /// A tensor's name in `notation`: `yhat` is ŷ / `\hat{y}`, `W1` is `W_1` in LaTeX.
    pub fn tensor(&self, id: TensorId, notation: Notation) -> String {
        let name = &self.model.tensor(id).name;
        match crate::model::time::split_step(name) {
            Some((base, k)) => step_name(base, &self.step_label(k, notation), notation),
            None => tensor_name(name, notation),
        }
    }

    /// The name of the loss (`L`), used in ∂L/∂X.
    fn loss(&self, notation: Notation) -> String {
        self.tensor(self.model.loss, notation)
    }

    /// A symbol: δ2, ∂L/∂H.
    pub fn symbol(&self, id: SymbolId, notation: Notation, graph: &Graph) -> String {
        let Some(d) = self.derivation else {
            return format!("s{}", id.0);
        };
        let s = d.symbol(id);
        if let (SymbolKind::Delta { .. }, Some((key, k))) = (s.kind, self.steps.get(&id)) {
            return delta_name(key, &self.step_label(*k, notation), notation);
        }
        match s.kind {
            SymbolKind::Delta { layer } => {
                // In a model with time steps, untimed δ's are numbered among themselves.
                let layer = self.untimed.get(&id).copied().unwrap_or(layer);
                // A batch's error terms side by side form a matrix: Δ.
                let matrix = self.model.batch.is_some() && s.shape.rank() == 2;
                match (notation, matrix) {
                    (Notation::Text, false) => format!("δ{layer}"),
                    (Notation::Text, true) => format!("Δ{layer}"),
                    (Notation::Nn, _) => format!("delta{layer}"),
                    (Notation::Latex, false) => format!("\\delta_{{{layer}}}"),
                    (Notation::Latex, true) => format!("\\Delta_{{{layer}}}"),
                }
            }
            SymbolKind::Adjoint => self.gradient_of(s.wrt, notation, graph),
        }
    }

    /// ∂L/∂X for a tensor or sub-expression.
    pub fn gradient_of(&self, wrt: Wrt, notation: Notation, graph: &Graph) -> String {
        let l = self.loss(notation);
        let x = match wrt {
            Wrt::Tensor(t) => self.tensor(t, notation),
            Wrt::Node(n) => {
                let inner = formula(graph, n, self, notation);
                match notation {
                    Notation::Latex => format!("\\left({inner}\\right)"),
                    _ => format!("({inner})"),
                }
            }
        };
        match notation {
            Notation::Text => format!("∂{l}/∂{x}"),
            // A step keeps its index: `dL_dc[t+1]` reads back as one step of a sequence.
            Notation::Nn if matches!(wrt, Wrt::Tensor(_)) && x.contains('[') => format!("d{l}_d{x}"),
            Notation::Nn => format!("d{l}_d{}", x.replace(|c: char| !c.is_alphanumeric() && c != '_', "")),
            Notation::Latex => format!("\\frac{{\\partial {l}}}{{\\partial {x}}}"),
        }
    }

    /// The name of a custom function or of its derivative.
    pub fn function(&self, func: Func, notation: Notation) -> String {
        match func {
            Func::Builtin(e) => builtin_name(e, notation).to_string(),
            Func::Custom(f) => function_name(&self.model.function(f).name, notation),
            Func::Derivative { func, wrt } => {
                let f = self.model.function(func);
                let name = function_name(&f.name, notation);
                let param = f.params.get(wrt as usize).cloned().unwrap_or_default();
                match (f.params.len(), notation) {
                    (1, Notation::Text) => format!("{name}′"),
                    (1, Notation::Latex) => format!("{name}'"),
                    (1, Notation::Nn) => format!("{name}_prime"),
                    (_, Notation::Text) => format!("∂{name}/∂{}", text_ident(&param)),
                    (_, Notation::Latex) => format!("\\partial_{{{}}} {name}", latex_ident(&param, notation)),
                    (_, Notation::Nn) => format!("d{name}_d{param}"),
                }
            }
        }
    }
}

/// A built-in's name in a formula: in LaTeX the standard operator where
/// there is one (`\tanh`, `\sigma`), else upright; in text its symbol (σ)
/// or name. Each built-in's own file (`model::ops::elementwise`) says.
pub(super) fn builtin_name(e: Elementwise, notation: Notation) -> &'static str {
    match notation {
        Notation::Latex => e.op().latex(),
        Notation::Text => e.op().text(),
        Notation::Nn => e.name(),
    }
}

pub use crate::layout::display_width;

/// The letter that stands for "any parameter" in the update rule
/// (`P ← P − α ∂L/∂P`): P, or θ when the file has a tensor named P.
pub fn any_parameter(model: &Model, notation: Notation) -> &'static str {
    match (model.tensor_id("P").is_some(), notation) {
        (false, _) => "P",
        (true, Notation::Latex) => "\\theta",
        (true, _) => "θ",
    }
}

/// The error term of a sequence's pre-activation at a step: `δh₃`, `δh_t`,
/// `\delta^{h}_{t}`, `delta_h[t]`; a second one in the same equation
/// is numbered (`δh2_t`).
pub fn delta_name(key: &SymbolKey, step: &StepLabel, notation: Notation) -> String {
    let ordinal = if key.ordinal == 0 { String::new() } else { (key.ordinal + 1).to_string() };
    match notation {
        Notation::Nn => step_name(&format!("delta_{}{ordinal}", key.sequence), step, notation),
        Notation::Text => with_step(format!("δ{}{ordinal}", tensor_name(&key.sequence, notation)), step, notation),
        Notation::Latex => {
            with_step(format!("\\delta^{{{}{ordinal}}}", tensor_name(&key.sequence, notation)), step, notation)
        }
    }
}

/// Binding strength, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Prefix,
    Power,
    Postfix,
    Atom,
}

/// Prints the expression `id` of `graph` in `notation`; sub-expressions
/// that an equation defines print as that equation's name.
pub fn formula(graph: &Graph, id: NodeId, names: &Names, notation: Notation) -> String {
    Printer { graph, names, notation, root: None }.print(id).0
}

/// Prints the right-hand side of an equation: like [`formula`], except that
/// the expression itself is spelled out rather than named.
pub fn definition(graph: &Graph, id: NodeId, names: &Names, notation: Notation) -> String {
    Printer { graph, names, notation, root: Some(id) }.print(id).0
}

/// A number in a notation: a terminating decimal where there is one, else a fraction.
pub fn constant(c: &BigRational, notation: Notation) -> String {
    if let Some(d) = terminating_decimal(c) {
        // Text notation writes every minus sign as −, never ASCII -.
        return match (notation, d.strip_prefix('-')) {
            (Notation::Text, Some(magnitude)) => format!("−{magnitude}"),
            _ => d,
        };
    }
    match notation {
        Notation::Text if c.is_negative() => format!("−{}/{}", -c.numer(), c.denom()),
        Notation::Latex => {
            let sign = if c.is_negative() { "-" } else { "" };
            format!("{sign}\\tfrac{{{}}}{{{}}}", c.numer().abs(), c.denom())
        }
        _ => format!("{}/{}", c.numer(), c.denom()),
    }
}

/// The decimal expansion of `c` when it terminates (denominator 2^a 5^b).
pub fn terminating_decimal(c: &BigRational) -> Option<String> {
    crate::eval::number::decimal_places(c).map(|places| crate::eval::number::round_decimal(c, places))
}

struct Printer<'a> {
    graph: &'a Graph,
    names: &'a Names<'a>,
    notation: Notation,
    /// The node not to replace by its alias.
    root: Option<NodeId>,
}

impl Printer<'_> {
    fn paren(&self, s: String) -> String {
        match self.notation {
            Notation::Latex => format!("\\left({s}\\right)"),
            _ => format!("({s})"),
        }
    }

    /// Prints `id`, parenthesized if it binds looser than `min`.
    fn operand(&self, id: NodeId, min: Prec) -> String {
        let (s, p) = self.print(id);
        if p < min {
            self.paren(s)
        } else {
            s
        }
    }

    /// The node as it will be printed, or `None` when an equation's name
    /// stands for it (a name needs no parentheses).
    fn shown(&self, id: NodeId) -> Option<&Node> {
        match self.names.aliases.contains_key(&id) && self.root != Some(id) {
            true => None,
            false => Some(self.graph.node(id)),
        }
    }

    fn is_scalar(&self, id: NodeId) -> bool {
        self.graph.shape(id).is_scalar()
    }

    fn args(&self, args: &[NodeId]) -> String {
        args.iter().map(|&a| self.print(a).0).collect::<Vec<_>>().join(", ")
    }

    fn call(&self, name: &str, args: &[NodeId]) -> (String, Prec) {
        let inner = self.args(args);
        match self.notation {
            Notation::Latex => (format!("{name}\\left({inner}\\right)"), Prec::Atom),
            _ => (format!("{name}({inner})"), Prec::Atom),
        }
    }

    /// Prints `id` and says how tightly the text binds. An operation with a
    /// notation of its own (a sign, a power, a juxtaposed product, Σ) is
    /// written by a method of its own; the rest are calls.
    fn print(&self, id: NodeId) -> (String, Prec) {
        let n = self.notation;
        let g = self.graph;
        if let Some(&t) = self.names.aliases.get(&id) {
            if self.root != Some(id) {
                return (self.names.tensor(t, n), Prec::Atom);
            }
        }
        match g.node(id) {
            Node::Tensor(t) => (self.names.tensor(*t, n), Prec::Atom),
            Node::Param(i) => (format!("t{i}"), Prec::Atom),
            Node::Symbol(s) => self.symbol(*s),
            Node::Const(c) => self.number(c),
            // A tensor of ones, bold as the ones vector of 1ᵀX is in LaTeX.
            Node::Ones(_) => match n {
                Notation::Latex => ("\\mathbf{1}".into(), Prec::Atom),
                Notation::Text => ("𝟏".into(), Prec::Atom),
                Notation::Nn => ("ones".into(), Prec::Atom),
            },
            Node::Neg(a) => self.negation(*a),
            Node::Add(..) | Node::Sub(..) => self.sum(id),
            Node::Mul(a, b) => self.product(*a, *b),
            Node::Div(a, b) => self.quotient(*a, *b),
            Node::MatMul(a, b) => self.matmul(*a, *b),
            Node::Pow(a, e) => self.power(*a, e),
            Node::Transpose(a) => self.transpose(*a),
            Node::Apply(f, args) => self.apply(*f, args),
            Node::Reduce(Reduction::Sum, a) => match n {
                Notation::Nn => self.call("sum", &[*a]),
                Notation::Text => (format!("Σ{}", self.operand(*a, Prec::Atom)), Prec::Prefix),
                Notation::Latex => (format!("\\textstyle\\sum {}", self.operand(*a, Prec::Atom)), Prec::Prefix),
            },
            Node::Reduce(Reduction::Mean, a) => {
                self.call(if n == Notation::Latex { "\\operatorname{mean}" } else { "mean" }, &[*a])
            }
            Node::Softmax(a, axis) => match self.graph.shape(*a).vector_axis() {
                Some(_) => self.call(if n == Notation::Latex { "\\operatorname{softmax}" } else { "softmax" }, &[*a]),
                None => self.layer_call("softmax", &[*a], vec![("axis", axis.index().to_string())]),
            },
            Node::MaskedSoftmax(a, m, axis) => {
                let mut settings = vec![("mask", self.print(*m).0)];
                if self.graph.shape(*a).vector_axis().is_none() {
                    settings.push(("axis", axis.index().to_string()));
                }
                self.layer_call("softmax", &[*a], settings)
            }
            Node::LogSoftmax(a, axis) => match self.graph.shape(*a).vector_axis() {
                Some(_) => {
                    self.call(if n == Notation::Latex { "\\operatorname{log\\_softmax}" } else { "log_softmax" }, &[*a])
                }
                None => self.layer_call("log_softmax", &[*a], vec![("axis", axis.index().to_string())]),
            },
            Node::Diag(a) => self.call(if n == Notation::Latex { "\\operatorname{diag}" } else { "diag" }, &[*a]),
            Node::Loss(LossFn::CrossEntropy(Some(axis)), y, p) => {
                self.layer_call("cross_entropy", &[*y, *p], vec![("axis", axis.index().to_string())])
            }
            Node::Loss(f, y, p) => {
                let name = match (f, n) {
                    (_, Notation::Latex) => format!("\\operatorname{{{}}}", f.name().replace('_', "\\_")),
                    _ => f.name().to_string(),
                };
                let _: LossFn = *f;
                self.call(&name, &[*y, *p])
            }
            // A map operation says how each of its parts is written.
            Node::Conv(part, a, b, c) => self.spelled(map::conv(*part, *a, *b, *c).spelling(n == Notation::Nn)),
            Node::Pool(kind, part, a, w) => self.spelled(map::pool(*kind, *part, a, *w).spelling(n == Notation::Nn)),
            Node::Flatten(a) => self.layer_call("flatten", &[*a], vec![]),
            Node::Reshape(a, shape) => self.reshape(*a, shape.dims()),
            // Over a batch of maps [N, F, H, W] the sum runs over the maps too.
            Node::SumSpatial(a, _) => match (n, self.graph.shape(*a).rank() == 4) {
                (Notation::Nn, _) => self.call("sum_spatial", &[*a]),
                (Notation::Text, false) => (format!("Σᵢⱼ {}", self.operand(*a, Prec::Atom)), Prec::Prefix),
                (Notation::Text, true) => (format!("Σₙᵢⱼ {}", self.operand(*a, Prec::Atom)), Prec::Prefix),
                (Notation::Latex, false) => {
                    (format!("\\textstyle\\sum_{{i,j}} {}", self.operand(*a, Prec::Atom)), Prec::Prefix)
                }
                (Notation::Latex, true) => {
                    (format!("\\textstyle\\sum_{{n,i,j}} {}", self.operand(*a, Prec::Atom)), Prec::Prefix)
                }
            },
            Node::OneHot(labels, ..) => match n {
                Notation::Latex => self.call("\\operatorname{onehot}", &[*labels]),
                _ => self.call("onehot", &[*labels]),
            },
            Node::Slice(a, ranges) => self.sliced(*a, ranges),
            Node::Unslice(a, ranges, source) => {
                let at = slice_subscript(&ranges.numpy(source), n);
                match n {
                    Notation::Latex => {
                        (format!("\\operatorname{{unslice}}_{{{at}}}\\left({}\\right)", self.print(*a).0), Prec::Atom)
                    }
                    _ => (format!("unslice({}, {at})", self.print(*a).0), Prec::Atom),
                }
            }
            Node::Gather(w, x) => {
                let (w, x) = (self.operand(*w, Prec::Atom), self.print(*x).0);
                (format!("{w}[{x}]"), Prec::Atom)
            }
            Node::ScatterAdd(a, x, _) => match n {
                Notation::Latex => {
                    let (a, x) = (self.print(*a).0, self.print(*x).0);
                    (format!("\\operatorname{{scatter\\_add}}_{{{x}}}\\left({a}\\right)"), Prec::Atom)
                }
                _ => self.call("scatter_add", &[*a, *x]),
            },
            // A product with the ones vector: 1ᵀX sums each column, X 1 each row.
            Node::SumAxis(a, axis) => {
                let one = if n == Notation::Latex { "\\mathbf{1}" } else { "1" };
                let t = if n == Notation::Latex { "^\\top" } else { "ᵀ" };
                match (n, *axis == crate::model::Axis::DOWN) {
                    (Notation::Nn, _) => self.layer_call("sum", &[*a], vec![("axis", axis.index().to_string())]),
                    (_, true) => (format!("{one}{t} {}", self.operand(*a, Prec::Prefix)), Prec::Product),
                    (_, false) => (format!("{} {one}", self.operand(*a, Prec::Prefix)), Prec::Product),
                }
            }
        }
    }

    /// A derived quantity: δ2, or ∂L/∂H, which binds like a quotient.
    fn symbol(&self, s: SymbolId) -> (String, Prec) {
        let text = self.names.symbol(s, self.notation, self.graph);
        let p = if text.contains('/') || text.contains("\\frac") { Prec::Product } else { Prec::Atom };
        (text, p)
    }

    /// A number: a negative one binds like a sign, a fraction like a quotient.
    fn number(&self, c: &BigRational) -> (String, Prec) {
        let s = constant(c, self.notation);
        let p = if c.is_negative() {
            Prec::Prefix
        } else if s.contains('/') {
            Prec::Product
        } else {
            Prec::Atom
        };
        (s, p)
    }

    fn negation(&self, a: NodeId) -> (String, Prec) {
        let minus = if self.notation == Notation::Text { "−" } else { "-" };
        // −(a ⊘ b) = (−a) ⊘ b, so a product needs no parentheses: −y ⊘ ŷ.
        let inner = match self.shown(a) {
            Some(Node::Mul(..) | Node::Div(..) | Node::MatMul(..)) => self.print(a).0,
            _ => self.operand(a, Prec::Prefix),
        };
        (format!("{minus}{inner}"), Prec::Prefix)
    }

    /// A matrix product, by juxtaposition (`W2ᵀ δ2`; `@` in `.nn`).
    fn matmul(&self, a: NodeId, b: NodeId) -> (String, Prec) {
        let n = self.notation;
        let side = |x: NodeId| -> String {
            // In juxtaposition, keep ⊙ and ⊘ products apart: (W2ᵀ δ2) ⊙ f′(Z1).
            let mixed = matches!(self.shown(x), Some(Node::Mul(..) | Node::Div(..))) && n != Notation::Nn;
            if mixed {
                self.paren(self.print(x).0)
            } else {
                self.operand(x, Prec::Prefix)
            }
        };
        let (l, r) = (side(a), self.operand_right_of_product(b, side));
        match n {
            Notation::Nn => (format!("{l} @ {r}"), Prec::Product),
            Notation::Text => (format!("{l} {r}"), Prec::Product),
            Notation::Latex => (juxtapose(&l, &r), Prec::Product),
        }
    }

    /// A power: a small whole exponent as a superscript in text (h²).
    fn power(&self, a: NodeId, e: &BigRational) -> (String, Prec) {
        let n = self.notation;
        let base = self.operand(a, Prec::Postfix);
        let exp = match n {
            Notation::Text => superscript(e).unwrap_or_else(|| format!("^({})", constant(e, n))),
            Notation::Nn => {
                let c = constant(e, n);
                if e.is_negative() || c.contains('/') {
                    format!("^({c})")
                } else {
                    format!("^{c}")
                }
            }
            Notation::Latex => format!("^{{{}}}", constant(e, n)),
        };
        (format!("{base}{exp}"), Prec::Power)
    }

    fn transpose(&self, a: NodeId) -> (String, Prec) {
        let n = self.notation;
        let base = self.operand(a, Prec::Postfix);
        let t = match n {
            Notation::Text => "ᵀ",
            Notation::Nn => ".T",
            Notation::Latex => "^\\top",
        };
        let base = if n == Notation::Latex && base.contains('^') { self.paren(base) } else { base };
        (format!("{base}{t}"), Prec::Postfix)
    }

    /// A scalar function applied entry by entry; in LaTeX, √ and |·| have signs of their own.
    fn apply(&self, f: Func, args: &[NodeId]) -> (String, Prec) {
        let n = self.notation;
        let name = self.names.function(f, n);
        match (f, n) {
            (Func::Builtin(Elementwise::Sqrt), Notation::Latex) => {
                (format!("\\sqrt{{{}}}", self.args(args)), Prec::Atom)
            }
            (Func::Builtin(Elementwise::Abs), Notation::Latex) => {
                (format!("\\left|{}\\right|", self.args(args)), Prec::Atom)
            }
            _ => self.call(&name, args),
        }
    }

    /// A layer written as a call, with settings after the operands
    /// (`conv2d(X, K, stride = 2, pad = 1)`).
    fn layer_call(&self, name: &str, args: &[NodeId], settings: Vec<(&str, String)>) -> (String, Prec) {
        let mut parts: Vec<String> = args.iter().map(|&a| self.print(a).0).collect();
        for (key, value) in settings {
            parts.push(match (key, self.notation) {
                ("", _) => value,
                // The layout is a word, upright text rather than four variables.
                ("layout", Notation::Latex) => {
                    format!("\\text{{layout}} = \\text{{{value}}}")
                }
                (key, Notation::Latex) => format!("\\text{{{key}}} = {value}"),
                (key, _) => format!("{key} = {value}"),
            });
        }
        let inner = parts.join(", ");
        match self.notation {
            Notation::Latex => {
                (format!("\\operatorname{{{}}}\\left({inner}\\right)", name.replace('_', "\\_")), Prec::Atom)
            }
            _ => (format!("{name}({inner})"), Prec::Atom),
        }
    }

    /// `name_k(inner)`: an operation with a size written as a subscript
    /// (`pad₁(X)`, `dilate₂(δ1)`, `crop₁(…)`).
    fn indexed(&self, name: &str, k: usize, inner: String) -> String {
        match self.notation {
            Notation::Latex => format!("\\operatorname{{{name}}}_{{{k}}}\\left({inner}\\right)"),
            _ => format!("{name}{}({inner})", subscript(k)),
        }
    }

    /// A map operation's part as its operation spells it: a call, or an
    /// infix form (`pad₁(X) ⋆ dilate₂(δ)`, `crop₁(δ ∗ K)`) whose sides may
    /// sit inside an indexed operation.
    fn spelled(&self, spelling: map::Spelling) -> (String, Prec) {
        match spelling {
            map::Spelling::Call { name, operands, settings } => self.layer_call(name, &operands, settings),
            map::Spelling::Infix { left, symbol, right, around } => {
                let side = |s: map::Side| match s.inside {
                    Some(i) => self.indexed(i.name, i.k, self.print(s.operand).0),
                    None => self.operand(s.operand, Prec::Postfix),
                };
                let symbol = if self.notation == Notation::Latex { symbol.latex } else { symbol.text };
                let whole = format!("{} {symbol} {}", side(left), side(right));
                match around {
                    Some(i) => (self.indexed(i.name, i.k, whole), Prec::Atom),
                    None => (whole, Prec::Product),
                }
            }
        }
    }

    /// `reshape(g, 2×2×2)`: a column laid out in a shape again.
    /// `a[:, 0:5]`: the slice in NumPy's form, after its operand.
    fn sliced(&self, a: NodeId, ranges: &crate::model::slice::Ranges) -> (String, Prec) {
        let at = slice_subscript(&ranges.numpy(self.graph.shape(a)), self.notation);
        (format!("{}{at}", self.operand(a, Prec::Atom)), Prec::Atom)
    }

    fn reshape(&self, a: NodeId, dims: &[usize]) -> (String, Prec) {
        // A reshape that only adds or drops dimensions of 1 (a scalar and a
        // vector [1]) lays the entries out as they were: it is not shown,
        // and so never with an empty list of dimensions.
        if Shape::same_layout(self.graph.shape(a).dims(), dims) {
            return self.print(a);
        }
        let list: Vec<String> = dims.iter().map(usize::to_string).collect();
        let inner = self.print(a).0;
        match self.notation {
            Notation::Nn => (format!("reshape({inner}, {})", list.join(", ")), Prec::Atom),
            Notation::Text => (format!("reshape({inner}, {})", list.join("×")), Prec::Atom),
            Notation::Latex => {
                (format!("\\operatorname{{reshape}}_{{{}}}\\left({inner}\\right)", list.join("\\times ")), Prec::Atom)
            }
        }
    }

    /// A sum or difference. Sums of many gradient contributions are long
    /// left-leaning chains (`a + b + c + …`), so the chain is walked in a
    /// loop rather than by recursion, however long it is.
    fn sum(&self, id: NodeId) -> (String, Prec) {
        let minus = if self.notation == Notation::Text { "−" } else { "-" };
        let mut terms = Vec::new();
        let mut first = id;
        loop {
            let node = if first == id { Some(self.graph.node(id)) } else { self.shown(first) };
            match node {
                Some(Node::Add(a, b)) => {
                    terms.push(("+", *b));
                    first = *a;
                }
                Some(Node::Sub(a, b)) => {
                    terms.push((minus, *b));
                    first = *a;
                }
                _ => break,
            }
        }
        let mut out = self.operand(first, Prec::Sum);
        for (op, b) in terms.into_iter().rev() {
            out.push(' ');
            out.push_str(op);
            out.push(' ');
            out.push_str(&self.operand(b, Prec::Product));
        }
        (out, Prec::Sum)
    }

    fn operand_right_of_product(&self, b: NodeId, side: impl Fn(NodeId) -> String) -> String {
        // Right operands of a left-associative product need parentheses at the same level.
        match self.shown(b) {
            Some(Node::MatMul(..)) => self.paren(self.print(b).0),
            _ => side(b),
        }
    }

    fn product(&self, a: NodeId, b: NodeId) -> (String, Prec) {
        let n = self.notation;
        if n == Notation::Nn {
            let r = match self.shown(b) {
                Some(Node::Mul(..) | Node::Div(..) | Node::MatMul(..)) => self.paren(self.print(b).0),
                _ => self.operand(b, Prec::Prefix),
            };
            return (format!("{} * {r}", self.operand(a, Prec::Product)), Prec::Product);
        }
        let scalar = self.is_scalar(a) || self.is_scalar(b);
        let side = |x: NodeId, right: bool| -> String {
            // ⊙ is associative, so a ⊙ (b ⊙ c) prints as a ⊙ b ⊙ c; in a
            // scalar product a Hadamard factor on the right keeps its parentheses.
            let needs = match self.shown(x) {
                Some(Node::MatMul(..)) => !scalar,
                Some(Node::Div(..)) => scalar,
                Some(Node::Mul(..)) => scalar && right && !self.is_scalar(x),
                Some(Node::Add(..) | Node::Sub(..)) => true,
                _ => false,
            };
            if needs {
                self.paren(self.print(x).0)
            } else if matches!(self.shown(x), Some(Node::Mul(..))) {
                self.print(x).0
            } else {
                self.operand(x, Prec::Prefix)
            }
        };
        let (l, r) = (side(a, false), side(b, true));
        if scalar {
            // A scalar factor is written by juxtaposition, as in 0.02 W1 or ŷ Σy.
            let text = if n == Notation::Latex { juxtapose(&l, &r) } else { format!("{l} {r}") };
            (text, Prec::Product)
        } else {
            let op = if n == Notation::Latex { "\\odot" } else { "⊙" };
            (format!("{l} {op} {r}"), Prec::Product)
        }
    }

    fn quotient(&self, a: NodeId, b: NodeId) -> (String, Prec) {
        let n = self.notation;
        let scalar_den = self.is_scalar(b);
        match n {
            Notation::Latex if scalar_den => {
                (format!("\\frac{{{}}}{{{}}}", self.print(a).0, self.print(b).0), Prec::Atom)
            }
            _ => {
                let op = match n {
                    Notation::Nn => "/",
                    Notation::Text if scalar_den => "/",
                    Notation::Text => "⊘",
                    Notation::Latex => "\\oslash",
                };
                let l = match self.shown(a) {
                    Some(Node::MatMul(..) | Node::Mul(..)) if n != Notation::Nn => self.paren(self.print(a).0),
                    // (Y ⊘ Ŷ)/3, not Y ⊘ Ŷ/3
                    Some(Node::Div(..)) if n != Notation::Nn && scalar_den => self.paren(self.print(a).0),
                    _ => self.operand(a, Prec::Product),
                };
                let r = match self.shown(b) {
                    Some(Node::Mul(..) | Node::Div(..) | Node::MatMul(..)) => self.paren(self.print(b).0),
                    _ => self.operand(b, Prec::Prefix),
                };
                (format!("{l} {op} {r}"), Prec::Product)
            }
        }
    }
}

/// Two LaTeX factors of a product written side by side. TeX sets letters
/// next to each other with no space, so `\mathit{Wxh} x_{1}` reads
/// "Wxhx₁": where a multi-letter name meets the other factor, a thin space
/// keeps them apart (`\mathit{Wxh}\, x_{1}`), as textbooks set `\mathrm{d}x`;
/// two numbers side by side would read as one, so they get a `\cdot`.
/// Single letters juxtapose as usual (`W_{1} x`).
fn juxtapose(l: &str, r: &str) -> String {
    if l.ends_with(|c: char| c.is_ascii_digit()) && r.starts_with(|c: char| c.is_ascii_digit()) {
        format!(r"{l} \cdot {r}")
    } else if ends_with_word(l) || starts_with_word(r) {
        format!(r"{l}\, {r}")
    } else {
        format!("{l} {r}")
    }
}

/// Does the LaTeX `s` begin with a multi-letter name (`\mathit{…}`, perhaps
/// braced, as a name at a step is: `{\mathit{Wxh}}_{t}`)?
fn starts_with_word(s: &str) -> bool {
    s.trim_start_matches('{').starts_with("\\mathit{")
}

/// Does the LaTeX `s` end with a multi-letter name, perhaps with scripts
/// (`\mathit{Wxh}`, `\mathit{net}_{h}^\top`, `{\mathit{Wxh}}_{t}`)?
fn ends_with_word(s: &str) -> bool {
    let mut s = s;
    loop {
        if let Some(rest) = s.strip_suffix("^\\top") {
            s = rest;
            continue;
        }
        let Some(open) = group_start(s) else { return false };
        let before = &s[..open];
        if let Some(rest) = before.strip_suffix('_').or_else(|| before.strip_suffix('^')) {
            // A subscript or superscript: the name is before it.
            s = rest;
        } else if before.ends_with("\\mathit") {
            return true;
        } else if before.is_empty() || before.ends_with(' ') {
            // A braced name (`{\mathit{Wxh}}_{t}`): look inside.
            s = &s[open + 1..s.len() - 1];
        } else {
            return false;
        }
    }
}

/// Where the brace group that ends `s` opens, if `s` ends with `}`.
fn group_start(s: &str) -> Option<usize> {
    if !s.ends_with('}') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A whole number as Unicode subscript digits (pad₁).
/// A slice subscript `[:, 0:5]` in a notation: in LaTeX the colons are
/// set as ordinary symbols (`0{:}5`), not as relations with space around.
fn slice_subscript(numpy: &str, notation: Notation) -> String {
    match notation {
        Notation::Latex => numpy.replace(':', "{:}").replace(", ", ",\\, "),
        _ => numpy.to_string(),
    }
}

fn subscript(k: usize) -> String {
    crate::layout::subscripted(&k.to_string())
}

/// Small integer exponents as Unicode superscripts (h²).
fn superscript(e: &BigRational) -> Option<String> {
    if !e.is_integer() {
        return None;
    }
    e.to_integer().to_string().chars().map(crate::layout::superscript_char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn decimals_terminate_or_become_fractions() {
        assert_eq!(terminating_decimal(&r(27, 20)).as_deref(), Some("1.35"));
        assert_eq!(terminating_decimal(&r(-1, 8)).as_deref(), Some("-0.125"));
        assert_eq!(terminating_decimal(&r(2, 1)).as_deref(), Some("2"));
        assert_eq!(terminating_decimal(&r(1, 50)).as_deref(), Some("0.02"));
        assert_eq!(terminating_decimal(&r(1, 3)), None);
        assert_eq!(constant(&r(1, 3), Notation::Text), "1/3");
    }

    #[test]
    fn multi_letter_names_are_set_apart_in_products() {
        assert_eq!(juxtapose("\\mathit{Wxh}", "x_{1}"), "\\mathit{Wxh}\\, x_{1}");
        assert_eq!(juxtapose("{\\mathit{Whh}}_{t}", "h_{t-1}"), "{\\mathit{Whh}}_{t}\\, h_{t-1}");
        assert_eq!(juxtapose("\\mathit{net}_{h}^\\top", "W"), "\\mathit{net}_{h}^\\top\\, W");
        assert_eq!(juxtapose("\\delta_{2}", "\\mathit{code}^\\top"), "\\delta_{2}\\, \\mathit{code}^\\top");
        assert_eq!(juxtapose("W_{1}", "x"), "W_{1} x");
        assert_eq!(juxtapose("\\hat{y}", "\\textstyle\\sum y"), "\\hat{y} \\textstyle\\sum y");
        assert_eq!(juxtapose("\\sigma\\left(\\mathit{net}\\right)", "x"), "\\sigma\\left(\\mathit{net}\\right) x");
        assert_eq!(juxtapose("2", "3"), "2 \\cdot 3");
    }
}
