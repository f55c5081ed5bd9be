//! `nnderive fmt`: one canonical layout for `.nn` files. Declarations and
//! equations that stand together are aligned in columns, matrix literals
//! print one row per line with right-aligned columns, and expressions get
//! canonical spacing. Comments stay where they were; parentheses stay as
//! written, so the formatted file always parses to the same tree.

use super::ast::*;
use crate::layout::{align_width, display_width, pad_left, pad_right};

/// Names (with their dims) longer than this overhang instead of setting the
/// column that the others align to.
const NAME_ALIGN_CAP: usize = 60;

/// Numbers longer than this overhang instead of setting their column's width.
const CELL_ALIGN_CAP: usize = 40;

/// Formats a parsed file.
pub fn format(file: &File) -> String {
    let mut out = String::new();
    let mut comments = file.comments.iter().peekable();
    let mut last_line: Option<u32> = None;
    let items = &file.items;
    let mut i = 0;
    while i < items.len() {
        // Comments on their own lines before this item.
        let start = items[i].span().line;
        while let Some(c) = comments.peek().filter(|c| c.span.line < start) {
            blank_line_if_gap(&mut out, last_line, c.span.line);
            out.push_str(&format!("#{}\n", c.text));
            last_line = Some(c.span.line);
            comments.next();
        }
        blank_line_if_gap(&mut out, last_line, start);
        // The block of items aligned with this one.
        let end = block_end(items, i, &file.comments);
        let lines = format_block(&items[i..end]);
        for (item, text) in items[i..end].iter().zip(lines) {
            let last = item.span().end_line;
            out.push_str(&text);
            // Comments inside or at the end of the statement follow it.
            let mut trailing = Vec::new();
            while let Some(c) = comments.peek().filter(|c| c.span.line <= last) {
                trailing.push(format!("#{}", c.text));
                comments.next();
            }
            if !trailing.is_empty() {
                out.push_str("  ");
                out.push_str(&trailing.join(" "));
            }
            out.push('\n');
            last_line = Some(last);
        }
        i = end;
    }
    for c in comments {
        blank_line_if_gap(&mut out, last_line, c.span.line);
        out.push_str(&format!("#{}\n", c.text));
        last_line = Some(c.span.line);
    }
    out
}

/// One blank line where the source had at least one.
fn blank_line_if_gap(out: &mut String, last: Option<u32>, next: u32) {
    if let Some(last) = last {
        if next > last + 1 {
            out.push('\n');
        }
    }
}

/// Items from `start` that are aligned together: the same kind, on
/// consecutive lines, with no comment line between them.
fn block_end(items: &[Item], start: usize, comments: &[Comment]) -> usize {
    let kind = |it: &Item| match it {
        Item::Tensor(_) => 0,
        Item::Equation(_) => 1,
        _ => 2,
    };
    let k = kind(&items[start]);
    if k == 2 {
        return start + 1;
    }
    let mut end = start + 1;
    while end < items.len() && kind(&items[end]) == k {
        let prev_last = items[end - 1].span().end_line;
        let next = items[end].span().line;
        // Comments are in file order: look at the first one after `prev_last`
        // (a binary search, so that a file full of comments formats in n log n).
        let first_after = comments.partition_point(|c| c.span.line <= prev_last);
        let comment_between = comments.get(first_after).is_some_and(|c| c.span.line < next);
        if next != prev_last + 1 || comment_between {
            break;
        }
        end += 1;
    }
    end
}

