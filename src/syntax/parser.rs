//! The `.nn` parser: one function per rule of `grammar/nn.ebnf`, with the
//! same name, built from the smallest piece up (nom 8 with nom_locate spans).
//!
//! Errors: a parser that has seen enough to know what the user meant is
//! committed and fails with a located [`Error`] saying what was expected
//! (`nom::Err::Failure`); one that merely did not match backtracks
//! (`nom::Err::Error`).

use nom::bytes::complete::tag;
use nom::character::complete::digit1;
use nom::combinator::opt;
use nom::Parser;

use super::ast::*;
use super::error::{Error, ErrorKind, MAX_DEPTH};
use super::format::expr_text;
use super::habits;
use super::lexical::*;
use super::literal::{literal, literal_dims};
use super::Span;

mod statements;
mod subscript;
mod value_list;

/// Parses a whole file.
pub fn parse(source: &str) -> Result<File, Error> {
    OPEN.with(|o| o.set(0));
    DEPTH.with(|d| d.set(0));
    COMMENTS.with(|c| c.borrow_mut().clear());
    LAST_COLUMN.with(|c| c.set((0, 1, 1)));
    let result = file(Input::new_extra(source, source));
    let comments = COMMENTS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    match result {
        Ok((_, items)) => Ok(File { items, comments }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            Err(e.error.unwrap_or_else(|| Error { kind: ErrorKind::ExpectedStatement, span: Span::default() }))
        }
        Err(nom::Err::Incomplete(_)) => Err(Error { kind: ErrorKind::ExpectedStatement, span: Span::default() }),
    }
}

/// Parses `NAME = LITERAL`, a value given from outside the file (the
/// command line's `--given 'y=[0, 1]'`), with spans into that text.
pub fn parse_given(source: &str) -> Result<(Ident, Literal), Error> {
    OPEN.with(|o| o.set(0));
    DEPTH.with(|d| d.set(0));
    LITERAL_NUMBERS.with(|c| c.set(0));
    LAST_COLUMN.with(|c| c.set((0, 1, 1)));
    let result = given(Input::new_extra(source, source));
    COMMENTS.with(|c| c.borrow_mut().clear());
    match result {
        Ok((_, out)) => Ok(out),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.error.unwrap_or_else(|| Error {
            kind: ErrorKind::Expected { what: "NAME=VALUE", after: "--given".into() },
            span: Span::default(),
        })),
        Err(nom::Err::Incomplete(_)) => Err(Error {
            kind: ErrorKind::Expected { what: "NAME=VALUE", after: "--given".into() },
            span: Span::default(),
        }),
    }
}

fn given(i: Input) -> PResult<(Ident, Literal)> {
    let (rest, _) = ws(i)?;
    let (rest, id) = match name(rest) {
        Ok(ok) => ok,
        Err(nom::Err::Error(_)) => {
            return fail(ErrorKind::Expected { what: "a declared name", after: "--given".into() }, here(rest))
        }
        Err(e) => return Err(e),
    };
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("=").parse(rest) else {
        return fail(ErrorKind::Expected { what: "'='", after: format!("'{}'", id.name) }, here(rest));
    };
    let (rest, _) = ws(rest)?;
    let (rest, value) = literal(rest)?;
    let (rest, _) = ws(rest)?;
    if !rest.fragment().is_empty() {
        return fail(ErrorKind::Expected { what: "the end of the value", after: "the value".into() }, here(rest));
    }
    Ok((rest, (id, value)))
}

// ---- declarations -----------------------------------------------------

/// `role`: the keyword that starts a declaration.
fn role(i: Input) -> PResult<Role> {
    let (rest, id) = name(i)?;
    let r = match id.name.as_str() {
        "input" => Role::Input,
        "target" => Role::Target,
        "param" => Role::Param,
        "const" => Role::Const,
        _ => return backtrack(),
    };
    Ok((rest, r))
}

/// `dim`: one whole-number dimension.
fn dim(i: Input) -> PResult<Dim> {
    match digit1::<_, PError>(i) {
        Ok((rest, d)) => match d.fragment().parse::<u64>() {
            Ok(size) if !rest.fragment().starts_with(['.', 'e', 'E']) => Ok((rest, Dim { size, span: span(i, rest) })),
            Ok(_) => fail(ErrorKind::ExpectedDimension, here(rest)),
            Err(_) => fail(ErrorKind::DimensionTooLarge, span(i, rest)),
        },
        Err(_) => fail(ErrorKind::ExpectedDimension, here(i)),
    }
}

/// `dims`: `[` dim (`,` dim)* `]`.
fn dims(i: Input) -> PResult<(Vec<Dim>, Span)> {
    let (rest, _) = tag("[").parse(i)?;
    let seq = Sequence { close: ']', empty: false, trailing: false, entry: "a dimension" };
    let (rest, out) = separated(rest, i, seq, |r, _| dim(r))?;
    Ok((rest, (out, span(i, rest))))
}

