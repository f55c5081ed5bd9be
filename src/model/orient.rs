//! A vector beside a matrix in `+`, `−`, `⊙`, `⊘`: a column added to every
//! column, or a row added to every row (NumPy's reading of `X @ W + b`).
//! The layout decides: `layout rows` / `layout columns`, else the network's
//! own products, as a batched softmax's axis is decided (`X @ W` with the
//! parameter on the right: rows). A vector `[M]` is a column when only that
//! fits (as it always was); a row when only that fits and the examples are
//! rows; when the matrix is square, whichever the layout says, and an error
//! naming both readings when nothing decides: never a silent choice.

use super::Checker;
use crate::model::error::{Error, ErrorKind};
use crate::model::{Axis, NodeId};
use crate::span::Span;
use crate::syntax::ast::{self, BinOp, Item};

impl Checker<'_> {
    /// Reads the file's `layout` statement; a second one is an error
    /// pointing at the first.
    pub(super) fn layout_statement(&mut self, file: &ast::File) {
        let mut first: Option<&ast::LayoutDecl> = None;
        for item in &file.items {
            if let Item::Layout(l) = item {
                match first {
                    Some(f) => self.report(Error::new(ErrorKind::SecondLayout { first: f.span }, l.span)),
                    None => first = Some(l),
                }
            }
        }
        self.layout = first.map(|l| l.layout);
    }

    /// The layout stated by the file, as the axis a batch's classes lie
    /// along (rows: each row is an example, classes along axis 1).
    pub(super) fn stated_axis(&self) -> Option<Axis> {
        self.layout.map(|l| match l {
            ast::Layout::Rows => Axis::ACROSS,
            ast::Layout::Columns => Axis::DOWN,
        })
    }

    /// The operands of `a op b` with a vector `[M]` beside a matrix turned
    /// into the row `[1, M]` when it is read as a row (it is a column `[M]`
    /// otherwise, as before).
    pub(super) fn orient_vectors(
        &mut self,
        op: BinOp,
        op_span: Span,
        (a, lhs): (NodeId, &ast::Expr),
        (b, rhs): (NodeId, &ast::Expr),
    ) -> Result<(NodeId, NodeId), Error> {
        let g = &self.graph;
        let (vector, matrix, vector_expr, matrix_expr) = match (g.shape(a).dims(), g.shape(b).dims()) {
            ([_], [_, _]) => (a, b, lhs, rhs),
            ([_, _], [_]) => (b, a, rhs, lhs),
            _ => return Ok((a, b)),
        };
        if g.sums_each_row(vector) {
            // `sum(M, axis = 1)` (or a mean, a multiple) has one entry per
            // row of M: a column by what it is, whatever the layout, as the
            // derivations write a row sum (`A ⊙ (G − rowsum(A ⊙ G))`).
            return Ok((a, b));
        }
        let m = g.shape(vector).dims()[0];
        let (rows, columns) = (g.shape(matrix).dims()[0], g.shape(matrix).dims()[1]);
        if m < 2 || rows < 2 || columns < 2 {
            return Ok((a, b));
        }
        let (as_column, as_row) = (m == rows, m == columns);
        let layout = || self.stated_axis().or_else(|| self.layout_axis(matrix));
        let row = match (as_column, as_row) {
            (true, false) | (false, false) => false,
            // Only as a row, when the examples are rows; otherwise the
            // shapes do not broadcast, and the error's help says how to
            // write either (`W1 * x` for `W1 @ x` stays an error).
            (false, true) => layout() == Some(Axis::ACROSS),
            // A square matrix: either reading fits.
            (true, true) => match layout() {
                Some(axis) => axis == Axis::ACROSS,
                None => {
                    let kind = ErrorKind::VectorReadEitherWay {
                        op: op.symbol().into(),
                        vector: self.operand(vector, vector_expr),
                        matrix: self.operand(matrix, matrix_expr),
                        vector_first: vector == a,
                    };
                    return Err(Error::new(kind, op_span));
                }
            },
        };
        if !row {
            return Ok((a, b));
        }
        let t = self.graph.transpose(vector);
        Ok(if vector == a { (t, b) } else { (a, t) })
    }
}
