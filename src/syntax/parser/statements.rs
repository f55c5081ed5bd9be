//! Statements that set something for the whole file, parsed as the
//! functions in `parser.rs` are: one function per rule of
//! `grammar/nn.ebnf`, named after it.

use super::*;

/// `layout`: `layout rows` or `layout columns`.
pub(super) fn layout(i: Input) -> PResult<LayoutDecl> {
    let (rest, _) = keyword("layout")(i)?;
    let (rest, _) = ws(rest)?;
    let word_start = rest;
    let (rest, word) = binding_name(rest, || "'layout'".into())?;
    let layout = match word.name.as_str() {
        "rows" => Layout::Rows,
        "columns" => Layout::Columns,
        _ => return fail(ErrorKind::Expected { what: "'rows' or 'columns'", after: "'layout'".into() }, word.span),
    };
    Ok((rest, LayoutDecl { layout, word_span: span(word_start, rest), span: span(i, rest) }))
}

/// Whether `layout` at `i` starts a `layout rows` statement (a word
/// follows) rather than an equation named `layout`.
pub(super) fn starts_layout(i: Input) -> bool {
    let after = i.fragment().trim_start_matches("layout").trim_start_matches([' ', '\t']);
    after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}