/// `declaration`: `ROLE NAME dims? (= literal)? (~ draw)?`.
fn declaration(i: Input) -> PResult<TensorDecl> {
    let (rest, r) = role(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || format!("'{}'", r.keyword()))?;
    let (rest, _) = ws(rest)?;
    let (rest, time) = if declares_time(rest) {
        let (r, t) = time_index(rest)?;
        let (r, _) = ws(r)?;
        (r, Some(t))
    } else {
        (rest, None)
    };
    let (rest, dims_and_span) = opt(dims).parse(rest)?;
    let (dims, dims_span) = match dims_and_span {
        Some((d, s)) => (d, Some(s)),
        None => (Vec::new(), None),
    };
    let (rest, _) = ws(rest)?;
    let (rest, value) = if let Ok((r, _)) = tag::<_, _, PError>("=").parse(rest) {
        let (r, _) = ws(r)?;
        LITERAL_NUMBERS.with(|c| c.set(0));
        let (r, lit) = literal(r)?;
        (r, Some(lit))
    } else if at_line_end(rest) || rest.fragment().starts_with('~') {
        (rest, None)
    } else {
        let written: Vec<String> = dims.iter().map(|d| d.size.to_string()).collect();
        let shown = if dims_span.is_some() {
            format!("'{}[{}]'", id.name, written.join(","))
        } else {
            format!("'{}'", id.name)
        };
        return fail(ErrorKind::Expected { what: "'=' or the end of the line", after: shown }, here(rest));
    };
    // No dims written: the value's own dims (`input x = [1, 2]` is `x[2]`),
    // so that every later stage sees the declared shape it would have had
    // (`nnderive fmt` writes them out). A number stays a scalar.
    let dims = match (&value, &time, dims_span) {
        (Some(lit), None, None) => literal_dims(lit),
        _ => dims,
    };
    let (after_ws, _) = ws(rest)?;
    let (rest, draw) = if after_ws.fragment().starts_with('~') {
        let (r, d) = draw(after_ws)?;
        (r, Some(d))
    } else {
        (rest, None)
    };
    Ok((rest, TensorDecl { role: r, name: id, time, dims, dims_span, value, draw, span: span(i, rest) }))
}

/// `draw`: `~ NAME` or `~ NAME(draw_arg, ...)`, how `nnderive vary` draws
/// the declared tensor's numbers.
fn draw(i: Input) -> PResult<Draw> {
    let (rest, _) = tag("~").parse(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || "'~' (as in `~ uniform(-1, 1)`)".into())?;
    let (after_ws, _) = ws(rest)?;
    let (rest, args) = if after_ws.fragment().starts_with('(') {
        let open = after_ws;
        let (r, _) = tag("(").parse(after_ws)?;
        let seq = Sequence { close: ')', empty: true, trailing: true, entry: "an argument" };
        separated(r, open, seq, |r, after| draw_arg(r, after))?
    } else {
        (rest, Vec::new())
    };
    Ok((rest, Draw { name: id, args, span: span(i, rest) }))
}

/// `draw_arg`: a number, or `NAME = number` (`step = 0.1`).
fn draw_arg<'a>(i: Input<'a>, after: &'static str) -> PResult<'a, DrawArg> {
    let (rest, name) = match name(i) {
        Ok((r, id)) => {
            let (r, _) = ws(r)?;
            let (r, _) = expect_char(r, '=', "'='", || format!("'{}'", id.name))?;
            let (r, _) = ws(r)?;
            (r, Some(id))
        }
        Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
        Err(_) => (i, None),
    };
    let shown = || match &name {
        Some(id) => format!("'{} ='", id.name),
        None => after.to_string(),
    };
    let (rest, value) = match number_literal(rest) {
        Ok(r) => r,
        Err(nom::Err::Error(_)) => return fail(ErrorKind::Expected { what: "a number", after: shown() }, here(rest)),
        Err(e) => return Err(e),
    };
    Ok((rest, DrawArg { name, value }))
}

/// Whether the brackets at `i` after a declared name are a time index
/// (`x[t][2]`, `h[0][3]`) rather than dims (`x[2]`): they hold a name, or a
/// single number with another bracket right after them (`x[2] [1, 2]` is
/// dims and a literal missing its `=`).
fn declares_time(i: Input) -> bool {
    let Some(inside) = i.fragment().strip_prefix('[') else {
        return false;
    };
    let inside = inside.trim_start_matches([' ', '\t']);
    if inside.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return true;
    }
    let digits = inside.trim_start_matches(|c: char| c.is_ascii_digit());
    digits.len() < inside.len()
        && digits.trim_start_matches([' ', '\t']).strip_prefix(']').is_some_and(|after| after.starts_with('['))
}

// ---- time -----------------------------------------------------------------

/// `steps`: `steps NAME = step .. step`, the time index and its range.
fn steps(i: Input) -> PResult<Steps> {
    let (rest, _) = keyword("steps")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, index) = binding_name(rest, || "'steps'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'steps {}'", index.name))?;
    let (rest, _) = ws(rest)?;
    let range_start = rest;
    let (rest, first) = step(rest, "'='")?;
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("..").parse(rest) else {
        return fail(ErrorKind::Expected { what: "'..'", after: format!("'{first}' (as in `1..3`)") }, here(rest));
    };
    let (rest, _) = ws(rest)?;
    let (rest, last) = step(rest, "'..'")?;
    Ok((rest, Steps { index, first, last, range_span: span(range_start, rest), span: span(i, rest) }))
}

