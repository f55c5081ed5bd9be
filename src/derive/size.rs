//! Sizes of formulas read as trees, counted on the shared graph in linear
//! time. Below both the reverse pass and the polynomial rewrites, which
//! compare a formula's size before and after a rewrite.

use crate::model::{Graph, NodeId, NodeMap};

/// The size of `root` read as a tree (saturating).
pub fn tree_size(g: &Graph, root: NodeId) -> u64 {
    tree_count(g, root, |_| None, 1)
}

/// How many times `target` occurs in `root` read as a tree.
pub fn occurrences(g: &Graph, root: NodeId, target: NodeId) -> u64 {
    tree_count(g, root, |n| (n == target).then_some(1), 0)
}

/// A count over `root` read as a tree (shared nodes counted once per use),
/// computed on the graph in linear time: `leaf(n)` fixes a node's count, and
/// any other node counts `own` plus its children's counts (saturating).
fn tree_count(g: &Graph, root: NodeId, leaf: impl Fn(NodeId) -> Option<u64>, own: u64) -> u64 {
    let mut memo: NodeMap<u64> = NodeMap::default();
    let mut stack = vec![(root, false)];
    while let Some((n, expanded)) = stack.pop() {
        if memo.contains_key(&n) {
            continue;
        }
        if let Some(v) = leaf(n) {
            memo.insert(n, v);
            continue;
        }
        let children = g.node(n).children();
        if !expanded && !children.is_empty() {
            stack.push((n, true));
            stack.extend(children.iter().filter(|c| !memo.contains_key(c)).map(|&c| (c, false)));
            continue;
        }
        let v = children.iter().fold(own, |a, c| a.saturating_add(memo.get(c).copied().unwrap_or(0)));
        memo.insert(n, v);
    }
    memo[&root]
}
