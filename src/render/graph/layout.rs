//! A layered layout (after Sugiyama, Tagawa and Toda, 1981) for drawing a
//! graph where Graphviz is not at hand: in the LaTeX document, whose
//! TikZ picture must compile with pdflatex alone.
//!
//! 1. Columns: the longest path from a source, so that every edge points
//!    right; then, from the last node back, each node moves right to just
//!    before its first user (a parameter sits next to the operation that
//!    reads it, not in the first column; so does `h₀ → h_{t−1}`).
//! 2. An edge that spans several columns passes through a waypoint in
//!    each column between, so that it is ordered with the nodes there and
//!    drawn around them rather than through them.
//! 3. Order within a column: a few sweeps of the barycentre heuristic,
//!    each node placed at the mean position of its neighbours in the
//!    column before (then after).
//! 4. Rows: each node as close as it can be to the mean row of its
//!    neighbours while keeping the column's order and one row between
//!    nodes: the least-squares placement under those constraints, found
//!    exactly by pooling adjacent violators.
//!
//! Every step is linear in the graph's size (times a fixed number of
//! sweeps) or a sort of a column; nothing recurses.

use std::cmp::Ordering;

/// Where each node goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Each node's column, 0 the leftmost.
    pub column: Vec<usize>,
    /// Each node's row, downward from 0; rows of one column are at least 1 apart.
    pub row: Vec<f64>,
    /// For each edge, the waypoints `(column, row)` between its ends.
    pub waypoints: Vec<Vec<(usize, f64)>>,
    pub columns: usize,
}

/// How many sweeps order the columns and place the rows.
const SWEEPS: usize = 6;

/// Lays out `n` nodes joined by `edges` `(from, to)`. The edges should
/// form no cycle; if they do, an edge that closes one is drawn backwards
/// without waypoints.
pub fn layered(n: usize, edges: &[(usize, usize)]) -> Layout {
    let column = columns(n, edges);
    let columns = column.iter().map(|c| c + 1).max().unwrap_or(0);

    // Waypoints are nodes n.. of the extended graph, one per column crossed.
    let mut col = column.clone();
    let mut links: Vec<(usize, usize)> = Vec::new();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for &(a, b) in edges {
        let mut chain = Vec::new();
        if column[b] > column[a] {
            let mut prev = a;
            for c in column[a] + 1..column[b] {
                let w = col.len();
                col.push(c);
                chain.push(w);
                links.push((prev, w));
                prev = w;
            }
            links.push((prev, b));
        }
        chains.push(chain);
    }
    let total = col.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); total];
    for &(a, b) in &links {
        succs[a].push(b);
        preds[b].push(a);
    }

    // Each column's nodes, first in the order given.
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (v, &c) in col.iter().enumerate() {
        layers[c].push(v);
    }
    let mut position = vec![0.0; total];
    let number = |layers: &[Vec<usize>], position: &mut [f64]| {
        for layer in layers {
            for (i, &v) in layer.iter().enumerate() {
                position[v] = i as f64;
            }
        }
    };
    number(&layers, &mut position);
    // Down the columns by the neighbours before, then back up by those after.
    let last = columns.saturating_sub(1);
    for _ in 0..SWEEPS {
        for layer in layers.iter_mut().skip(1) {
            order_by_barycentre(layer, &preds, &mut position);
        }
        for layer in layers[..last].iter_mut().rev() {
            order_by_barycentre(layer, &succs, &mut position);
        }
    }

    // Rows: start from the order, then pull each node toward its neighbours.
    let mut row = position;
    for _ in 0..SWEEPS {
        for layer in layers.iter().skip(1) {
            place(layer, &preds, &mut row);
        }
        for layer in layers[..last].iter().rev() {
            place(layer, &succs, &mut row);
        }
    }
    let top = row.iter().copied().fold(f64::INFINITY, f64::min);
    if top.is_finite() {
        for r in &mut row {
            *r -= top;
        }
    }
    let waypoints = chains.iter().map(|chain| chain.iter().map(|&w| (col[w], row[w])).collect()).collect();
    row.truncate(n);
    Layout { column, row, waypoints, columns }
}