/// `step`: a whole-number step of the time index.
fn step<'a>(i: Input<'a>, after: &str) -> PResult<'a, u64> {
    match digit1::<_, PError>(i) {
        Ok((rest, d)) => match d.fragment().parse::<u64>() {
            Ok(n) if n <= i64::MAX as u64 => Ok((rest, n)),
            _ => fail(ErrorKind::StepTooLarge, span(i, rest)),
        },
        Err(_) => fail(ErrorKind::Expected { what: "a step (a whole number)", after: after.into() }, here(i)),
    }
}

/// `time_index`: `[t]`, `[t-1]`, `[t+1]` or `[0]` after a name: one step of a sequence.
fn time_index(i: Input) -> PResult<TimeIndex> {
    let (rest, _) = tag("[").parse(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, kind) = if let Ok((r, index)) = name(rest) {
        let (r, _) = ws(r)?;
        let sign = match r.fragment().chars().next() {
            Some('+') => 1,
            Some('-') => -1,
            _ => 0,
        };
        if sign == 0 {
            (r, TimeIndexKind::Relative { index, offset: 0 })
        } else {
            let after = format!("'{}'", if sign > 0 { '+' } else { '-' });
            let (r, _) = ws(nom::Input::take_from(&r, 1))?;
            let (r, n) = step(r, &after)?;
            (r, TimeIndexKind::Relative { index, offset: sign * n as i64 })
        }
    } else {
        let (r, n) = step(rest, "'['")?;
        (r, TimeIndexKind::Step(n))
    };
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, ']', "']'", || "the step".into())?;
    Ok((rest, TimeIndex { kind, span: span(i, rest) }))
}

/// `over`: `for NAME` after the argument of `sum(e for t)` or `mean(e for t)`.
fn over(i: Input) -> PResult<Ident> {
    let (rest, _) = ws(i)?;
    let (rest, _) = keyword("for")(rest)?;
    let (rest, _) = ws(rest)?;
    binding_name(rest, || "'for'".into())
}

fn at_line_end(i: Input) -> bool {
    let f = i.fragment();
    f.is_empty() || f.starts_with('\n') || f.starts_with('\r') || f.starts_with('#')
}

// ---- functions, equations, training -----------------------------------

/// `params`: `(` name (`,` name)* `)`.
fn params<'a>(i: Input<'a>, func: &str) -> PResult<'a, Vec<Ident>> {
    let (rest, _) = expect_char(i, '(', "'('", || format!("'fn {func}'"))?;
    let seq = Sequence { close: ')', empty: false, trailing: false, entry: "a parameter" };
    separated(rest, i, seq, |r, after| binding_name(r, || after.into()))
}

/// `function`: `fn NAME(params) = expr`.
fn function(i: Input) -> PResult<FnDef> {
    let (rest, _) = keyword("fn")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = binding_name(rest, || "'fn'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, ps) = params(rest, &id.name)?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '=', "'='", || format!("'fn {}(...)'", id.name))?;
    let (rest, body) = rhs(rest, "'='")?;
    Ok((rest, FnDef { name: id, params: ps, body, span: span(i, rest) }))
}

/// Matches a keyword as a whole word.
fn keyword(word: &'static str) -> impl Fn(Input) -> PResult<()> {
    move |i| {
        let (rest, id) = name(i)?;
        if id.name == word {
            Ok((rest, ()))
        } else {
            backtrack()
        }
    }
}

/// The right-hand side after `=`: an expression, or a clear error.
fn rhs<'a>(i: Input<'a>, after: &str) -> PResult<'a, Expr> {
    let (rest, _) = ws(i)?;
    match expr(rest) {
        Ok(r) => Ok(r),
        Err(nom::Err::Error(_)) => missing_expression(after.to_string(), rest),
        Err(e) => Err(e),
    }
}

/// `equation`: `NAME = expr`.
fn equation(i: Input) -> PResult<Equation> {
    let (rest, id) = binding_name(i, || "the start of the line".into())?;
    let (rest, _) = ws(rest)?;
    // `inptu x[4] = ...`: a word, then a name where `=` belongs, reads best
    // as a misspelled keyword.
    if name(rest).is_ok() {
        if let Some(keyword) = crate::diagnostic::suggest(&id.name, KEYWORDS) {
            return fail(ErrorKind::MisspelledKeyword { found: id.name, keyword }, id.span);
        }
    }
    let (rest, time) = if rest.fragment().starts_with('[') {
        let (r, t) = time_index(rest)?;
        let (r, _) = ws(r)?;
        (r, Some(t))
    } else {
        (rest, None)
    };
    let (rest, mut eq) = defined_as(i, rest, id, String::new())?;
    eq.time = time;
    Ok((rest, eq))
}

/// `loss`: `loss NAME = expr`.
fn loss(i: Input) -> PResult<Equation> {
    let (rest, _) = keyword("loss")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, id) = match binding_name(rest, || "'loss'".into()) {
        // `loss = ...`: the loss needs a name.
        Err(nom::Err::Failure(PError { error: Some(Error { kind: ErrorKind::Expected { .. }, span }) })) => {
            return fail(
                ErrorKind::Expected { what: "a name for the loss", after: "'loss' (as in `loss L = ...`)".into() },
                span,
            )
        }
        other => other?,
    };
    let (rest, _) = ws(rest)?;
    defined_as(i, rest, id, "loss ".into())
}

