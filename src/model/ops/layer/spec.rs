//! What a layer is ([`LayerOp`]) and what it may ask of the checker about
//! the call it expands ([`LayerCall`]).

use num_rational::BigRational;

use crate::model::error::Error;
use crate::model::norm::NormLayer;
use crate::model::{Axis, Batch, Graph, NamedTensor, NodeId, TensorId};
use crate::syntax::{ast, Span};

/// Everything about one layer that is a composition of the graph's operations.
pub trait LayerOp: Sync {
    /// The name used in `.nn` files (`dropout`).
    fn name(&self) -> &'static str;

    /// How many operands it takes (`dropout(X, M)`: two).
    fn arity(&self) -> usize;

    /// The keyword arguments it accepts, each optional (`keep`).
    fn keywords(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks the call (what the formulas cannot say: a mask of 0s and 1s,
    /// a probability in range) and builds its value from the graph's
    /// ordinary operations; an error points at the operand or keyword at
    /// fault. The checker has already checked the number of operands and
    /// the keywords' names.
    fn expand(&self, call: &mut dyn LayerCall) -> Result<NodeId, Error>;

    /// ∂L/∂X of the normalization `layer` this layer recorded (with
    /// [`LayerCall::record_norm`]) in closed form, built from G = ∂L/∂out
    /// (the node `g_out`) and the layer's named quantities, with the name
    /// of the rule the step states (its statement is in `derive`'s table of
    /// step rules). `derive` adds it as the last step after the staged
    /// gradients through the written-out equations; `None` (a layer that
    /// records nothing) leaves those as the result.
    fn closed_form(&self, g: &mut Graph, layer: &NormLayer, g_out: NodeId) -> Option<(&'static str, NodeId)> {
        let _ = (g, layer, g_out);
        None
    }
}

/// The call a layer expands, as the checker sees it.
pub trait LayerCall {
    /// The operands, built, in order.
    fn operands(&self) -> &[NodeId];

    /// Operand `i` as written, for messages and their markers.
    fn operand_source(&self, i: usize) -> &ast::Expr;

    /// The declared tensor `e` names (through any parentheses), with its
    /// id; `None` when `e` is an expression.
    fn tensor_named(&self, e: &ast::Expr) -> Option<(TensorId, &NamedTensor)>;

    /// The tensor operand `i` names when it is a declared tensor's name
    /// (not an expression), with its role and any given values.
    fn named_tensor(&self, i: usize) -> Option<&NamedTensor> {
        self.tensor_named(self.operand_source(i)).map(|(_, t)| t)
    }

    /// The keyword argument `name`, built, with its value as written; `None`
    /// when the call leaves it out.
    fn keyword(&mut self, name: &str) -> Result<Option<(NodeId, ast::Expr)>, Error>;

    /// The keyword argument `name` as written, not yet built; `None` when
    /// the call leaves it out.
    fn keyword_source(&self, name: &str) -> Option<&ast::Expr>;

    /// The graph the expansion is built in.
    fn graph(&mut self) -> &mut Graph;

    /// A number as the checker's messages write it (`0.8`).
    fn decimal(&self, r: &BigRational) -> String;

    /// Where the call is written: a named intermediate's span, and the
    /// marker of an error about the call as a whole.
    fn span(&self) -> Span;

    /// The equation the call is written in.
    fn owner(&self) -> TensorId;

    /// Whether the call is the whole right-hand side of its equation
    /// (parentheses aside), so that the equation names the layer's output.
    fn is_whole_equation(&self) -> bool;

    /// Writes out `definition` as a named intermediate, an equation of its
    /// own (named `base` when that name is free, else `base_2`, …) placed
    /// just before the calling equation, printed once with its values and
    /// referred to by name afterwards (μ, var and x̂ of a normalization,
    /// attention's S and A); returns it and the node that names it.
    fn write_out(&mut self, base: &str, definition: NodeId) -> (TensorId, NodeId);

    /// The axis the classes (the features) of `x` lie along, as the
    /// network lays out its examples (`layout`, or a weight's side of a
    /// product); `None` when nothing decides.
    fn layout_axis(&self, x: NodeId) -> Option<Axis>;

    /// Records that the network works on a batch laid out so (the first
    /// record stands).
    fn note_batch(&mut self, batch: Batch);

    /// Records a normalization written out by this call, for the closed
    /// form of its input's gradient ([`LayerOp::closed_form`]).
    fn record_norm(&mut self, layer: NormLayer);
}
