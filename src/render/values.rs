//! Tensor values laid out for reading: scalars inline, vectors as columns,
//! matrices as blocks with aligned columns, drawn with tall brackets.

use crate::eval::tensor::{Data, Tensor};

use super::formula::{display_width, Notation};

/// The printed entries of a tensor as rows of cells (a vector is one column).
pub fn cells(t: &Tensor, round: Option<u32>) -> Vec<Vec<String>> {
    cells_in(t, round, Notation::Text)
}

/// [`cells`] in a notation: an entry left open is an expression, written
/// in text or LaTeX (numbers are the same in both).
pub fn cells_in(t: &Tensor, round: Option<u32>, notation: Notation) -> Vec<Vec<String>> {
    let entry = |i: usize| match t.data() {
        // Numbers among expressions are written as expressions too (`−0.5`),
        // so that one block has one minus sign.
        Data::Symbolic(v) => match v.get(i) {
            Some(s) => super::symbolic::entry(s, round, notation),
            None => t.format_entry(i, round),
        },
        _ => t.format_entry(i, round),
    };
    let dims = t.dims();
    let (rows, cols) = match dims {
        [] => (1, 1),
        [n] => (*n, 1),
        [m, n] => (*m, *n),
        // Higher ranks print as rows of their last dimension.
        _ => {
            let cols = *dims.last().unwrap_or(&1);
            (t.len() / cols.max(1), cols)
        }
    };
    (0..rows).map(|r| (0..cols).map(|c| entry(r * cols + c)).collect()).collect()
}

/// A scalar (or the first entry) as written in `notation`.
pub fn scalar(t: &Tensor, round: Option<u32>, notation: Notation) -> String {
    cells_in(t, round, notation).into_iter().flatten().next().unwrap_or_default()
}

/// Cells aligned on their decimal points, one string per row.
pub fn aligned_rows(cells: &[Vec<String>]) -> Vec<String> {
    let cols = cells.first().map(Vec::len).unwrap_or(0);
    let split = |s: &str| -> (usize, usize) {
        match s.find(['.', '/']) {
            Some(i) => (display_width(&s[..i]), display_width(&s[i..])),
            None => (display_width(s), 0),
        }
    };
    // Each cell is measured once; the widths are needed twice (for the
    // column widths, then for the padding).
    let splits: Vec<Vec<(usize, usize)>> = cells.iter().map(|row| row.iter().map(|c| split(c)).collect()).collect();
    let mut int_w = vec![0; cols];
    let mut frac_w = vec![0; cols];
    for row in &splits {
        for (c, &(i, f)) in row.iter().enumerate() {
            int_w[c] = int_w[c].max(i);
            frac_w[c] = frac_w[c].max(f);
        }
    }
    cells
        .iter()
        .zip(&splits)
        .map(|(row, widths)| {
            let bytes: usize = row.iter().map(String::len).sum();
            let pads: usize = int_w.iter().chain(&frac_w).sum();
            let mut line = String::with_capacity(bytes + pads + 2 * row.len());
            for (c, (cell, &(i, f))) in row.iter().zip(widths).enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                push_spaces(&mut line, int_w[c] - i);
                line.push_str(cell);
                push_spaces(&mut line, frac_w[c] - f);
            }
            line
        })
        .collect()
}

/// Appends `n` spaces, a slice at a time rather than a character at a time.
fn push_spaces(line: &mut String, mut n: usize) {
    const SPACES: &str = "                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        line.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// A tensor drawn as text lines: `1.35` for a scalar, a bracketed column or block otherwise.
pub fn block(t: &Tensor, round: Option<u32>) -> Vec<String> {
    let rows = aligned_rows(&cells(t, round));
    if t.dims().is_empty() {
        return rows;
    }
    if rows.len() == 1 {
        return vec![format!("[{}]", rows[0])];
    }
    let last = rows.len() - 1;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let (l, rt) = match i {
                0 => ('⎡', '⎤'),
                i if i == last => ('⎣', '⎦'),
                _ => ('⎢', '⎥'),
            };
            format!("{l} {r} {rt}")
        })
        .collect()
}

/// A tensor of rank 3 or more as its matrices: for a map `[C, H, W]` each
/// channel `[c]`, for a kernel bank `[F, C, kh, kw]` each `[f,c]`, with the
/// index that labels it (`"0"`, `"1,0"`). Lower ranks are one matrix with no label.
pub fn slices(t: &Tensor) -> Vec<(String, Tensor)> {
    let dims = t.dims();
    if dims.len() < 3 {
        return vec![(String::new(), t.clone())];
    }
    let (lead, matrix) = dims.split_at(dims.len() - 2);
    let size = matrix[0] * matrix[1];
    let count: usize = lead.iter().product();
    (0..count)
        .map(|k| {
            let mut index = vec![0; lead.len()];
            let mut rest = k;
            for (slot, d) in index.iter_mut().zip(lead).rev() {
                *slot = rest % d.max(&1);
                rest /= d.max(&1);
            }
            let label: Vec<String> = index.iter().map(usize::to_string).collect();
            (label.join(","), t.slice(k * size, matrix.to_vec()))
        })
        .collect()
}

/// `lhs = ` followed by a block whose first line continues the lhs line; a
/// tensor of rank 3 or more as one block per channel, `lhs[c] = ...`.
pub fn labelled(lhs: &str, t: &Tensor, round: Option<u32>, indent: &str) -> String {
    if t.dims().len() >= 3 {
        let name = lhs.trim_end();
        return slices(t).iter().map(|(index, m)| labelled(&format!("{name}[{index}]"), m, round, indent)).collect();
    }
    let lines = block(t, round);
    let pad = " ".repeat(display_width(lhs) + 3);
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("{indent}{lhs} = {l}\n"));
        } else {
            out.push_str(&format!("{indent}{pad}{l}\n"));
        }
    }
    out
}
