//! What a layer is ([`LayerOp`]) and what it may ask of the checker about
//! the call it expands ([`LayerCall`]).

use num_rational::BigRational;

use crate::model::error::Error;
use crate::model::{Graph, NamedTensor, NodeId};
use crate::syntax::ast;

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
}

/// The call a layer expands, as the checker sees it.
pub trait LayerCall {
    /// The operands, built, in order.
    fn operands(&self) -> &[NodeId];

    /// Operand `i` as written, for messages and their markers.
    fn operand_source(&self, i: usize) -> &ast::Expr;

    /// The tensor operand `i` names when it is a declared tensor's name
    /// (not an expression), with its role and any given values.
    fn named_tensor(&self, i: usize) -> Option<&NamedTensor>;

    /// The keyword argument `name`, built, with its value as written; `None`
    /// when the call leaves it out.
    fn keyword(&mut self, name: &str) -> Result<Option<(NodeId, ast::Expr)>, Error>;

    /// The graph the expansion is built in.
    fn graph(&mut self) -> &mut Graph;

    /// A number as the checker's messages write it (`0.8`).
    fn decimal(&self, r: &BigRational) -> String;
}