/// `= expr` after the name `id` of an equation that started at `start`;
/// `prefix` is what stood before the name, for error messages.
fn defined_as<'a>(start: Input<'a>, i: Input<'a>, id: Ident, prefix: String) -> PResult<'a, Equation> {
    let (rest, _) = expect_char(i, '=', "'='", || format!("'{prefix}{}'", id.name))?;
    let (rest, value) = rhs(rest, "'='")?;
    Ok((rest, Equation { name: id, time: None, value, span: span(start, rest) }))
}

/// `train`: `train NAME(train_arg, ...)`.
fn train(i: Input) -> PResult<Train> {
    let (rest, _) = keyword("train")(i)?;
    let (rest, _) = ws(rest)?;
    let (rest, optimizer) = binding_name(rest, || "'train'".into())?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect_char(rest, '(', "'('", || format!("'train {}'", optimizer.name))?;
    let seq = Sequence { close: ')', empty: true, trailing: true, entry: "a setting" };
    let (rest, args) = separated(rest, i, seq, |r, _| statements::train_arg(r))?;
    Ok((rest, Train { optimizer, args, span: span(i, rest) }))
}

// ---- expressions --------------------------------------------------------

/// Folds `first (op next)*` left-associatively, counting depth per operator.
fn chain<'a>(
    i: Input<'a>,
    ops: &'static [(&'static str, BinOp)],
    next: fn(Input<'a>) -> PResult<'a, Expr>,
) -> PResult<'a, Expr> {
    let (mut rest, mut lhs) = next(i)?;
    let base = DEPTH.with(|d| d.get());
    let mut count = 0;
    loop {
        let (r, _) = ws(rest)?;
        let Some((symbol, op)) = ops.iter().find(|(s, _)| r.fragment().starts_with(*s)) else {
            break;
        };
        let (after_op, op_tok) = tag::<_, _, PError>(*symbol).parse(r)?;
        if *symbol == "*" && after_op.fragment().starts_with('*') {
            return double_star(&lhs, after_op);
        }
        count += 1;
        if base + count > MAX_DEPTH {
            DEPTH.with(|d| d.set(base));
            return fail(ErrorKind::TooDeep { limit: MAX_DEPTH }, here(r));
        }
        // Each operator deepens the left-leaning tree, and what follows it too.
        DEPTH.with(|d| d.set(base + count));
        let (after_ws, _) = ws(after_op)?;
        let parsed = next(after_ws);
        DEPTH.with(|d| d.set(base));
        let (r2, rhs) = match parsed {
            Ok(x) => x,
            Err(nom::Err::Error(_)) => return missing_expression(format!("'{symbol}'"), after_ws),
            Err(e) => return Err(e),
        };
        let s = lhs.span.to(rhs.span);
        lhs = Expr {
            kind: ExprKind::Binary { op: *op, op_span: span(op_tok, after_op), lhs: Box::new(lhs), rhs: Box::new(rhs) },
            span: s,
        };
        rest = r2;
    }
    Ok((rest, lhs))
}

/// Python's power, as in `W1**2`: refused with the same power written `^`
/// (`after` is the second `*`; the base is the last operand of `lhs`).
fn double_star<'a>(lhs: &Expr, after: Input<'a>) -> PResult<'a, Expr> {
    let base = match &lhs.kind {
        ExprKind::Binary { op: BinOp::Mul | BinOp::Div | BinOp::MatMul, rhs, .. } => rhs,
        _ => lhs,
    };
    let (r, _) = tag("*").parse(after)?;
    let (r, _) = ws(r)?;
    let (end, exponent) = match deeper(r, unary) {
        Ok(x) => x,
        Err(nom::Err::Error(_)) => return missing_expression("'**'".into(), r),
        Err(e) => return Err(e),
    };
    let exponent = match &exponent.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Paren(_) | ExprKind::Call { .. } => expr_text(&exponent),
        _ => format!("({})", expr_text(&exponent)),
    };
    let base_text = match &base.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Paren(_) | ExprKind::Call { .. } => expr_text(base),
        _ => format!("({})", expr_text(base)),
    };
    fail(ErrorKind::DoubleStar { instead: format!("{base_text}^{exponent}") }, base.span.to(span(after, end)))
}

/// `expr`: terms joined by `+` and `-`.
pub fn expr(i: Input) -> PResult<Expr> {
    chain(i, &[("+", BinOp::Add), ("-", BinOp::Sub)], term)
}

/// `term`: unary expressions joined by `*`, `/` and `@`.
fn term(i: Input) -> PResult<Expr> {
    chain(i, &[("*", BinOp::Mul), ("/", BinOp::Div), ("@", BinOp::MatMul)], unary)
}

