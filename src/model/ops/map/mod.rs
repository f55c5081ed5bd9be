//! The map operations: the layers over feature maps that are not
//! compositions of the graph's other operations (`conv2d`, `maxpool` and
//! `avgpool`). Each has a forward part and backward parts that only its own
//! local adjoint builds, and one file holds all of them: one `impl` of
//! [`MapOp`] with the shape rules, the local adjoint, the notation, the
//! NumPy export and the work estimate of every part.
//!
//! The graph carries an operation as one `Node` variant that names the
//! part (`Node::Conv(ConvPart::KernelGrad, X, δ, conv)`), so each stage
//! reaches the operation through one arm (`map::conv(…)`, `map::pool(…)`)
//! and the part through the operation's methods; [`node`]'s table names the
//! operation of each variant. The part enums sit in `model::func` beside
//! the settings they go with, since the graph's nodes hold them. The
//! numeric kernels are `eval`'s (`eval::map` reaches them by the part),
//! written once over exact and f64 values, since they are the evaluator's
//! loops over its tensors. The layer rules the derivation states (the
//! convention, its index forms, the batch and layout rules) are the
//! operation's too, as [`LayerRule`]s (`Conv2d::KERNEL_GRAD_RULE`); which
//! of them a formula relies on, `derive::rules` decides from the node's
//! part and its operands' shapes.
//!
//! Adding one (docs/design.md, "Adding an operation"): its part enum in
//! `model::func`, its `Node` variant, a file here with its `impl`, its view
//! function and its line in [`node`]'s table; the compiler then lists the
//! matches that need an arm for the new variant, each of which calls the
//! view's [`AnyMapNode`] methods.

use crate::model::{Conv, ConvPart, Graph, Node, NodeId, PoolKind, PoolPart, Shape, Window};

mod conv2d;
mod pool;
mod spec;

pub use conv2d::Conv2d;
pub use pool::Pool;
pub use spec::{size_tuple, Adjoint, Indexed, LayerRule, MapOp, NumpyCall, NumpyHelper, Side, Spelling, Symbol};

/// One node of a map operation: the operation, the part it computes, its
/// operands and the layer's settings.
pub struct MapNode<O: MapOp + 'static> {
    pub op: &'static O,
    pub part: O::Part,
    pub operands: Vec<NodeId>,
    pub settings: O::Settings,
}

/// What the stages ask of a map operation's node, whatever the operation:
/// each answer is its operation's, for its part (see [`MapOp`]).
pub trait AnyMapNode {
    /// The operands, in order.
    fn operands(&self) -> &[NodeId];
    /// See [`MapOp::adjoint`].
    fn adjoint(&self, g: &mut Graph, seed: NodeId, wants: &dyn Fn(NodeId) -> bool) -> Vec<Adjoint>;
    /// See [`MapOp::backward`].
    fn backward(&self) -> Option<(&'static str, &'static str)>;
    /// See [`MapOp::spelling`].
    fn spelling(&self, nn: bool) -> Spelling;
    /// See [`MapOp::numpy`]; `out` is the node's shape.
    fn numpy(&self, out: &Shape) -> NumpyCall;
    /// See [`MapOp::work`]; `g` holds the operands, `out` is the node's shape.
    fn work(&self, g: &Graph, out: &Shape) -> u128;
}

impl<O: MapOp> AnyMapNode for MapNode<O> {
    fn operands(&self) -> &[NodeId] {
        &self.operands
    }

    fn adjoint(&self, g: &mut Graph, seed: NodeId, wants: &dyn Fn(NodeId) -> bool) -> Vec<Adjoint> {
        self.op.adjoint(g, self.part, &self.operands, self.settings, seed, wants)
    }

    fn backward(&self) -> Option<(&'static str, &'static str)> {
        self.op.backward(self.part)
    }

    fn spelling(&self, nn: bool) -> Spelling {
        self.op.spelling(self.part, &self.operands, self.settings, nn)
    }

    fn numpy(&self, out: &Shape) -> NumpyCall {
        self.op.numpy(self.part, &self.operands, self.settings, out)
    }

    fn work(&self, g: &Graph, out: &Shape) -> u128 {
        let shapes: Vec<&Shape> = self.operands.iter().map(|&a| g.shape(a)).collect();
        self.op.work(self.part, &shapes, self.settings, out)
    }
}

/// `Node::Conv(part, a, b, conv)` as its operation reads it.
pub fn conv(part: ConvPart, a: NodeId, b: NodeId, conv: Conv) -> MapNode<Conv2d> {
    MapNode { op: &conv2d::Conv2d, part, operands: vec![a, b], settings: conv }
}

/// `Node::Pool(kind, part, operands, window)` as its operation reads it.
pub fn pool(kind: PoolKind, part: PoolPart, operands: &[NodeId], window: Window) -> MapNode<Pool> {
    MapNode { op: &pool::Pool, part: (kind, part), operands: operands.to_vec(), settings: window }
}