/// The column of each node: the longest path from a source (in a
/// topological order that takes the lowest-numbered ready node first, and
/// breaks a cycle at its lowest-numbered node), then each node just
/// before the first of its users.
fn columns(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges {
        succs[a].push(b);
        indegree[b] += 1;
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
        (0..n).filter(|&v| indegree[v] == 0).map(std::cmp::Reverse).collect();
    let mut done = vec![false; n];
    let mut column = vec![0usize; n];
    let mut order = Vec::with_capacity(n);
    let (mut next_unplaced, mut placed) = (0, 0);
    while placed < n {
        let v = match ready.pop() {
            Some(std::cmp::Reverse(v)) => v,
            None => {
                // A cycle: start from its lowest-numbered node.
                while done[next_unplaced] {
                    next_unplaced += 1;
                }
                next_unplaced
            }
        };
        if done[v] {
            continue;
        }
        done[v] = true;
        placed += 1;
        order.push(v);
        for &w in &succs[v] {
            if !done[w] {
                column[w] = column[w].max(column[v] + 1);
                indegree[w] -= 1;
                if indegree[w] == 0 {
                    ready.push(std::cmp::Reverse(w));
                }
            }
        }
    }
    // As late as possible: each node just before its first user, from the
    // last node back (a sink keeps its column).
    for &v in order.iter().rev() {
        if let Some(first_use) = succs[v].iter().map(|&w| column[w]).filter(|&c| c > column[v]).min() {
            column[v] = first_use - 1;
        }
    }
    column
}

/// Sorts a column by the mean position of each node's neighbours in
/// `neighbours` (a node without any keeps its place), then renumbers it.
fn order_by_barycentre(layer: &mut [usize], neighbours: &[Vec<usize>], position: &mut [f64]) {
    let key: Vec<(f64, usize)> = layer
        .iter()
        .map(|&v| {
            let ns = &neighbours[v];
            let mean = if ns.is_empty() {
                position[v]
            } else {
                ns.iter().map(|&w| position[w]).sum::<f64>() / ns.len() as f64
            };
            (mean, v)
        })
        .collect();
    let mut keyed: Vec<(f64, f64, usize)> = key.iter().map(|&(k, v)| (k, position[v], v)).collect();
    keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal).then(a.1.total_cmp(&b.1)));
    for (i, (_, _, v)) in keyed.into_iter().enumerate() {
        layer[i] = v;
        position[v] = i as f64;
    }
}

/// Places a column's rows: as near as possible (least squares) to the mean
/// row of each node's `neighbours`, in the column's order, one row apart.
fn place(layer: &[usize], neighbours: &[Vec<usize>], row: &mut [f64]) {
    let wanted: Vec<f64> = layer
        .iter()
        .map(|&v| {
            let ns = &neighbours[v];
            if ns.is_empty() {
                row[v]
            } else {
                ns.iter().map(|&w| row[w]).sum::<f64>() / ns.len() as f64
            }
        })
        .collect();
    for (&v, y) in layer.iter().zip(spaced_least_squares(&wanted, 1.0)) {
        row[v] = y;
    }
}

/// The `y` nearest `wanted` (least squares) with `y[i+1] ≥ y[i] + gap`:
/// with `z[i] = y[i] − i·gap` the constraint is that z never decreases,
/// an isotonic regression, solved by pooling adjacent violators.
pub fn spaced_least_squares(wanted: &[f64], gap: f64) -> Vec<f64> {
    // Blocks of (sum, count), each block's z its mean.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (i, &w) in wanted.iter().enumerate() {
        blocks.push((w - i as f64 * gap, 1));
        while blocks.len() > 1 {
            let (s1, c1) = blocks[blocks.len() - 1];
            let (s0, c0) = blocks[blocks.len() - 2];
            if s0 / c0 as f64 <= s1 / c1 as f64 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s0 + s1, c0 + c1);
        }
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (s, c) in blocks {
        for _ in 0..c {
            let i = out.len();
            out.push(s / c as f64 + i as f64 * gap);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edge points right; a source sits just before its user.
    #[test]
    fn columns_follow_the_edges() {
        // x → op0 → Z → op1 → H; W → op0; V → op1 (V is read late: column 2, not 0).
        let edges = [(0, 1), (1, 2), (3, 1), (2, 4), (5, 4), (4, 6)];
        let l = layered(7, &edges);
        assert_eq!(l.column, [0, 1, 2, 0, 3, 2, 4]);
        for &(a, b) in &edges {
            assert!(l.column[a] < l.column[b]);
        }
    }

    /// Rows in a column keep their order and are at least one apart.
    #[test]
    fn rows_are_spaced_and_near_what_is_wanted() {
        assert_eq!(spaced_least_squares(&[0.0, 5.0], 1.0), [0.0, 5.0]);
        assert_eq!(spaced_least_squares(&[1.0, 1.0], 1.0), [0.5, 1.5]);
        assert_eq!(spaced_least_squares(&[2.0, 1.0, 0.0], 1.0), [0.0, 1.0, 2.0]);
        let l = layered(5, &[(0, 4), (1, 4), (2, 4), (3, 4)]);
        let mut rows: Vec<f64> = l.row[..4].to_vec();
        rows.sort_by(f64::total_cmp);
        assert!(rows.windows(2).all(|w| w[1] - w[0] >= 1.0 - 1e-9), "{rows:?}");
        // The user sits in the middle of its four operands.
        assert!((l.row[4] - 1.5).abs() < 1e-9, "{:?}", l.row);
    }

    /// A long edge passes through one waypoint per column it crosses.
    #[test]
    fn long_edges_have_waypoints() {
        let l = layered(4, &[(0, 1), (1, 2), (2, 3), (0, 3)]);
        assert_eq!(l.waypoints[3].iter().map(|w| w.0).collect::<Vec<_>>(), [1, 2]);
        assert!(l.waypoints[0].is_empty());
    }

    /// A cycle does not stop the layout.
    #[test]
    fn a_cycle_is_broken() {
        let l = layered(3, &[(0, 1), (1, 2), (2, 1)]);
        assert_eq!(l.column.len(), 3);
    }
}