/// `unary`: `-` unary, or a power.
fn unary(i: Input) -> PResult<Expr> {
    if let Ok((rest, _)) = tag::<_, _, PError>("-").parse(i) {
        return deeper(rest, |rest| {
            let (rest, _) = ws(rest)?;
            let (end, inner) = match unary(rest) {
                Ok(x) => x,
                Err(nom::Err::Error(_)) => return missing_expression("'-'".into(), rest),
                Err(e) => return Err(e),
            };
            let s = here(i).to(inner.span);
            Ok((end, Expr { kind: ExprKind::Neg(Box::new(inner)), span: s }))
        });
    }
    power(i)
}

/// `power`: postfix (`^` unary)?, right-associative and tighter than unary minus.
fn power(i: Input) -> PResult<Expr> {
    let (rest, base) = postfix(i)?;
    let (r, _) = ws(rest)?;
    let Ok((after_op, op_tok)) = tag::<_, _, PError>("^").parse(r) else {
        return Ok((rest, base));
    };
    deeper(after_op, |after_op| {
        let (after_ws, _) = ws(after_op)?;
        let (end, exponent) = match unary(after_ws) {
            Ok(x) => x,
            Err(nom::Err::Error(_)) => return missing_expression("'^'".into(), after_ws),
            Err(e) => return Err(e),
        };
        let s = base.span.to(exponent.span);
        let kind = ExprKind::Binary {
            op: BinOp::Pow,
            op_span: span(op_tok, after_op),
            lhs: Box::new(base),
            rhs: Box::new(exponent),
        };
        Ok((end, Expr { kind, span: s }))
    })
}

/// `postfix`: a primary followed by any number of `.T`.
fn postfix(i: Input) -> PResult<Expr> {
    let (mut rest, mut e) = primary(i)?;
    let mut count = 0;
    while let Ok((r, _)) = tag::<_, _, PError>(".T").parse(rest) {
        if r.fragment().starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        count += 1;
        if DEPTH.with(|d| d.get()) + count > MAX_DEPTH {
            return fail(ErrorKind::TooDeep { limit: MAX_DEPTH }, here(rest));
        }
        let s = e.span.to(span(rest, r));
        e = Expr { kind: ExprKind::Transpose(Box::new(e)), span: s };
        rest = r;
    }
    if rest.fragment().starts_with('.')
        && rest.fragment()[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        return dotted(i, rest, e);
    }
    Ok((rest, e))
}

/// `np.dot(W1, x)`, `W1.dot(x)`, `x.sum()`: a module or method call, as in
/// NumPy and PyTorch. Not part of the grammar: refused with the nnderive
/// form of the same expression.
fn dotted<'a>(start: Input<'a>, mut rest: Input<'a>, receiver: Expr) -> PResult<'a, Expr> {
    let module = match &receiver.kind {
        ExprKind::Name(n) => habits::library(&n.name).map(|l| (n.name.clone(), l)),
        _ => None,
    };
    let mut path = Vec::new();
    while let Ok((r, _)) = tag::<_, _, PError>(".").parse(rest) {
        let Ok((r, member)) = name(r) else { break };
        path.push(member.name);
        rest = r;
    }
    let func = path.last().cloned().unwrap_or_default();
    let mut args = Vec::new();
    let called = rest.fragment().starts_with('(');
    if called {
        let open = rest;
        let (r, _) = tag("(").parse(rest)?;
        let (r, all) = deeper(r, |r| self::args(r, open))?;
        for a in all {
            args.push(match a {
                Arg::Positional(e) => expr_text(&e),
                Arg::Keyword(k) => format!("{} = {}", k.name.name, expr_text(&k.value)),
            });
        }
        rest = r;
    }
    let call = if called { format!("({})", args.join(", ")) } else { String::new() };
    let at = span(start, rest);
    match module {
        Some((m, library)) => {
            let written = format!("{m}.{}{call}", path.join("."));
            let instead = match (called, path.len()) {
                (true, 1) => habits::form(&func, &args).or_else(|| Some(format!("{func}{call}"))),
                _ => None,
            };
            fail(ErrorKind::ModuleCall { written, library, instead }, at)
        }
        None => {
            let receiver = expr_text(&receiver);
            let written = format!("{receiver}.{}{call}", path.join("."));
            let mut all = vec![receiver.clone()];
            all.extend(args.iter().cloned());
            let instead = match (called, path.len()) {
                (true, 1) => {
                    habits::form(&func, &all).or_else(|| args.is_empty().then(|| format!("{func}({receiver})")))
                }
                _ => None,
            };
            fail(ErrorKind::MethodCall { written, instead }, at)
        }
    }
}