/// Formats a block of items, aligning declarations and equations.
fn format_block(items: &[Item]) -> Vec<String> {
    match &items[0] {
        Item::Tensor(_) => {
            let decls: Vec<&TensorDecl> =
                items.iter().filter_map(|i| if let Item::Tensor(d) = i { Some(d) } else { None }).collect();
            let role_w = decls.iter().map(|d| d.role.keyword().len()).max().unwrap_or(0);
            let heads: Vec<String> = decls
                .iter()
                .map(|d| {
                    format!(
                        "{}{}{}",
                        d.name.name,
                        d.time.as_ref().map(time_text).unwrap_or_default(),
                        dims_text(&d.dims)
                    )
                })
                .collect();
            let head_w = align_width(heads.iter().map(|h| display_width(h)), NAME_ALIGN_CAP);
            decls
                .iter()
                .zip(heads)
                .map(|(d, head)| {
                    let prefix = format!("{} {head}", pad_right(d.role.keyword(), role_w));
                    let declared = match &d.value {
                        // A draw without a value lines up with the values' `=`.
                        None if d.draw.is_some() => pad_right(&prefix, role_w + 1 + head_w),
                        None => prefix,
                        Some(v) => {
                            let prefix = format!("{} = ", pad_right(&prefix, role_w + 1 + head_w));
                            let indent = prefix.chars().count();
                            format!("{prefix}{}", literal_text(v, indent))
                        }
                    };
                    match &d.draw {
                        None => declared,
                        Some(draw) => format!("{declared} {}", draw_text(draw)),
                    }
                })
                .collect()
        }
        Item::Equation(_) => {
            let eqs: Vec<&Equation> =
                items.iter().filter_map(|i| if let Item::Equation(e) = i { Some(e) } else { None }).collect();
            let heads: Vec<String> = eqs
                .iter()
                .map(|e| format!("{}{}", e.name.name, e.time.as_ref().map(time_text).unwrap_or_default()))
                .collect();
            let w = align_width(heads.iter().map(|h| display_width(h)), NAME_ALIGN_CAP);
            eqs.iter().zip(heads).map(|(e, h)| format!("{} = {}", pad_right(&h, w), expr_text(&e.value))).collect()
        }
        Item::Loss(e) => vec![format!("loss {} = {}", e.name.name, expr_text(&e.value))],
        Item::Function(f) => {
            let params: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
            vec![format!("fn {}({}) = {}", f.name.name, params.join(", "), expr_text(&f.body))]
        }
        Item::Steps(st) => vec![format!("steps {} = {}..{}", st.index.name, st.first, st.last)],
        Item::Layout(l) => vec![format!("layout {}", l.layout.word())],
        Item::Train(t) => {
            let args: Vec<String> = t.args.iter().map(|a| format!("{} = {}", a.name.name, a.value.text())).collect();
            vec![format!("train {}({})", t.optimizer.name, args.join(", "))]
        }
    }
}

/// `~ uniform(-0.5, 0.5, step = 0.1)`, or `~ onehot` without arguments.
pub fn draw_text(d: &Draw) -> String {
    if d.args.is_empty() {
        return format!("~ {}", d.name.name);
    }
    let args: Vec<String> = d
        .args
        .iter()
        .map(|a| match &a.name {
            Some(n) => format!("{} = {}", n.name, a.value.text),
            None => a.value.text.clone(),
        })
        .collect();
    format!("~ {}({})", d.name.name, args.join(", "))
}

/// `[t]`, `[t-1]`, `[0]`.
fn time_text(t: &TimeIndex) -> String {
    match &t.kind {
        TimeIndexKind::Relative { index, offset: 0 } => format!("[{}]", index.name),
        TimeIndexKind::Relative { index, offset } if *offset > 0 => format!("[{}+{offset}]", index.name),
        TimeIndexKind::Relative { index, offset } => format!("[{}-{}]", index.name, offset.unsigned_abs()),
        TimeIndexKind::Step(k) => format!("[{k}]"),
    }
}

