//! Computes the value of any formula in a derivation's graph.

use std::collections::HashMap;

use num_rational::BigRational;

use super::conv;
use super::tensor::Tensor;
use crate::derive::Derivation;
use crate::model::{Elementwise, Func, Graph, LossFn, Model, Node, NodeId, Reduction, SymbolId};

/// Something worth telling the reader about how a value was computed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// step or sign was evaluated exactly at 0 (a kink of relu or abs), so
    /// the stated convention decided the value.
    Kink { function: &'static str, quantity: String, entries: Vec<usize> },
    /// An exact value grew past the size cap and continued as f64.
    Capped { quantity: String },
}

/// Evaluates formulas of one graph with the current tensor values.
pub struct Evaluator<'a> {
    pub model: &'a Model,
    pub graph: &'a Graph,
    pub derivation: Option<&'a Derivation>,
    /// Values by [`TensorId`].
    pub tensors: Vec<Option<Tensor>>,
    /// Values of defined symbols by [`SymbolId`].
    pub symbols: HashMap<SymbolId, Tensor>,
    memo: HashMap<NodeId, Tensor>,
    /// What is being computed, for notes and errors.
    pub quantity: String,
    pub notes: Vec<Note>,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        model: &'a Model,
        graph: &'a Graph,
        derivation: Option<&'a Derivation>,
        tensors: Vec<Option<Tensor>>,
    ) -> Self {
        Evaluator {
            model,
            graph,
            derivation,
            tensors,
            symbols: HashMap::new(),
            memo: HashMap::new(),
            quantity: String::new(),
            notes: Vec::new(),
        }
    }

    /// Forgets cached node values (after parameters change).
    pub fn clear(&mut self) {
        self.memo.clear();
        self.symbols.clear();
    }

    /// The value of `node`; an error message names the entry at fault.
    pub fn eval(&mut self, node: NodeId) -> Result<Tensor, String> {
        if let Some(v) = self.memo.get(&node) {
            return Ok(v.clone());
        }
        let v = self.compute(node, &[])?;
        self.memo.insert(node, v.clone());
        Ok(v)
    }

    /// Computes `node`, with `params` bound for a function body.
    fn compute(&mut self, node: NodeId, params: &[Tensor]) -> Result<Tensor, String> {
        let g = self.graph;
        let inside_fn = !params.is_empty();
        let sub = |this: &mut Self, n: NodeId| -> Result<Tensor, String> {
            if inside_fn {
                this.compute(n, params)
            } else {
                this.eval(n)
            }
        };
        let e = |r: Result<Tensor, super::tensor::NumericError>| r.map_err(|e| e.to_string());
        let value = match g.node(node) {
            Node::Tensor(t) => match &self.tensors[t.0 as usize] {
                Some(v) => v.clone(),
                None => return Err(format!("{} has no value", self.model.tensor(*t).name)),
            },
            Node::Param(i) => {
                params.get(*i as usize).cloned().ok_or_else(|| "a function parameter has no value".to_string())?
            }
            Node::Symbol(s) => self
                .symbols
                .get(s)
                .cloned()
                .ok_or_else(|| "a derived quantity was used before it was computed".to_string())?,
            Node::Const(c) => Tensor::scalar_exact(c.clone()),
            Node::Neg(a) => sub(self, *a)?.neg(),
            Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b) | Node::MatMul(a, b) => {
                let op: fn(&Tensor, &Tensor) -> Result<Tensor, super::tensor::NumericError> = match g.node(node) {
                    Node::Add(..) => Tensor::add,
                    Node::Sub(..) => Tensor::sub,
                    Node::Mul(..) => Tensor::mul,
                    Node::Div(..) => Tensor::div,
                    _ => Tensor::matmul,
                };
                let (a, b) = (sub(self, *a)?, sub(self, *b)?);
                e(op(&a, &b))?
            }
            Node::Pow(a, x) => {
                let a = sub(self, *a)?;
                e(a.pow(x))?
            }
            Node::Transpose(a) => e(sub(self, *a)?.transpose())?,
            Node::Apply(f, args) => {
                let mut values = Vec::with_capacity(args.len());
                for &a in args {
                    values.push(sub(self, a)?);
                }
                self.apply(*f, &values)?
            }
            Node::Reduce(Reduction::Sum, a) => e(sub(self, *a)?.sum())?,
            Node::Reduce(Reduction::Mean, a) => e(sub(self, *a)?.mean())?,
            Node::Softmax(a) => e(sub(self, *a)?.softmax())?,
            Node::LogSoftmax(a) => e(sub(self, *a)?.log_softmax())?,
            Node::Diag(a) => e(sub(self, *a)?.diag())?,
            Node::Loss(kind, y, p) => {
                let (y, p) = (sub(self, *y)?, sub(self, *p)?);
                e(loss(*kind, &y, &p))?
            }
            Node::Conv2d(x, k, c) => e(conv::conv2d(&sub(self, *x)?, &sub(self, *k)?, *c, g.shape(node).dims()))?,
            Node::ConvKernelGrad(x, d, c) => {
                e(conv::conv2d_kernel_grad(&sub(self, *x)?, &sub(self, *d)?, *c, g.shape(node).dims()))?
            }
            Node::ConvInputGrad(d, k, c) => {
                e(conv::conv2d_input_grad(&sub(self, *d)?, &sub(self, *k)?, *c, g.shape(node).dims()))?
            }
            Node::Pool(kind, a, w) => e(conv::pool(*kind, &sub(self, *a)?, *w))?,
            Node::MaxPoolBack(a, gr, w) => e(conv::max_pool_back(&sub(self, *a)?, &sub(self, *gr)?, *w))?,
            Node::AvgPoolBack(gr, w) => e(conv::avg_pool_back(&sub(self, *gr)?, *w, g.shape(node).dims()))?,
            Node::Flatten(a) | Node::Reshape(a, _) => e(conv::reshape(&sub(self, *a)?, g.shape(node).dims()))?,
            Node::SumSpatial(a) => e(conv::sum_spatial(&sub(self, *a)?))?,
        };
        Ok(value)
    }

    fn apply(&mut self, f: Func, args: &[Tensor]) -> Result<Tensor, String> {
        match f {
            Func::Builtin(b) => {
                let x = &args[0];
                if matches!(b, Elementwise::Step | Elementwise::Sign) {
                    let zeros = x.zero_entries();
                    if !zeros.is_empty() {
                        let function = if b == Elementwise::Step { "step" } else { "sign" };
                        self.notes.push(Note::Kink { function, quantity: self.quantity.clone(), entries: zeros });
                    }
                }
                x.map(b).map_err(|e| e.to_string())
            }
            Func::Custom(id) => {
                let body = self.model.function(id).body;
                let args = broadcast_all(args)?;
                self.compute(body, &args)
            }
            Func::Derivative { func, wrt } => {
                let body = self
                    .derivation
                    .and_then(|d| d.fn_derivative(func, wrt))
                    .map(|d| d.body)
                    .ok_or_else(|| "the derivative of a function is not known".to_string())?;
                let args = broadcast_all(args)?;
                let v = self.compute(body, &args)?;
                // A derivative that is a constant (0) still has the arguments' shape.
                broadcast_to(&v, &args[0])
            }
        }
    }
}

