//! Stage 2: the checked model. Names are resolved, every expression has a
//! shape, equations are ordered so each can be computed from earlier values,
//! and every expression lives in one canonical [`Graph`].

mod check;
pub mod axes;
pub mod norm;
pub mod ops;
pub mod draw;
pub mod error;
pub mod expr;
pub mod func;
mod given;
mod alike;
pub mod names;
pub mod optimizer;
pub mod preact;
pub mod sentence;
pub mod layer_error;
mod mask;
pub mod ranges;
pub mod shape;
pub mod simplification;
pub mod slice;
pub mod time;
mod train_state;

use indexmap::IndexMap;
use num_rational::BigRational;

use crate::syntax::Span;

pub use check::check;
pub(crate) use check::tensors_in;
pub use draw::Draw;
pub use error::GivenFault;
pub use error::{Error, ErrorKind, Errors, MAX_ERRORS};
pub use expr::{Graph, Node, NodeHasher, NodeId, NodeMap, NodeSet, SymbolId, TensorId};
pub use func::{
    Axis, Builtin, Conv, ConvPart, Elementwise, FnId, Func, Layer, LossFn, MapLayout, PoolKind, PoolPart, Reduction,
    Window, WindowAxis,
};
pub use given::{one_hot_target, refuse_value, with_literal, with_value, without_value};
pub use optimizer::Optimizer;
pub use shape::Shape;

pub use simplification::{Fired, Simplification};

/// What a named tensor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Network input (data).
    Input,
    /// Training target (data).
    Target,
    /// Trainable parameter.
    Param,
    /// Fixed data.
    Const,
    /// Defined by an equation.
    Intermediate,
    /// The loss (defined by the `loss` equation).
    Loss,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Target => "target",
            Role::Param => "param",
            Role::Const => "const",
            Role::Intermediate => "equation",
            Role::Loss => "loss",
        }
    }

    /// Declared with a value rather than defined by an equation.
    pub fn is_data(self) -> bool {
        matches!(self, Role::Input | Role::Target | Role::Param | Role::Const)
    }
}

/// A named tensor of the model: declared data or the result of an equation,
/// with its role, shape and definition (its numbers, once computed, are
/// eval's `Tensor`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub role: Role,
    pub shape: Shape,
    /// Row-major entries, for declared tensors whose file gives a value.
    /// Kept compact (a decimal as written takes 16 bytes); see
    /// [`NamedTensor::exact_value`] for the rationals.
    pub value: Option<crate::syntax::ast::Decimals>,
    /// The right-hand side, for equations and the loss.
    pub definition: Option<NodeId>,
    /// How `nnderive vary` draws its numbers (`~ …` after the declaration).
    pub draw: Option<Draw>,
    /// The declaration or equation.
    pub span: Span,
}

impl NamedTensor {
    /// A quantity nnderive names itself (a layer's μ, σ², x̂; a
    /// pre-activation the file leaves unnamed): an intermediate defined by
    /// `definition`, placed at `span`, the equation it comes from.
    pub fn intermediate(name: String, shape: Shape, definition: NodeId, span: Span) -> NamedTensor {
        NamedTensor {
            name,
            role: Role::Intermediate,
            shape,
            value: None,
            definition: Some(definition),
            draw: None,
            span,
        }
    }

    /// The given value's entries as exact rationals.
    pub fn exact_value(&self) -> Option<Vec<BigRational>> {
        self.value.as_ref().map(|v| v.iter().map(|d| d.to_rational()).collect())
    }
}

/// A scalar function from a `fn` statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    pub params: Vec<String>,
    /// The body, with `Node::Param(i)` for the i-th parameter.
    pub body: NodeId,
    pub span: Span,
}

/// The training step: `train adam(lr = 0.001, steps = 5)`.
#[derive(Clone, Debug)]
pub struct Train {
    pub optimizer: Optimizer,
    /// The learning rate α, > 0.
    pub lr: BigRational,
    /// How many updates, each after a forward and backward pass.
    pub steps: u32,
    /// The kept quantities the file starts from (`velocity = v0`); those
    /// not given start at zero.
    pub state: Vec<InitialState>,
    /// How many updates were taken before the first one here (Adam's `t`,
    /// 0 unless given): the first update is number taken + 1.
    pub taken: u32,
    pub span: Span,
}