/// `primary`: a number, a call, a name, or a parenthesized expression.
fn primary(i: Input) -> PResult<Expr> {
    if let Ok((rest, _)) = tag::<_, _, PError>("(").parse(i) {
        return deeper(rest, |rest| {
            bracketed(rest, |rest| {
                let (rest, _) = ws(rest)?;
                let (rest, inner) = match expr(rest) {
                    Ok(x) => x,
                    Err(nom::Err::Error(_)) => return missing_expression("'('".into(), rest),
                    Err(e) => return Err(e),
                };
                let (rest, _) = ws(rest)?;
                match tag::<_, _, PError>(")").parse(rest) {
                    Ok((end, _)) => Ok((end, Expr { kind: ExprKind::Paren(Box::new(inner)), span: span(i, end) })),
                    Err(_) if rest.fragment().is_empty() => {
                        fail(ErrorKind::Unclosed { open: '(', instead: None }, here(i))
                    }
                    Err(_) => fail(ErrorKind::Expected { what: "')'", after: "the expression".into() }, here(rest)),
                }
            })
        });
    }
    if let Some((rest, n)) = opt_committed(number(i))? {
        let s = n.span;
        return Ok((rest, Expr { kind: ExprKind::Number(n), span: s }));
    }
    let (rest, id) = name(i)?;
    if KEYWORDS.contains(&id.name.as_str()) {
        return fail(ErrorKind::KeywordAsName { keyword: id.name }, span(i, rest));
    }
    if rest.fragment().starts_with('(') {
        return deeper(i, call);
    }
    if rest.fragment().starts_with('[') && subscript::starts_slice(rest) {
        let (rest, (axes, subscript)) = subscript::slice(rest)?;
        return Ok((rest, Expr { kind: ExprKind::Sliced { name: id, axes, span: subscript }, span: span(i, rest) }));
    }
    if rest.fragment().starts_with('[') {
        let (rest, index) = time_index(rest)?;
        return Ok((rest, Expr { kind: ExprKind::Indexed { name: id, index }, span: span(i, rest) }));
    }
    let s = id.span;
    Ok((rest, Expr { kind: ExprKind::Name(id), span: s }))
}

/// `call`: `NAME(args)`.
fn call(i: Input) -> PResult<Expr> {
    let (rest, func) = name(i)?;
    let (rest, _) = tag("(").parse(rest)?;
    let (rest, all) = args(rest, i)?;
    let mut args = Vec::new();
    let mut keywords = Vec::new();
    for a in all {
        match a {
            Arg::Positional(e) => args.push(e),
            Arg::Keyword(k) => keywords.push(k),
        }
    }
    Ok((rest, Expr { kind: ExprKind::Call { func, args, keywords }, span: span(i, rest) }))
}

/// One argument of a call, as written.
enum Arg {
    Positional(Expr),
    Keyword(KeywordArg),
}

/// `args`: arguments separated by commas, up to the closing `)`.
fn args<'a>(i: Input<'a>, start: Input<'a>) -> PResult<'a, Vec<Arg>> {
    let seq = Sequence { close: ')', empty: true, trailing: false, entry: "an argument" };
    separated(i, start, seq, |r, after| match arg(r) {
        Err(nom::Err::Error(_)) => missing_expression(after.into(), r),
        other => other,
    })
}

/// `arg`: a keyword argument, or an expression (with `for t` when summed over time).
fn arg(i: Input) -> PResult<Arg> {
    if let Some((rest, k)) = opt_committed(keyword_arg(i))? {
        return Ok((rest, Arg::Keyword(k)));
    }
    if value_list::starts_value_list(i) {
        return value_list::value_list(i).map(|(rest, l)| (rest, Arg::Positional(l)));
    }
    let (rest, e) = expr(i)?;
    match opt_committed(over(rest))? {
        Some((end, index)) => {
            let s = e.span.to(index.span);
            Ok((end, Arg::Positional(Expr { kind: ExprKind::Over { body: Box::new(e), index }, span: s })))
        }
        None => Ok((rest, Arg::Positional(e))),
    }
}

/// `keyword_arg`: `NAME = expr`; backtracks when no `=` follows the name.
fn keyword_arg(i: Input) -> PResult<KeywordArg> {
    let (rest, id) = name(i)?;
    let (rest, _) = ws(rest)?;
    let Ok((rest, _)) = tag::<_, _, PError>("=").parse(rest) else {
        return backtrack();
    };
    let (rest, _) = ws(rest)?;
    let (rest, value) = if value_list::starts_value_list(rest) {
        value_list::value_list(rest)?
    } else {
        rhs(rest, &format!("'{} ='", id.name))?
    };
    Ok((rest, KeywordArg { name: id, value }))
}

// ---- statements and the file ----------------------------------------------

/// `statement`: whichever statement the first word announces.
fn statement(i: Input) -> PResult<Item> {
    let word = name(i);
    if let Err(e @ nom::Err::Failure(_)) = word {
        return Err(e);
    }
    if let Ok((_, id)) = word {
        return match id.name.as_str() {
            "input" | "target" | "param" | "const" => declaration(i).map(|(r, d)| (r, Item::Tensor(d))),
            "fn" => function(i).map(|(r, f)| (r, Item::Function(f))),
            "loss" => loss(i).map(|(r, e)| (r, Item::Loss(e))),
            "train" => train(i).map(|(r, t)| (r, Item::Train(t))),
            "steps" if starts_steps(i) => steps(i).map(|(r, s)| (r, Item::Steps(s))),
            "layout" if statements::starts_layout(i) => statements::layout(i).map(|(r, l)| (r, Item::Layout(l))),
            _ => equation(i).map(|(r, e)| (r, Item::Equation(e))),
        };
    }
    fail(ErrorKind::ExpectedStatement, here(i))
}

