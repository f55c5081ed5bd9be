//! Stage 3: symbolic derivation. Reverse mode over the model's equations,
//! with one local adjoint rule per operation, gives the gradient of the loss
//! for every parameter; error terms δk name the gradients with respect to
//! each layer's pre-activation, single-use intermediate gradients fold into
//! the formulas that use them, and named rewrites bring the results into the
//! form a textbook writes (`δ2 = ŷ − y`, `∂L/∂W2 = δ2 Hᵀ`).

pub mod adjoint;
mod backprop;
pub mod norm;
mod polynomial;
pub mod rules;
pub mod sections;
pub mod simplify;
mod size;
pub mod time;

use std::collections::BTreeSet;

use crate::model::{Axis, Fired, FnId, Graph, NodeId, Shape, SymbolId, TensorId};

pub use backprop::derive;
pub use rules::Convention;
pub use simplify::Rewrite;

/// What a gradient is taken with respect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wrt {
    /// A named tensor.
    Tensor(TensorId),
    /// An unnamed sub-expression (such as `W1 @ x + b1` inside `sigmoid(...)`).
    Node(NodeId),
}

/// The kind of a derived symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// δk: the gradient with respect to the pre-activation of layer k.
    Delta { layer: usize },
    /// ∂L/∂X for a tensor X whose gradient is used more than once, or only
    /// shown in derivation steps.
    Adjoint,
}

/// A derived quantity: an error term or a named gradient.
#[derive(Clone, Debug)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub wrt: Wrt,
    pub shape: Shape,
    /// The `Node::Symbol` that stands for it in formulas.
    pub node: NodeId,
    /// Its formula (only meaningful for defined symbols; inlined ones have
    /// their formula substituted wherever they are used).
    pub formula: NodeId,
    /// The formula before assuming Σy = 1, when that assumption was used.
    pub general: Option<NodeId>,
    pub steps: Vec<Step>,
    /// True when it has a line of its own (δ's, and gradients used twice).
    pub defined: bool,
    /// The equation whose pre-activation (for a δ) or value (for ∂L/∂X) it is.
    pub owner: TensorId,
    /// For a named gradient that is no layer's error term (`∂L/∂σ²` of a
    /// batch norm written out by hand): the error term in whose steps it is
    /// stated, once, and referred to by name afterwards (see [`sections`]).
    pub within: Option<SymbolId>,
}

impl Symbol {
    /// Whether its steps end by stating it: a named gradient (not a δ, which
    /// its result line names) whose steps state it (see [`stated_by`]). A
    /// writer then does not state it again.
    pub fn stated_by_steps(&self) -> bool {
        self.kind == SymbolKind::Adjoint && stated_by(&self.steps, self.wrt, self.formula)
    }
}

/// Whether `steps` end by stating the gradient with respect to `wrt` as
/// `formula`: their last chain of lines is about it and ends there.
pub fn stated_by(steps: &[Step], wrt: Wrt, formula: NodeId) -> bool {
    steps.last().map(|s| s.expr) == Some(formula) && steps.iter().rev().find_map(|s| s.lhs) == Some(wrt)
}

/// One line of a derivation: `lhs = expr   [rule]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// The quantity the line is about; `None` continues the previous line (`= ...`).
    pub lhs: Option<Wrt>,
    pub expr: NodeId,
    /// The rules used, e.g. `d-matmul-right`.
    pub rules: Vec<StepRule>,
    /// The equations the rule was applied to.
    pub from: Vec<TensorId>,
    /// The simplifications of the graph's constructors that shaped this
    /// line and that steps name (see [`crate::model::simplification`]).
    pub simplified: Fired,
}

/// A rule a derivation step names, as data: each writer sets its formula
/// in its own notation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepRule {
    /// A derivative rule or a kind of step: `d-matmul-right`, `substitute`, `expand`.
    Named(&'static str),
    /// A rewrite of the whole formula, with its statement: `cancel: a ⊙ (b ⊘ a) = b`.
    Rewrite(Rewrite),
    /// A target's entries sum to one: `Σy = 1`; for a batch's targets
    /// `1ᵀ Y = 1ᵀ` (each column, axis 0) or `Y 1 = 1` (each row, axis 1).
    /// `target` is the target's name (a sequence's once: `y`, not `y_2`);
    /// `one_hot` when it is the one-hot reading of class labels, `onehot(c)`.
    TargetSum { target: String, one_hot: bool, axis: Option<Axis> },
}

/// The gradient of the loss with respect to one parameter.
#[derive(Clone, Debug)]
pub struct Gradient {
    pub param: TensorId,
    pub formula: NodeId,
    pub steps: Vec<Step>,
}

/// The worked-out derivative of a custom function.
#[derive(Clone, Debug)]
pub struct FnDerivative {
    pub func: FnId,
    pub wrt: u32,
    /// Body in terms of the function's parameters.
    pub body: NodeId,
    /// The simplifications that shaped it and that steps name (`0 / u = 0`
    /// in the derivative of `1 / u`).
    pub simplified: Fired,
}

/// The assumption Σy = 1 for a target y, and whether the file's values
/// confirm it; for a batch's targets, that each column (1ᵀY = 1ᵀ) or each
/// row (Y 1 = 1) sums to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSum {
    pub target: TensorId,
    /// `None`: all the entries sum to 1; `Some(axis)`: the entries along
    /// `axis` do, in each column (axis 0) or each row (axis 1).
    pub axis: Option<Axis>,
    /// `Some(true)`: the given values sum to 1; `None`: no values, assumed.
    /// (Values that do not sum to 1 leave the general form in place and are
    /// recorded as `Some(false)`.)
    pub verified: Option<bool>,
}

/// Everything derived from a model.
#[derive(Clone, Debug)]
pub struct Derivation {
    /// The model's graph extended with every derived formula.
    pub graph: Graph,
    /// Every symbol, indexed by [`SymbolId`].
    pub symbols: Vec<Symbol>,
    /// The defined symbols, in an order where each uses only earlier ones.
    pub defined: Vec<SymbolId>,
    /// One per parameter, in file order.
    pub gradients: Vec<Gradient>,
    /// Derivatives of custom functions, in file order.
    pub fn_derivatives: Vec<FnDerivative>,
    /// Conventions the formulas rely on.
    pub conventions: BTreeSet<Convention>,
    /// Targets assumed or verified to sum to 1.
    pub target_sums: Vec<TargetSum>,
    /// For a model with time steps: the formulas as one recurrence in t.
    pub time: Option<time::TimeView>,
}

impl Derivation {
    pub fn symbol(&self, id: SymbolId) -> &Symbol {
        &self.symbols[id.0 as usize]
    }

    /// The derivative body of a custom function.
    pub fn fn_derivative(&self, func: FnId, wrt: u32) -> Option<&FnDerivative> {
        self.fn_derivatives.iter().find(|d| d.func == func && d.wrt == wrt)
    }

    /// The defined δ's and named gradients, in evaluation order.
    pub fn defined_symbols(&self) -> impl Iterator<Item = &Symbol> + '_ {
        self.defined.iter().map(|&s| self.symbol(s))
    }

    /// The gradient of a parameter.
    pub fn gradient(&self, param: TensorId) -> Option<&Gradient> {
        self.gradients.iter().find(|g| g.param == param)
    }
}