/// A kept quantity's value before the first update, for one parameter:
/// the `const` tensor `velocity = v0` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialState {
    pub param: TensorId,
    pub quantity: optimizer::Quantity,
    pub tensor: TensorId,
}

impl Train {
    /// The tensor `param`'s `quantity` starts from, if the file gives one.
    pub fn initial(&self, param: TensorId, quantity: optimizer::Quantity) -> Option<TensorId> {
        self.state.iter().find(|s| s.param == param && s.quantity == quantity).map(|s| s.tensor)
    }
}

/// A checked network.
#[derive(Clone, Debug)]
pub struct Model {
    /// Every expression of the model.
    pub graph: Graph,
    /// Declared tensors and equations, in file order.
    pub tensors: IndexMap<String, NamedTensor>,
    /// Scalar functions, in file order.
    pub functions: IndexMap<String, Function>,
    /// Equations (and last the loss) in an order where each needs only
    /// earlier ones.
    pub order: Vec<TensorId>,
    pub loss: TensorId,
    pub train: Option<Train>,
    /// For a file with `steps t = …`: which tensors are steps of which sequence.
    pub time: Option<time::Timeline>,
    /// For a network that works on several examples at once, how it lays them out.
    pub batch: Option<Batch>,
    /// The batch and layer normalizations, as written out into equations.
    pub norms: Vec<norm::NormLayer>,
    /// The equations a layer wrote out (μ, var, x̂ of a normalization, rms
    /// of rmsnorm, S and A of attention), each with the equation that
    /// called the layer.
    pub written_out: Vec<(TensorId, TensorId)>,
    /// The pre-activations the file left unnamed and nnderive named
    /// (`zh = W x + b` before `h = tanh(zh)`), in the order of the equations;
    /// each is also in `written_out`, before the equation that uses it.
    pub introduced: preact::Introductions,
    /// The named axes of each tensor, by [`TensorId`] (see [`axes`]).
    pub axes: Vec<axes::Axes>,
}

/// How a network that works on a batch of examples lays them out, read off
/// the first operation that shows it: a bias stretched over the examples
/// (`W @ X + b` with `b[m]` over `[m, N]`: the examples are columns), or a
/// softmax or cross-entropy of a matrix along its class axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The axis the examples lie along: axis 1 when they are columns
    /// (`X[4, N]`, the `[n]`-is-a-column convention), axis 0 when rows
    /// (CS231n's `X[N, 4]`).
    pub examples: Axis,
    /// How many examples.
    pub size: usize,
}

impl Model {
    pub fn tensor(&self, id: TensorId) -> &NamedTensor {
        &self.tensors[id.0 as usize]
    }

    /// The named axes of tensor `id`: which holds the examples, the
    /// channels, … where the file says it (see [`axes`]).
    pub fn axes(&self, id: TensorId) -> &axes::Axes {
        static NO_AXES: axes::Axes = axes::Axes::NONE;
        self.axes.get(id.0 as usize).unwrap_or(&NO_AXES)
    }

    pub fn tensor_id(&self, name: &str) -> Option<TensorId> {
        self.tensors.get_index_of(name).map(|i| TensorId(i as u32))
    }

    /// The equation of the file that uses `id`, when `id` is a
    /// pre-activation nnderive named (`h[2]` for `zh[2]`).
    pub fn introduced_for(&self, id: TensorId) -> Option<TensorId> {
        self.introduced.user(id)
    }

    /// The right-hand side of equation `id` as the file wrote it: its
    /// definition, or the one before nnderive named its pre-activations.
    pub fn written_definition(&self, id: TensorId) -> Option<NodeId> {
        self.introduced.written(id).or(self.tensor(id).definition)
    }

    pub fn function(&self, id: FnId) -> &Function {
        &self.functions[id.0 as usize]
    }

