//! Tensor values laid out for reading: scalars inline, vectors as columns,
//! matrices as blocks with aligned columns, drawn with tall brackets.

use crate::eval::number::Fixed;
use crate::eval::tensor::{Data, Tensor};

use super::formula::{display_width, Notation};

/// Whether a sum shown term by term at `round` decimals has an entry whose
/// rounded terms do not add up to its rounded total (`0.0081 − 0.0001 −
/// 0.0001` shown beside `0.0078`): each is rounded on its own, as it must
/// be, and the writers then say so, as a careful textbook footnotes it.
/// False without rounding, and for entries that are expressions or do not
/// print as fixed-point numbers.
pub fn rounded_terms_disagree(terms: &[Tensor], total: &Tensor, round: Option<u32>) -> bool {
    let Some(places) = round else { return false };
    (0..total.len()).any(|i| {
        let units = |t: &Tensor| fixed_units(&t.format_entry(i, Some(places)), places);
        let sum = terms.iter().try_fold(0i128, |acc, t| acc.checked_add(units(t)?));
        matches!((sum, units(total)), (Some(sum), Some(shown)) if sum != shown)
    })
}

/// A number printed with exactly `places` decimals (`-0.0078`) in units of
/// its last place (`-78`); `None` for anything else.
fn fixed_units(s: &str, places: u32) -> Option<i128> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.len() != places as usize || (places > 0 && !all_digits(frac)) {
        return None;
    }
    let magnitude: i128 = format!("{int}{frac}").parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// How a tensor's entries are laid out: (rows, columns). A vector is one
/// column; higher ranks print as rows of their last dimension.
pub fn grid(t: &Tensor) -> (usize, usize) {
    crate::model::Shape::matrix_of(t.dims()).unwrap_or_else(|| {
        let cols = t.dims().last().copied().unwrap_or(1);
        (t.len() / cols.max(1), cols)
    })
}

/// Entry `i` of a tensor as written in `notation`: an entry left open is an
/// expression, in text or LaTeX (numbers are the same in both).
pub fn entry(t: &Tensor, i: usize, round: Option<u32>, notation: Notation) -> String {
    match t.data() {
        // Numbers among expressions are written as expressions too (`−0.5`),
        // so that one block has one minus sign.
        Data::Symbolic(v) => match v.get(i) {
            Some(s) => super::symbolic::entry(s, round, notation),
            None => t.format_entry(i, round),
        },
        _ => t.format_entry(i, round),
    }
}

/// [`entry`] appended to `out`, without a string of its own for a number.
fn entry_into(t: &Tensor, i: usize, round: Option<u32>, out: &mut String) {
    match t.data() {
        Data::Symbolic(_) => out.push_str(&entry(t, i, round, Notation::Text)),
        _ => t.write_entry(i, round, out),
    }
}

/// The entries of row `r` of a tensor's grid, written in `notation`.
pub fn row_cells_in(t: &Tensor, r: usize, round: Option<u32>, notation: Notation) -> impl Iterator<Item = String> + '_ {
    let (_, cols) = grid(t);
    (0..cols).map(move |c| entry(t, r * cols + c, round, notation))
}

/// The entries of a tensor as rows of cells (a vector is one column),
/// written in `notation`.
pub fn cells_in(t: &Tensor, round: Option<u32>, notation: Notation) -> Vec<Vec<String>> {
    let (rows, _) = grid(t);
    (0..rows).map(|r| row_cells_in(t, r, round, notation).collect()).collect()
}

/// A scalar (or the first entry) as written in `notation`.
pub fn scalar(t: &Tensor, round: Option<u32>, notation: Notation) -> String {
    if t.is_empty() {
        return String::new();
    }
    entry(t, 0, round, notation)
}