/// `[:, 0:5]`, `[2:]`, `[:, H:2*H]`: a slice subscript as written (a
/// multiple of a constant in the form `2*H`, which NumPy reads too).
pub fn slice_text(axes: &[SliceAxis]) -> String {
    let bound = |b: &Bound| match &b.value {
        BoundValue::Whole(n) => n.to_string(),
        BoundValue::Scaled { times: 1, name } => name.name.clone(),
        BoundValue::Scaled { times, name } => format!("{times}*{}", name.name),
    };
    let axes: Vec<String> = axes
        .iter()
        .map(|a| match &a.kind {
            SliceAxisKind::Index(b) => bound(b),
            SliceAxisKind::Range { start, end } => {
                format!(
                    "{}:{}",
                    start.as_ref().map(bound).unwrap_or_default(),
                    end.as_ref().map(bound).unwrap_or_default()
                )
            }
        })
        .collect();
    format!("[{}]", axes.join(", "))
}

fn dims_text(dims: &[Dim]) -> String {
    if dims.is_empty() {
        return String::new();
    }
    let d: Vec<String> = dims.iter().map(|d| d.size.to_string()).collect();
    format!("[{}]", d.join(","))
}

/// A literal; a list of lists of numbers is a matrix with aligned columns,
/// continuation rows starting at column `indent`.
fn literal_text(l: &Literal, indent: usize) -> String {
    match l {
        Literal::Number(n) => n.text.clone(),
        Literal::Numbers(list) => format!("[{}]", number_texts(list).join(", ")),
        Literal::List { items, .. } => {
            if items.iter().all(|i| matches!(i, Literal::Number(_))) {
                let texts: Vec<String> = items.iter().map(|i| literal_text(i, 0)).collect();
                return format!("[{}]", texts.join(", "));
            }
            let rows: Option<Vec<Vec<String>>> = items
                .iter()
                .map(|row| match row {
                    Literal::Numbers(list) => Some(number_texts(list)),
                    _ => None,
                })
                .collect();
            let pad = " ".repeat(indent + 1);
            match rows {
                Some(rows) if rows.iter().all(|r| r.len() == rows[0].len()) => {
                    let cols = rows[0].len();
                    let widths: Vec<usize> = (0..cols)
                        .map(|c| align_width(rows.iter().map(|r| display_width(&r[c])), CELL_ALIGN_CAP))
                        .collect();
                    let lines: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            let cells: Vec<String> =
                                r.iter().enumerate().map(|(c, t)| pad_left(t, widths[c])).collect();
                            format!("[{}]", cells.join(", "))
                        })
                        .collect();
                    format!("[{}]", lines.join(&format!(",\n{pad}")))
                }
                _ => {
                    let inner: Vec<String> = items.iter().map(|i| literal_text(i, indent + 1)).collect();
                    format!("[{}]", inner.join(&format!(",\n{pad}")))
                }
            }
        }
    }
}

fn number_texts(list: &NumberList) -> Vec<String> {
    list.texts().map(std::borrow::Cow::into_owned).collect()
}

/// An expression with canonical spacing; the tree is printed as parsed.
pub fn expr_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(n) => n.text.clone(),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Neg(x) => format!("-{}", expr_text(x)),
        ExprKind::Paren(x) => format!("({})", expr_text(x)),
        ExprKind::Transpose(x) => format!("{}.T", expr_text(x)),
        ExprKind::Binary { op: BinOp::Pow, lhs, rhs, .. } => format!("{}^{}", expr_text(lhs), expr_text(rhs)),
        ExprKind::Binary { op, lhs, rhs, .. } => format!("{} {} {}", expr_text(lhs), op.symbol(), expr_text(rhs)),
        ExprKind::Indexed { name, index } => format!("{}{}", name.name, time_text(index)),
        ExprKind::Over { body, index } => format!("{} for {}", expr_text(body), index.name),
        ExprKind::Sliced { name, axes, .. } => format!("{}{}", name.name, slice_text(axes)),
        ExprKind::List(items) => format!("[{}]", items.iter().map(expr_text).collect::<Vec<_>>().join(", ")),
        ExprKind::Call { func, args, keywords } => {
            let mut a: Vec<String> = args.iter().map(expr_text).collect();
            a.extend(keywords.iter().map(|k| format!("{} = {}", k.name.name, expr_text(&k.value))));
            format!("{}({})", func.name, a.join(", "))
        }
    }
}
