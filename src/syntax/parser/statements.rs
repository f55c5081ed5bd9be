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

/// `train_arg`: `NAME = number_literal`, or `NAME = state_names` for the
/// state an optimizer starts from.
pub(super) fn train_arg(i: Input) -> PResult<TrainArg> {
    let (rest, id) = binding_name(i, || "'('".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'{}'", id.name))?;
    let (rest, _) = ws(rest)?;
    if rest.fragment().starts_with(|c: char| c == '[' || c.is_ascii_alphabetic() || c == '_') {
        let (rest, names) = state_names(rest, &id.name)?;
        return Ok((rest, TrainArg { name: id, value: TrainValue::State(names) }));
    }
    let (rest, value) = match number_literal(rest) {
        Ok(r) => r,
        Err(nom::Err::Error(_)) => {
            return fail(ErrorKind::Expected { what: "a number", after: format!("'{} ='", id.name) }, here(rest))
        }
        Err(e) => return Err(e),
    };
    Ok((rest, TrainArg { name: id, value: TrainValue::Number(value) }))
}

/// `state_names`: `NAME` or `[NAME, ...]`, the tensors a state starts
/// from, one per parameter; `setting` is the name before `=`.
pub(super) fn state_names<'a>(i: Input<'a>, setting: &str) -> PResult<'a, StateNames> {
    if let Ok((rest, _)) = tag::<_, _, PError>("[").parse(i) {
        let seq = Sequence { close: ']', empty: false, trailing: true, entry: "a tensor's name" };
        let (rest, names) = separated(rest, i, seq, |r, before| binding_name(r, || before.into()))?;
        return Ok((rest, StateNames { names, bracketed: true, span: span(i, rest) }));
    }
    let (rest, id) = binding_name(i, || format!("'{setting} ='"))?;
    Ok((rest, StateNames { names: vec![id], bracketed: false, span: span(i, rest) }))
}