/// Makes every argument of a function call the same shape (a scalar
/// argument is spread over the shape of the others).
fn broadcast_all(args: &[Tensor]) -> Result<Vec<Tensor>, String> {
    let Some(largest) = args.iter().max_by_key(|a| a.len()) else {
        return Ok(Vec::new());
    };
    args.iter().map(|a| broadcast_to(a, largest)).collect()
}

/// `value` spread to the shape of `like` when it is a scalar.
pub fn broadcast_to(value: &Tensor, like: &Tensor) -> Result<Tensor, String> {
    if value.dims().is_empty() && !like.dims().is_empty() {
        let zeros = like.zeros_like();
        zeros.add(value).map_err(|e| e.to_string())
    } else {
        Ok(value.clone())
    }
}

/// The built-in losses, from their definitions.
fn loss(kind: LossFn, y: &Tensor, p: &Tensor) -> Result<Tensor, super::tensor::NumericError> {
    let one = Tensor::scalar_exact(BigRational::from_integer(1.into()));
    match kind {
        LossFn::CrossEntropy => Ok(y.mul(&p.map(Elementwise::Log)?)?.sum()?.neg()),
        LossFn::Mse => p.sub(y)?.pow(&BigRational::from_integer(2.into()))?.mean(),
        LossFn::Bce => {
            let a = y.mul(&p.map(Elementwise::Log)?)?;
            let b = one.sub(y)?.mul(&one.sub(p)?.map(Elementwise::Log)?)?;
            Ok(a.add(&b)?.mean()?.neg())
        }
    }
}
