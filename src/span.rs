//! Source locations: below the diagnostics, which point at them, and the
//! syntax, which makes them.

/// A region of the source text: byte offsets plus the 1-based line and column
/// (in characters) of its start, so errors can point at it without re-scanning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start`, counted in characters.
    pub column: u32,
    /// 1-based line of `end` (a statement may span lines).
    pub end_line: u32,
}

impl Span {
    /// The smallest span covering both `self` and `other` (line and column of the earlier one).
    pub fn to(self, other: Span) -> Span {
        let (first, _) = if self.start <= other.start { (self, other) } else { (other, self) };
        Span {
            start: first.start,
            end: self.end.max(other.end),
            line: first.line,
            column: first.column,
            end_line: self.end_line.max(other.end_line),
        }
    }
}