/// Cells aligned on their decimal points, one string per row.
pub fn aligned_rows(cells: &[Vec<String>]) -> Vec<String> {
    let cols = cells.first().map(Vec::len).unwrap_or(0);
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

/// Appends `n` spaces.
fn push_spaces(line: &mut String, n: usize) {
    crate::eval::shortest::push_run(line, "                                ", n);
}

/// A cell's widths before and after its decimal point (or fraction bar).
fn split(s: &str) -> (usize, usize) {
    match s.find(['.', '/']) {
        Some(i) => (display_width(&s[..i]), display_width(&s[i..])),
        None => (display_width(s), 0),
    }
}

/// What is kept of the entries between measuring and writing, in bytes;
/// past this the entries are computed and formatted again when written.
const KEPT_BYTES: usize = 1 << 24;
const _: () = assert!(KEPT_BYTES < u32::MAX as usize, "kept text is indexed by u32");

/// One entry as measured, kept for writing it (16 bytes: a wide matrix
/// keeps millions).
#[derive(Clone, Copy)]
enum Kept {
    /// A fixed-point number (see [`Tensor::fixed_entry`] and
    /// [`Fixed::packed`]): rounding it again would cost as much as
    /// measuring it did.
    Fixed(u64, u32, bool),
    /// Any other entry, formatted: its byte range in [`Columns::text`]
    /// (at most [`KEPT_BYTES`] long, so within a u32).
    Text(u32, u32),
    /// A fixed-point number too large to pack, made again when written.
    Again,
}

/// The widths of a tensor's columns before and after their decimal points.
struct Columns {
    int_w: Vec<usize>,
    frac_w: Vec<usize>,
    /// Every entry as measured, row-major; `None` when they took more than
    /// [`KEPT_BYTES`] (16 million cells would take gigabytes, while the
    /// text takes what the output takes).
    kept: Option<Vec<Kept>>,
    /// The formatted entries that are not fixed-point numbers, one after
    /// another in one string rather than a string each (a value of a
    /// million entries would be a million allocations).
    text: String,
    /// A row's bytes, gathered before they are appended to the output.
    row: Vec<u8>,
}

impl Columns {
    /// Measures every column. Most numbers have widths known without
    /// writing them (a fixed-point number); the others are formatted.
    fn measure(t: &Tensor, round: Option<u32>) -> Columns {
        Columns::measure_within(t, round, KEPT_BYTES)
    }

    /// [`Columns::measure`], keeping at most `budget` bytes.
    fn measure_within(t: &Tensor, round: Option<u32>, budget: usize) -> Columns {
        let (rows, cols) = grid(t);
        let fits = t.len().saturating_mul(std::mem::size_of::<Kept>()) <= budget;
        let mut kept = fits.then(|| Vec::with_capacity(t.len()));
        let mut text = String::new();
        let (mut int_w, mut frac_w) = (vec![0; cols], vec![0; cols]);
        for r in 0..rows {
            for c in 0..cols {
                let k = r * cols + c;
                let (i, f) = if let Some(fixed) = t.fixed_entry(k, round) {
                    if let Some(kept) = &mut kept {
                        kept.push(fixed.packed().map_or(Kept::Again, |(m, p, n)| Kept::Fixed(m, p, n)));
                    }
                    fixed.widths()
                } else {
                    if kept.is_none() {
                        text.clear();
                    }
                    let start = text.len();
                    entry_into(t, k, round, &mut text);
                    if let Some(kept) = &mut kept {
                        // Past u32 the text is over budget and dropped below.
                        let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
                        kept.push(Kept::Text(u32::try_from(start).unwrap_or(u32::MAX), end));
                    }
                    split(&text[start..])
                };
                int_w[c] = int_w[c].max(i);
                frac_w[c] = frac_w[c].max(f);
                if kept.is_some() && text.len() > budget {
                    kept = None;
                }
            }
        }
        if kept.is_none() {
            text = String::new();
        }
        Columns { int_w, frac_w, kept, text, row: Vec::new() }
    }

    /// Row `r` in `row` as a line of spaces of the row's width with each
    /// number's digits written into its cell: every cell has its column's
    /// width, so where each goes is known, and nothing is copied. `false`
    /// when some cell is not a kept fixed-point number that fits (text,
    /// whose bytes may outnumber its columns, or a magnitude past u64).
    fn place_row(&self, row: &mut Vec<u8>, r: usize) -> bool {
        let Some(kept) = &self.kept else { return false };
        let cols = self.int_w.len();
        let Some(cells) = kept.get(r * cols..(r + 1) * cols) else { return false };
        let width: usize = self.int_w.iter().chain(&self.frac_w).sum::<usize>() + 2 * cols.saturating_sub(1);
        row.clear();
        row.resize(width, b' ');
        let mut start = 0;
        for ((cell, &int_w), &frac_w) in cells.iter().zip(&self.int_w).zip(&self.frac_w) {
            let Kept::Fixed(m, p, n) = *cell else { return false };
            if !Fixed::unpacked((m, p, n)).place(&mut row[start..start + int_w + frac_w], int_w) {
                return false;
            }
            start += int_w + frac_w + 2;
        }
        true
    }

    /// Appends row `r` of `t`, its cells aligned on their decimal points.
    fn write_row(&mut self, out: &mut String, t: &Tensor, r: usize, round: Option<u32>) {
        let cols = self.int_w.len();
        let mut row = std::mem::take(&mut self.row);
        if self.place_row(&mut row, r) {
            out.push_str(std::str::from_utf8(&row).unwrap_or_default());
            self.row = row;
            return;
        }
        row.clear();
        let mut scratch = String::new();
        for c in 0..cols {
            if c > 0 {
                row.extend_from_slice(b"  ");
            }
            let k = r * cols + c;
            let kept = self.kept.as_ref().and_then(|kept| kept.get(k).copied());
            let fixed = match kept {
                Some(Kept::Fixed(m, p, n)) => Some(Fixed::unpacked((m, p, n))),
                Some(Kept::Text(..)) => None,
                Some(Kept::Again) | None => t.fixed_entry(k, round),
            };
            if let Some(fixed) = fixed {
                fixed.write_cell(self.int_w[c], self.frac_w[c], &mut row);
                continue;
            }
            let cell = match kept {
                Some(Kept::Text(start, end)) => &self.text[start as usize..end as usize],
                _ => {
                    scratch.clear();
                    entry_into(t, k, round, &mut scratch);
                    &scratch[..]
                }
            };
            let (i, f) = split(cell);
            push_space_bytes(&mut row, self.int_w[c].saturating_sub(i));
            row.extend_from_slice(cell.as_bytes());
            push_space_bytes(&mut row, self.frac_w[c].saturating_sub(f));
        }
        // Made of whole strings and ASCII, so always valid: checked once per row.
        out.push_str(std::str::from_utf8(&row).unwrap_or_default());
        self.row = row;
    }
}

/// Appends `n` spaces to a row's bytes.
fn push_space_bytes(row: &mut Vec<u8>, n: usize) {
    row.resize(row.len() + n, b' ');
}

/// The brackets of row `i` of `rows` rows drawn as a block: `⎡ ⎤` first,
/// `⎢ ⎥` between, `⎣ ⎦` last; `[ ]` for a single row, none for a scalar.
fn brackets(t: &Tensor, i: usize, rows: usize) -> (&'static str, &'static str) {
    brackets_of(t.dims(), i, rows)
}

/// [`brackets`] for a tensor of shape `dims`.
fn brackets_of(dims: &[usize], i: usize, rows: usize) -> (&'static str, &'static str) {
    match (dims.is_empty(), rows, i) {
        (true, ..) => ("", ""),
        (false, 1, _) => ("[", "]"),
        (false, _, 0) => ("⎡ ", " ⎤"),
        (false, _, i) if i + 1 == rows => ("⎣ ", " ⎦"),
        _ => ("⎢ ", " ⎥"),
    }
}

/// At most the width of [`block`]'s widest line, known without writing
/// an entry: every cell is at least one column wide, cells are two
/// columns apart, and a row has its brackets (none for a scalar).
pub fn narrowest_block(t: &Tensor) -> usize {
    let (rows, cols) = grid(t);
    match (t.is_empty(), t.dims().is_empty(), rows) {
        (true, ..) => 0,
        (_, true, _) => 1,
        (_, _, 1) => 3 * cols - 2 + 2,
        _ => 3 * cols - 2 + 4,
    }
}

/// A tensor drawn as text lines: `1.35` for a scalar, a bracketed column or block otherwise.
pub fn block(t: &Tensor, round: Option<u32>) -> Vec<String> {
    let mut columns = Columns::measure(t, round);
    let (rows, _) = grid(t);
    (0..rows)
        .map(|r| {
            let (left, right) = brackets(t, r, rows);
            let mut line = String::from(left);
            columns.write_row(&mut line, t, r, round);
            line.push_str(right);
            line
        })
        .collect()
}

/// The labels of the matrices of a tensor of shape `dims` (rank 3 or
/// more), as [`slices`] gives them, counted from 1 as the formulas count:
/// `"1"`, `"2,1"`.
pub fn slice_labels(dims: &[usize]) -> Vec<String> {
    if dims.len() < 3 {
        return vec![String::new()];
    }
    let lead = &dims[..dims.len() - 2];
    let count: usize = lead.iter().product();
    (0..count)
        .map(|k| {
            let mut index = vec![0; lead.len()];
            let mut rest = k;
            for (slot, d) in index.iter_mut().zip(lead).rev() {
                *slot = rest % d.max(&1);
                rest /= d.max(&1);
            }
            crate::layout::counted_from_one(&index)
        })
        .collect()
}

/// `lhs = ` followed by a block of blanks (`cell` per entry) of shape
/// `dims`, laid out as [`labelled_into`] lays out a value of that shape.
pub fn blank_labelled_into(out: &mut String, lhs: &str, dims: &[usize], cell: &str, indent: &str) {
    if dims.len() >= 3 {
        let name = lhs.trim_end();
        let matrix = &dims[dims.len() - 2..];
        for index in slice_labels(dims) {
            blank_labelled_into(out, &format!("{name}[{index}]"), matrix, cell, indent);
        }
        return;
    }
    let (rows, cols) = crate::model::Shape::matrix_of(dims).unwrap_or((1, 1));
    let pad = " ".repeat(display_width(lhs) + 3);
    let row = vec![cell; cols].join("  ");
    for r in 0..rows {
        out.push_str(indent);
        if r == 0 {
            out.push_str(lhs);
            out.push_str(" = ");
        } else {
            out.push_str(&pad);
        }
        let (left, right) = brackets_of(dims, r, rows);
        out.push_str(left);
        out.push_str(&row);
        out.push_str(right);
        out.push('\n');
    }
}

/// A tensor of rank 3 or more as its matrices: for a map `[C, H, W]` each
/// channel `[c]`, for a kernel bank `[F, C, kh, kw]` each `[f,c]`, with the
/// index that labels it, counted from 1 as the formulas count (`"1"`, `"2,1"`).
/// Lower ranks are one matrix with no label.
pub fn slices(t: &Tensor) -> Vec<(String, Tensor)> {
    let dims = t.dims();
    if dims.len() < 3 {
        return vec![(String::new(), t.clone())];
    }
    let matrix = &dims[dims.len() - 2..];
    let size = matrix[0] * matrix[1];
    slice_labels(dims).into_iter().enumerate().map(|(k, label)| (label, t.slice(k * size, matrix.to_vec()))).collect()
}

/// `lhs = ` followed by a block whose first line continues the lhs line; a
/// tensor of rank 3 or more as one block per channel, `lhs[c] = ...`.
pub fn labelled(lhs: &str, t: &Tensor, round: Option<u32>, indent: &str) -> String {
    let mut out = String::new();
    labelled_into(&mut out, lhs, t, round, indent);
    out
}

/// [`labelled`], appended to `out` row by row (a value of 16 million entries
/// is written once, into the document, not built aside first).
pub fn labelled_into(out: &mut String, lhs: &str, t: &Tensor, round: Option<u32>, indent: &str) {
    if t.dims().len() >= 3 {
        let name = lhs.trim_end();
        for (index, m) in slices(t) {
            labelled_into(out, &format!("{name}[{index}]"), &m, round, indent);
        }
        return;
    }
    let mut columns = Columns::measure(t, round);
    let (rows, _) = grid(t);
    let pad = " ".repeat(display_width(lhs) + 3);
    for r in 0..rows {
        out.push_str(indent);
        if r == 0 {
            out.push_str(lhs);
            out.push_str(" = ");
        } else {
            out.push_str(&pad);
        }
        let (left, right) = brackets(t, r, rows);
        out.push_str(left);
        columns.write_row(out, t, r, round);
        out.push_str(right);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;

    /// 0.00806 − 0.00006 − 0.00006 = 0.00794: the terms round to 0.0081,
    /// −0.0001, −0.0001, which add to 0.0079, while the total rounds to
    /// 0.0079 — they agree; with −0.00014 twice the total 0.00778 rounds
    /// to 0.0078 while the terms give 0.0081 − 0.0001 − 0.0001 = 0.0079.
    #[test]
    fn rounded_terms_that_do_not_add_up_are_found() {
        let t = |x: f64| Tensor::float(vec![1], vec![x]);
        let agree = [t(0.00806), t(-0.00006), t(-0.00006)];
        assert!(!rounded_terms_disagree(&agree, &t(0.00794), Some(4)));
        let disagree = [t(0.00806), t(-0.00014), t(-0.00014)];
        assert!(rounded_terms_disagree(&disagree, &t(0.00778), Some(4)));
        // Unrounded output shows every digit: nothing to note.
        assert!(!rounded_terms_disagree(&disagree, &t(0.00778), None));
        // Exact entries are rounded the same way.
        let q = |n: i64, d: i64| Tensor::exact(vec![1], vec![BigRational::new(n.into(), d.into())]);
        assert!(rounded_terms_disagree(&[q(1, 3), q(1, 3), q(1, 3)], &q(1, 1), Some(1)));
        assert!(!rounded_terms_disagree(&[q(1, 4), q(1, 4)], &q(1, 2), Some(2)));
        assert_eq!(fixed_units("-0.0078", 4), Some(-78));
        assert_eq!(fixed_units("12.50", 2), Some(1250));
        assert_eq!(fixed_units("1/3", 2), None);
    }

    /// The rows as [`Columns`] writes them, kept or formatted again,
    /// against [`aligned_rows`] over every cell formatted as a string.
    #[test]
    fn columns_write_what_aligned_strings_give() {
        let mut floats = vec![0.0, -0.0, 1e-9, -1e-9, 12345.6789, -0.5, 0.049999, 2.5e21, -7.25];
        let mut state = 7u64;
        for _ in 0..40 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            floats.push(((state >> 30) % 4_000_000) as f64 / 1000.0 - 2000.0);
        }
        floats.push(1e300);
        floats.truncate(48);
        let q = |n: i64, d: i64| BigRational::new(n.into(), d.into());
        let exact: Vec<BigRational> =
            (0..48).map(|i| q((i * 37 % 101) - 50, [1, 3, 8, 10, 7, 1 << 40][i as usize % 6])).collect();
        let tensors = [Tensor::float(vec![6, 8], floats), Tensor::exact(vec![8, 6], exact)];
        for t in &tensors {
            for round in [None, Some(0), Some(2), Some(4), Some(22)] {
                let expect = aligned_rows(&cells_in(t, round, Notation::Text));
                for budget in [KEPT_BYTES, 0] {
                    let mut columns = Columns::measure_within(t, round, budget);
                    let (rows, _) = grid(t);
                    for (r, want) in expect.iter().enumerate().take(rows) {
                        let mut line = String::new();
                        columns.write_row(&mut line, t, r, round);
                        assert_eq!(&line, want, "row {r} at {round:?}, budget {budget}");
                    }
                }
            }
        }
    }
}
