//! What a map operation is ([`MapOp`]): an operation over feature maps
//! that is not a composition of the graph's other operations, with a
//! forward part and backward parts that only its own adjoint builds. And
//! the small descriptions its answers use: how a part is written
//! ([`Spelling`]), how the NumPy export calls it ([`NumpyCall`]), and a
//! contribution of its adjoint ([`Adjoint`]).

use crate::model::sentence::Sentence;
use crate::model::{Graph, NodeId, Shape};

/// Everything about one map operation, for each of its parts. `Part` names
/// the parts (the forward layer and its backward kernels), `Settings` is
/// the layer's geometry (stride, padding, layout) that every part shares.
/// A node of the graph carries the operation by its variant, the part and
/// the settings as data, so each stage reaches the operation through one
/// arm and the part through these methods.
pub trait MapOp: Sync {
    /// The parts: the forward layer and its backward kernels.
    type Part: Copy;
    /// The geometry every part shares.
    type Settings: Copy;

    /// The operation's name: its `.nn` function's (`conv2d`), or its
    /// family's (`pool`) where each kind has a name of its own (`maxpool`).
    fn name(&self) -> &'static str;

    /// The shape of a part's result from its operands' shapes, which the
    /// checker has already checked (so a wrong shape is a bug, never a
    /// panic).
    fn shape(&self, part: Self::Part, operands: &[&Shape], settings: Self::Settings) -> Shape;

    /// The node of a part, built in the graph with its shape.
    fn build(&self, g: &mut Graph, part: Self::Part, operands: &[NodeId], settings: Self::Settings) -> NodeId;

    /// The local adjoint of a part: given the gradient `seed` of its result,
    /// the contribution to each operand that `wants` one. The backward
    /// parts appear only in derived formulas, which are never
    /// differentiated again: they answer nothing.
    fn adjoint(
        &self,
        g: &mut Graph,
        part: Self::Part,
        operands: &[NodeId],
        settings: Self::Settings,
        seed: NodeId,
        wants: &dyn Fn(NodeId) -> bool,
    ) -> Vec<Adjoint>;

    /// A backward part's name in the `.nn` notation and what it stands for
    /// (the `.nn` language has no function for it, so a derivation that
    /// uses it cannot be written as a `.nn` file); `None` for the forward
    /// part, which the language has.
    fn backward(&self, part: Self::Part) -> Option<(&'static str, &'static str)>;

    /// How a part is written: in the `.nn` notation (`nn`) as a call with
    /// every setting, else in the textbook's notation.
    fn spelling(&self, part: Self::Part, operands: &[NodeId], settings: Self::Settings, nn: bool) -> Spelling;

    /// How the NumPy export computes a part whose result has shape `out`.
    fn numpy(&self, part: Self::Part, operands: &[NodeId], settings: Self::Settings, out: &Shape) -> NumpyCall;

    /// An estimate of the arithmetic a part's kernel does (products and
    /// comparisons), for the evaluator's budget, from the operands' shapes
    /// and the result's.
    fn work(&self, part: Self::Part, operands: &[&Shape], settings: Self::Settings, out: &Shape) -> u128;
}

/// One contribution of a map operation's local adjoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adjoint {
    /// The operand it flows to.
    pub operand: NodeId,
    /// The backward part's node.
    pub contribution: NodeId,
    /// The rule's name, as derivation steps cite it (`d-conv2d-kernel`).
    pub rule: &'static str,
}

/// How a part of a map operation is written, for the formula printer to
/// set in each notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `name(operands…, key = value, …)`; a setting with an empty key is
    /// written as its bare value (the pooling window's size).
    Call { name: &'static str, operands: Vec<NodeId>, settings: Vec<(&'static str, String)> },
    /// `left symbol right` (`pad₁(X) ⋆ dilate₂(δ)`), a product, or an atom
    /// when the whole is `around` an indexed operation (`crop₁(…)`).
    Infix { left: Side, symbol: Symbol, right: Side, around: Option<Indexed> },
}

/// An operand of an infix spelling, inside an indexed operation or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    pub operand: NodeId,
    pub inside: Option<Indexed>,
}

/// `name_k(…)`: an operation with a size written as a subscript (`pad₁`,
/// `dilate₂`, `crop₁`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indexed {
    pub name: &'static str,
    pub k: usize,
}

/// An infix operator's symbol in text and in LaTeX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub text: &'static str,
    pub latex: &'static str,
}

/// How the NumPy export computes a part: a call of a function the exported
/// file defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumpyCall {
    /// The function called (one of `helpers`).
    pub function: &'static str,
    /// The operands, in the call's order.
    pub operands: Vec<NodeId>,
    /// The settings after the operands, as Python writes them (`stride=2`).
    pub settings: Vec<String>,
    /// The functions the exported file must define for the call.
    pub helpers: &'static [NumpyHelper],
}

/// A function the exported file defines for a map operation. The exported
/// file defines its helpers in the order of `order`: the operation's
/// place among the map operations, then the helper's within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NumpyHelper {
    pub order: (u8, u8),
    pub name: &'static str,
    pub source: &'static str,
}

/// The settings of a kernel's size or a map's size as a Python tuple: `(3, 3)`.
pub fn size_tuple(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("({})", parts.join(", "))
}

/// A layer rule that the derivation states where a map operation's
/// formulas appear: the convention the formulas rely on (cross-correlation,
/// the layout, how windows are counted), in words and formulas in both
/// notations, and the same entry by entry. The derivation decides which
/// rules a formula needs (`derive::rules::Convention`); the operation's
/// file says what each one states.
#[derive(Clone, Copy, Debug)]
pub struct LayerRule {
    /// The words that open the rule's paragraph in a document when the
    /// statement begins with a formula ("The kernel's gradient is ").
    pub lead_in: Option<&'static str>,
    /// The statement.
    pub statement: Sentence,
    /// The rule entry by entry, in text.
    pub index_form: Option<&'static str>,
    /// The same in LaTeX: one or more equations separated by ` \\ `.
    pub latex_index_form: Option<&'static str>,
    /// What the sets in the index form stand for.
    pub legend: Option<Sentence>,
}