/// Whether `steps` at `i` starts a `steps t = ...` statement (a name
/// follows) rather than an equation named `steps`.
fn starts_steps(i: Input) -> bool {
    let after = i.fragment().trim_start_matches("steps").trim_start_matches([' ', '\t']);
    after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// `line`: an optional statement, an optional comment, then the line break.
fn line(i: Input) -> PResult<Option<Item>> {
    let (rest, _) = ws(i)?;
    let (rest, item) = if at_line_end(rest) {
        (rest, None)
    } else {
        let (r, item) = statement(rest)?;
        (r, Some(item))
    };
    let (rest, _) = ws(rest)?;
    let (rest, _) = opt(comment).parse(rest)?;
    let (rest, _) = opt(tag("\r")).parse(rest)?;
    if rest.fragment().is_empty() {
        return Ok((rest, item));
    }
    match tag::<_, _, PError>("\n").parse(rest) {
        Ok((r, _)) => Ok((r, item)),
        Err(_) => fail(ErrorKind::Trailing { found: found(rest) }, here(rest)),
    }
}

/// `file`: lines until the end of the input.
fn file(mut i: Input) -> PResult<Vec<Item>> {
    let mut items = Vec::new();
    while !i.fragment().is_empty() {
        let (rest, item) = line(i)?;
        items.extend(item);
        i = rest;
    }
    Ok((i, items))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::literal::{general_list, list, number_row};
    use super::*;

    /// A fixed seed under CI (as the integration tests use), else random.
    fn seed() -> proptest::test_runner::RngSeed {
        match std::env::var_os("CI") {
            Some(_) => proptest::test_runner::RngSeed::Fixed(20261126),
            None => proptest::test_runner::RngSeed::Random,
        }
    }

    /// One number as people and programs write them: a sign or none,
    /// digits (leading zeros too, up to 25 of them: past 18 significant
    /// digits the value is kept whole, past 2^54 it is not packed), a
    /// fraction or none, an exponent or none.
    fn number() -> impl Strategy<Value = String> {
        let digits = prop_oneof![
            4 => "[0-9]{1,3}",
            1 => "0",
            1 => "[1-9][0-9]{14,17}",
            1 => "[0-9]{19,25}",
        ];
        let fraction =
            prop_oneof![2 => Just(None), 3 => proptest::option::of("[0-9]{0,4}"), 1 => Just(Some("".into()))];
        let exponent = prop_oneof![4 => Just(String::new()), 1 => "[eE][+-]?[0-9]{1,3}"];
        (prop_oneof![Just(""), Just("-"), Just("+")], digits, fraction, exponent).prop_map(|(sign, int, frac, exp)| {
            let mantissa = match frac {
                Some(f) => format!("{int}.{f}"),
                None => int,
            };
            format!("{sign}{mantissa}{exp}")
        })
    }

    /// A row `[a, b, c]`: either with any of the separators and white
    /// space the grammar allows, or written as programs print numbers
    /// (mostly canonical, so that the few ways of not being so are met:
    /// one odd number among them, a `-0`, a mantissa past 2^54).
    fn row() -> impl Strategy<Value = String> {
        let separator = prop_oneof![6 => Just(", "), 1 => Just(","), 1 => Just(" ,  "), 1 => Just(",\t")];
        let blank = prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t ")];
        let any_row = (proptest::collection::vec((number(), separator), 1..40), blank.clone(), blank, any::<bool>())
            .prop_map(|(numbers, open, close, trailing)| {
                let last = numbers.len() - 1;
                let mut text = format!("[{open}");
                for (k, (n, sep)) in numbers.iter().enumerate() {
                    text.push_str(n);
                    if k < last || trailing {
                        text.push_str(sep);
                    }
                }
                text.push_str(close);
                text.push(']');
                text
            });
        let int = prop_oneof![2 => Just("0".to_string()), 4 => "[1-9][0-9]{0,2}", 1 => "[1-9][0-9]{15,17}"];
        let printed = (prop_oneof![Just(""), Just("-")], int, proptest::option::of("[0-9]{1,4}"))
            .prop_map(|(sign, int, frac)| format!("{sign}{int}{}", frac.map(|f| format!(".{f}")).unwrap_or_default()));
        let printed_row = (proptest::collection::vec(printed, 1..12), proptest::option::of((any::<usize>(), number())))
            .prop_map(|(mut numbers, odd)| {
                if let Some((at, odd)) = odd {
                    let at = at % numbers.len();
                    numbers[at] = odd;
                }
                format!("[{}]", numbers.join(", "))
            });
        prop_oneof![any_row, printed_row]
    }

    /// Reads `text` as a literal list, the fast way when `fast` (as the
    /// parser does) or by the general rules only.
    fn read(text: &str, fast: bool) -> NumberList {
        LITERAL_NUMBERS.with(|c| c.set(0));
        LAST_COLUMN.with(|c| c.set((0, 1, 1)));
        let input = Input::new_extra(text, text);
        let parsed = if fast { list(input) } else { general_list(input) };
        match parsed {
            Ok((rest, Literal::Numbers(list))) if rest.fragment().is_empty() => list,
            other => panic!("{text:?} read as {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { rng_seed: seed(), cases: 1024, ..ProptestConfig::default() })]

        /// The fast path reads every row of plain numbers, to the same
        /// values (the same mantissa and power of ten, not only the same
        /// rational), texts and spans as the general rules; it keeps no
        /// text exactly when the values write it again.
        #[test]
        fn the_fast_path_for_rows_agrees_with_the_general_rules(text in row()) {
            prop_assert!(number_row(text.as_bytes()).is_some(), "not read fast: {text:?}");
            let (fast, general) = (read(&text, true), read(&text, false));
            prop_assert_eq!(format!("{:?}", fast.values()), format!("{:?}", general.values()));
            prop_assert_eq!(fast.texts().collect::<Vec<_>>(), general.texts().collect::<Vec<_>>());
            prop_assert_eq!(fast.numbers(), general.numbers());
            prop_assert_eq!(fast.span, general.span);
            prop_assert!(fast == general, "{:?} read unequal", text);
            // Written again from the values, independently of the parser.
            let written: Vec<String> = general
                .values()
                .iter()
                .map(|d| match d {
                    Decimal::Small { mantissa, exponent } if exponent <= 0 => super::super::ast::decimal_text(mantissa, exponent),
                    _ => String::new(),
                })
                .collect();
            let again = format!("[{}]", written.join(", "));
            let canonical = number_row(text.as_bytes()).map(|r| r.canonical);
            let packed = general.values().iter().all(|d| {
                matches!(d, Decimal::Small { mantissa, exponent: -128..=0 } if mantissa.unsigned_abs() < 1 << 54)
            });
            prop_assert_eq!(canonical, Some(again == text && packed), "{:?} written again as {:?}", text, again);
        }
    }

    #[test]
    fn canonical_rows_give_their_text_and_places_again() {
        let text = "[-0.65, 0.50, 0, 0.0, 10, -3.125, 0.005]";
        assert!(number_row(text.as_bytes()).unwrap().canonical);
        let list = read(text, true);
        assert_eq!(list.texts().collect::<Vec<_>>(), ["-0.65", "0.50", "0", "0.0", "10", "-3.125", "0.005"]);
        let columns: Vec<u32> = list.numbers().iter().map(|n| n.span.column).collect();
        assert_eq!(columns, [2, 9, 15, 18, 23, 27, 35]);
        assert_eq!(list.number(5).text, "-3.125");
        assert_eq!(&text[list.number(5).span.start..list.number(5).span.end], "-3.125");
        // Each of these is read fast but keeps its text.
        for text in ["[-0, 1]", "[+1, 2]", "[.5, 1]", "[5., 1]", "[007, 1]", "[1e3, 1]", "[1,2]", "[ 1, 2]", "[1, 2,]"]
        {
            assert!(!number_row(text.as_bytes()).unwrap().canonical, "{text}");
        }
        // And these go the general way.
        for text in ["[1, # one\n 2]", "[1,\n 2]", "[- 1, 2]", "[1, [2]]", "[]", "[1 2]", "[1, 2x]", "[1e, 2]"] {
            assert!(number_row(text.as_bytes()).is_none(), "{text}");
        }
    }

    /// Every count of integer and fraction digits, around the 8 bytes the
    /// fast path tests at once and the 16 digits it packs, and at a row's
    /// end (fewer than 8 bytes left), reads as the general rules read it.
    #[test]
    fn every_digit_count_reads_as_the_general_rules_read_it() {
        for int in 1..=18usize {
            for frac in 0..=18usize {
                let number = |first: char| {
                    let int: String = std::iter::once(first).chain("234567890".chars().cycle()).take(int).collect();
                    let frac: String = "9876543210".chars().cycle().take(frac).collect();
                    if frac.is_empty() {
                        int
                    } else {
                        format!("{int}.{frac}")
                    }
                };
                let (a, b) = (number('1'), number('0'));
                for text in
                    [format!("[{a}, -{a}, {b}, 7]"), format!("[-{a}, {a}]"), format!("[{b}, -{b}]"), format!("[{a}]")]
                {
                    let (fast, general) = (read(&text, true), read(&text, false));
                    assert_eq!(format!("{:?}", fast.values()), format!("{:?}", general.values()), "{text}");
                    assert_eq!(fast.texts().collect::<Vec<_>>(), general.texts().collect::<Vec<_>>(), "{text}");
                    // Canonical exactly when the values write the text again.
                    let again: Vec<String> = general
                        .values()
                        .iter()
                        .map(|d| match d {
                            Decimal::Small { mantissa, exponent } if mantissa.unsigned_abs() < 1 << 54 => {
                                super::super::ast::decimal_text(mantissa, exponent)
                            }
                            _ => String::new(),
                        })
                        .collect();
                    let canonical = number_row(text.as_bytes()).map(|r| r.canonical);
                    assert_eq!(canonical, Some(format!("[{}]", again.join(", ")) == text), "{text}");
                }
            }
        }
    }

    #[test]
    fn decimal_text_writes_every_zero() {
        let cases =
            [(0, 0, "0"), (0, -2, "0.00"), (-50, -2, "-0.50"), (5, -3, "0.005"), (1234, -2, "12.34"), (7, 2, "700")];
        for (mantissa, exponent, text) in cases {
            assert_eq!(super::super::ast::decimal_text(mantissa, exponent), text);
            assert_eq!(super::super::ast::decimal_text_len(mantissa, exponent), text.len(), "{text}");
        }
    }
}