/// The table: each map operation's `Node` variant and the operation that
/// knows it (through its function above, `conv` for `Node::Conv`), with
/// the node's part, operands and settings; `None` for every other
/// operation. The match names every variant, so a new operation does not
/// compile until it is placed here.
pub fn node(node: &Node) -> Option<Box<dyn AnyMapNode>> {
    Some(match node {
        Node::Conv(part, a, b, c) => Box::new(conv(*part, *a, *b, *c)),
        Node::Pool(kind, part, operands, w) => Box::new(pool(*kind, *part, operands, *w)),
        Node::Tensor(_)
        | Node::Param(_)
        | Node::Symbol(_)
        | Node::Const(_)
        | Node::Ones(_)
        | Node::Neg(_)
        | Node::Add(..)
        | Node::Sub(..)
        | Node::Mul(..)
        | Node::Div(..)
        | Node::Pow(..)
        | Node::MatMul(..)
        | Node::Transpose(_)
        | Node::Apply(..)
        | Node::Reduce(..)
        | Node::Softmax(..)
        | Node::LogSoftmax(..)
        | Node::MaskedSoftmax(..)
        | Node::Diag(_)
        | Node::Loss(..)
        | Node::Flatten(_)
        | Node::Reshape(..)
        | Node::SumSpatial(..)
        | Node::SumAxis(..)
        | Node::OneHot(..)
        | Node::Slice(..)
        | Node::Unslice(..)
        | Node::Gather(..)
        | Node::ScatterAdd(..) => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::{MapLayout, TensorId};

    /// Each forward part's adjoint gives every operand a backward part of
    /// that operand's own shape, with a rule and a `.nn` name of its own;
    /// a backward part has no adjoint of its own.
    #[test]
    fn every_backward_part_has_its_operand_shape() {
        let mut g = Graph::default();
        let mut next = 0;
        let mut tensor = |g: &mut Graph, dims: &[usize]| {
            next += 1;
            g.tensor(TensorId(next), Shape(dims.to_vec()))
        };
        let mut forward: Vec<(Box<dyn AnyMapNode>, NodeId)> = Vec::new();
        let convs: [(&[usize], &[usize], Conv); 3] = [
            (&[3, 5, 5], &[2, 3, 3, 3], Conv { stride: 2, pad: 1, layout: MapLayout::Nchw }),
            (&[2, 3, 6, 6], &[4, 3, 3, 3], Conv { stride: 1, pad: 0, layout: MapLayout::Nchw }),
            (&[2, 5, 7, 4], &[3, 3, 4, 8], Conv { stride: 2, pad: 1, layout: MapLayout::Nhwc }),
        ];
        for (x, k, c) in convs {
            let (x, k) = (tensor(&mut g, x), tensor(&mut g, k));
            let z = Conv2d.build(&mut g, ConvPart::Forward, &[x, k], c);
            forward.push((Box::new(conv(ConvPart::Forward, x, k, c)), z));
        }
        for kind in [PoolKind::Max, PoolKind::Avg] {
            let a = tensor(&mut g, &[2, 4, 4]);
            let w = Window::plain(2, 2, [4, 4]);
            let p = Pool.build(&mut g, (kind, PoolPart::Forward), &[a], w);
            forward.push((Box::new(pool(kind, PoolPart::Forward, &[a], w)), p));
            let a = tensor(&mut g, &[2, 5, 5, 3]);
            let w = Window { pad: [1, 1], layout: MapLayout::Nhwc, ..Window::plain(3, 2, [5, 5]) };
            let p = Pool.build(&mut g, (kind, PoolPart::Forward), &[a], w);
            forward.push((Box::new(pool(kind, PoolPart::Forward, &[a], w)), p));
        }
        let (mut rules, mut names) = (BTreeSet::new(), BTreeSet::new());
        for (f, result) in &forward {
            assert_eq!(f.backward(), None);
            // The gradient of the result: a tensor of its shape.
            let dims = g.shape(*result).dims().to_vec();
            let out = tensor(&mut g, &dims);
            let adjoints = f.adjoint(&mut g, out, &|_| true);
            assert_eq!(adjoints.len(), f.operands().len());
            for a in adjoints {
                assert_eq!(g.shape(a.contribution), g.shape(a.operand), "{}", a.rule);
                rules.insert(a.rule);
                let back = node(g.node(a.contribution)).expect("a backward part is a map operation's node");
                names.insert(back.backward().expect("a backward part has a .nn name").0);
                assert!(back.adjoint(&mut g, out, &|_| true).is_empty());
            }
        }
        assert_eq!(rules.len(), 4, "{rules:?}");
        assert_eq!(names.len(), 4, "{names:?}");
    }
}