    /// The parameters, in file order.
    pub fn params(&self) -> impl Iterator<Item = TensorId> + '_ {
        self.ids().filter(|&id| self.tensor(id).role == Role::Param)
    }

    /// Every tensor id, in file order.
    pub fn ids(&self) -> impl Iterator<Item = TensorId> {
        (0..self.tensors.len() as u32).map(TensorId)
    }

    /// Equations in file order (the loss included).
    ///
    /// The equations a layer writes out (μ, var and x̂ of a normalization,
    /// S and A of attention) come just before the equation that calls the
    /// layer, though they are declared after every equation of the file.
    pub fn equations(&self) -> impl Iterator<Item = TensorId> + '_ {
        // Each tensor's written-out equations, in `written_out`'s order,
        // gathered in one pass: scanning `written_out` for each equation
        // took time quadratic in a recurrence's steps (each step writes
        // its own softmax's pre-activation, say).
        let mut written_for: Vec<Vec<TensorId>> = vec![Vec::new(); self.tensors.len()];
        let mut written = vec![false; self.tensors.len()];
        for &(owner, t) in &self.written_out {
            written_for[owner.0 as usize].push(t);
            written[t.0 as usize] = true;
        }
        let mut out = Vec::new();
        for id in self.ids().filter(|&id| self.tensor(id).definition.is_some() && !written[id.0 as usize]) {
            for &t in &written_for[id.0 as usize] {
                // A pre-activation nnderive named inside an equation a layer
                // wrote out (attention's S = zS / √d) comes before it; no
                // deeper chain exists (a named pre-activation has none).
                out.extend(&written_for[t.0 as usize]);
                out.push(t);
            }
            out.push(id);
        }
        out.into_iter()
    }

    /// What `n` of `graph` (the model's graph or one extending it) is,
    /// looking through a named tensor to its definition.
    pub fn defined(&self, graph: &Graph, n: NodeId) -> NodeId {
        match *graph.node(n) {
            Node::Tensor(t) => self.tensor(t).definition.unwrap_or(n),
            _ => n,
        }
    }

    /// `u` when `n` is `σ(u)` or a tensor defined as one.
    pub fn sigmoid_argument(&self, graph: &Graph, n: NodeId) -> Option<NodeId> {
        match graph.node(self.defined(graph, n)) {
            Node::Apply(Func::Builtin(Elementwise::Sigmoid), args) => args.first().copied(),
            _ => None,
        }
    }

    /// Whether `n` is `1 − σ(u)` or `1 − tanh(u)²` (σ(u) and tanh(u) written
    /// out or as named tensors), and its `u`.
    pub fn complement(&self, graph: &Graph, n: NodeId) -> Option<Complement> {
        let is = |c: NodeId, k: i64| {
            graph.as_const(c).is_some_and(|c| crate::rational::eq(c, &BigRational::from_integer(k.into())))
        };
        let Node::Sub(one, x) = *graph.node(n) else { return None };
        if !is(one, 1) {
            return None;
        }
        if let Some(u) = self.sigmoid_argument(graph, x) {
            return Some(Complement::OneMinusSigmoid(u));
        }
        let Node::Pow(h, ref e) = *graph.node(x) else { return None };
        if !crate::rational::eq(e, &BigRational::from_integer(2.into())) {
            return None;
        }
        match graph.node(self.defined(graph, h)) {
            Node::Apply(Func::Builtin(Elementwise::Tanh), args) => {
                args.first().map(|&u| Complement::OneMinusTanhSquared(u))
            }
            _ => None,
        }
    }
}

/// `1 − σ(u)` or `1 − tanh(u)²`, the factors of the derivatives σ′ = σ (1 − σ)
/// and tanh′ = 1 − tanh². In f64, σ(u) rounds to 1 past u = 37 and tanh(u)²
/// past |u| = 19, and the subtraction then loses the whole value: the
/// evaluator computes a complement from u (σ(−u), sech²(u)), and the
/// derivation keeps it whole rather than multiplying it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Complement {
    OneMinusSigmoid(NodeId),
    OneMinusTanhSquared(NodeId),
}

impl Complement {
    /// The `u` it is computed from.
    pub fn argument(self) -> NodeId {
        match self {
            Complement::OneMinusSigmoid(u) | Complement::OneMinusTanhSquared(u) => u,
        }
    }
}
