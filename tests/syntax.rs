//! The parser and the formatter: examples, the grammar file, precedence,
//! numbers, canonical layout, and the guarantee that no input panics.

mod common;

use nnderive::syntax::ast::{BinOp, Expr, ExprKind, Item};
use nnderive::syntax::{format, parse};
use proptest::prelude::*;

/// The file's AST printed with every span removed, to compare trees.
fn shape_of(text: &str) -> String {
    let file = parse(text).expect("parses");
    strip_spans(&format!("{:?}", file.items))
}

fn strip_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find('}').map(|j| j + 1).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_example_parses_checks_and_is_canonical() {
    for entry in std::fs::read_dir(common::example("")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        nnderive::model::check(&file).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(format(&file), text, "{} is not in canonical form", path.display());
    }
}

#[test]
fn the_assignment_parses_exactly_as_written() {
    let text = std::fs::read_to_string(common::example("assignment4.nn")).unwrap();
    let file = parse(&text).unwrap();
    assert_eq!(file.items.len(), 13);
    assert_eq!(file.comments.len(), 1);
    assert_eq!(file.comments[0].text, " DS4023 Assignment 4, Problem 1");
}

/// A declaration without dims takes its value's: the file reads as if the
/// dims had been written, and `fmt` writes them out. A number stays a
/// scalar; a ragged value is refused at the entry that differs.
#[test]
fn dims_come_from_the_value_when_not_written() {
    let implicit = "input x = [[1, 2], [3, 4], [5, 6]]\nconst c = 2\nparam v = [1, -1]\n";
    let explicit = "input x[3,2] = [[1, 2], [3, 4], [5, 6]]\nconst c = 2\nparam v[2] = [1, -1]\n";
    assert_eq!(format(&parse(implicit).unwrap()), format(&parse(explicit).unwrap()));
    let Item::Tensor(c) = &parse(implicit).unwrap().items[1] else { panic!("a declaration") };
    assert!(c.dims.is_empty(), "a number has no dims");
    // The model sees the same shapes.
    let net = |text: &str| {
        let source = nnderive::Source::new("t.nn", format!("{text}loss L = sum(x) + c * sum(v)\n"));
        nnderive::load(&source)
            .map(|m| format!("{:?}", m.tensors.values().map(|t| t.shape.clone()).collect::<Vec<_>>()))
    };
    assert_eq!(net(implicit).unwrap(), net(explicit).unwrap());
    let ragged = nnderive::Source::new("r.nn", "input x = [[1, 2], [3]]\nloss L = sum(x)\n".to_string());
    assert!(nnderive::load(&ragged).is_err());
}

#[test]
fn fmt_of_a_messy_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/messy.nn");
    let text = std::fs::read_to_string(path).unwrap();
    let formatted = format(&parse(&text).unwrap());
    assert_eq!(shape_of(&formatted), shape_of(&text), "formatting changed the meaning");
    assert_eq!(format(&parse(&formatted).unwrap()), formatted, "formatting is not idempotent");
    common::settings().bind(|| {
        insta::with_settings!({ description => text.clone() }, {
            insta::assert_snapshot!("fmt_messy", formatted);
        });
    });
}

/// `grammar/nn.ebnf` and the parser match rule for rule: every rule has a
/// parser function of the same name, and every function documented as a
/// rule (doc comment starting with its name in backticks) is in the grammar.
/// The parser's functions live in the files under `src/syntax/` that
/// return its `PResult`.
#[test]
fn grammar_and_parser_match() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let grammar = std::fs::read_to_string(root.join("grammar/nn.ebnf")).unwrap();
    let mut files = Vec::new();
    let mut folders = vec![root.join("src/syntax")];
    while let Some(folder) = folders.pop() {
        for path in std::fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().path()) {
            match path.extension() {
                _ if path.is_dir() => folders.push(path),
                Some(e) if e == "rs" => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    let parser: String = files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap() + "\n")
        .filter(|text| text.contains("PResult<"))
        .collect();
    let rules: Vec<&str> = grammar.lines().filter_map(|l| l.split_once("::=")).map(|(name, _)| name.trim()).collect();
    assert!(rules.len() > 20, "grammar rules: {rules:?}");
    for rule in &rules {
        assert!(
            parser.contains(&format!("fn {rule}(")) || parser.contains(&format!("fn {rule}<")),
            "rule `{rule}` has no parser function"
        );
    }
    let lines: Vec<&str> = parser.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(doc) = line.trim().strip_prefix("/// `") else {
            continue;
        };
        let Some((name, rest)) = doc.split_once('`') else {
            continue;
        };
        if !rest.starts_with(':') {
            continue;
        }
        let next_fn = lines[i + 1..].iter().find(|l| l.contains("fn ")).copied().unwrap_or("");
        assert!(next_fn.contains(&format!("fn {name}")), "doc `{name}` is not on its function: {next_fn}");
        assert!(rules.contains(&name), "parser rule `{name}` is not in the grammar");
    }
}

fn rhs(text: &str) -> Expr {
    let file = parse(&format!("Z = {text}\n")).unwrap();
    match file.items.into_iter().next() {
        Some(Item::Equation(e)) => e.value,
        other => panic!("{other:?}"),
    }
}

fn op(e: &Expr) -> Option<BinOp> {
    match &e.kind {
        ExprKind::Binary { op, .. } => Some(*op),
        _ => None,
    }
}

#[test]
fn precedence_and_associativity() {
    // -t^2 is -(t^2)
    assert!(matches!(&rhs("-t^2").kind, ExprKind::Neg(inner) if op(inner) == Some(BinOp::Pow)));
    // a - b - c is (a - b) - c
    match &rhs("a - b - c").kind {
        ExprKind::Binary { op: BinOp::Sub, lhs, .. } => assert_eq!(op(lhs), Some(BinOp::Sub)),
        other => panic!("{other:?}"),
    }
    // @ and * share a level, left to right
    match &rhs("a @ b * c").kind {
        ExprKind::Binary { op: BinOp::Mul, lhs, .. } => assert_eq!(op(lhs), Some(BinOp::MatMul)),
        other => panic!("{other:?}"),
    }
    // .T binds tighter than @
    match &rhs("x.T @ y").kind {
        ExprKind::Binary { op: BinOp::MatMul, lhs, .. } => assert!(matches!(lhs.kind, ExprKind::Transpose(_))),
        other => panic!("{other:?}"),
    }
    // the exponent may be negative; ^ is right-associative
    match &rhs("2^-1").kind {
        ExprKind::Binary { op: BinOp::Pow, rhs, .. } => assert!(matches!(rhs.kind, ExprKind::Neg(_))),
        other => panic!("{other:?}"),
    }
    match &rhs("a^b^c").kind {
        ExprKind::Binary { op: BinOp::Pow, rhs, .. } => assert_eq!(op(rhs), Some(BinOp::Pow)),
        other => panic!("{other:?}"),
    }
    // + is looser than *
    assert_eq!(op(&rhs("a + b * c")), Some(BinOp::Add));
}

#[test]
fn numbers_are_exact() {
    use num_rational::BigRational;
    let value = |t: &str| match &parse(&format!("const c = {t}\n")).unwrap().items[0] {
        Item::Tensor(d) => match &d.value {
            Some(nnderive::syntax::ast::Literal::Number(n)) => n.value.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let r = |n: i64, d: i64| BigRational::new(n.into(), d.into());
    assert_eq!(value("1e-3"), r(1, 1000));
    assert_eq!(value("2.5E+2"), r(250, 1));
    assert_eq!(value("-0.05"), r(-1, 20));
    assert_eq!(value(".5"), r(1, 2));
    assert_eq!(value("0.1"), r(1, 10));
}

/// A closing bracket alone on its line is part of the statement: no blank
/// line appears after it, and the declarations still align.
#[test]
fn fmt_with_a_dangling_bracket() {
    let text = "param W[2,2] = [[1, 2],\n                [3, 4]\n               ]\nparam b = 1\nloss L = sum(W) + b\n";
    let formatted = format(&parse(text).unwrap());
    assert_eq!(formatted, "param W[2,2] = [[1, 2],\n                [3, 4]]\nparam b      = 1\nloss L = sum(W) + b\n");
}

/// Columns stay right along a long line and across lines and characters
/// wider than a byte (they are counted on from the last one).
#[test]
fn columns_on_long_lines() {
    let numbers: Vec<String> = (0..2000).map(|i| format!("{}", i % 7)).collect();
    let text = format!("input x[2000] = [{}]\ninput é = 1\nloss L = sum(x) + é + q\n", numbers.join(", "));
    let e = nnderive::load(&nnderive::Source::new("t.nn", text.clone())).unwrap_err();
    let d = e.diagnostic();
    let span = d.span.unwrap();
    assert_eq!((span.line, span.column), (2, 7), "{d:?}");
    let text = text.replace("input é = 1\n", "").replace(" + é", " + ééé");
    let e = nnderive::load(&nnderive::Source::new("t.nn", text)).unwrap_err();
    let span = e.diagnostic().span.unwrap();
    assert_eq!((span.line, span.column), (2, 19), "{:?}", e.diagnostic());
}

#[test]
fn comments_blank_lines_and_crlf() {
    let text = "# top\r\ninput x[2] = [1,\r\n   2]  # trailing\r\n\r\nparam p = 1\r\nloss L = sum(p * x) # end\r\n";
    let file = parse(text).unwrap();
    assert_eq!(file.items.len(), 3);
    assert_eq!(file.comments.len(), 3);
    let formatted = format(&file);
    assert_eq!(formatted, "# top\ninput x[2] = [1, 2]  # trailing\n\nparam p = 1\nloss L = sum(p * x)  # end\n");
    assert_eq!(parse("param p = 1").unwrap().items.len(), 1, "no final newline is fine");
    let with_bom = nnderive::syntax::decode("\u{feff}param p = 1\n".as_bytes()).unwrap();
    assert_eq!(parse(with_bom).unwrap().items.len(), 1, "a byte-order mark is dropped");
}

/// Random edits of the examples.
fn mutated_examples() -> impl Strategy<Value = String> {
    let texts: Vec<String> = std::fs::read_dir(common::example(""))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let pieces = [
        "(", ")", "[", "]", ",", "=", "@", "^", "-", ".T", "\n", "#", "0", "1e", "relu(", "x", " ", "loss", "fn", "é",
        "\t",
    ];
    (0..texts.len(), proptest::collection::vec((any::<usize>(), 0usize..4, 0..pieces.len()), 1..6)).prop_map(
        move |(i, edits)| {
            let mut t: Vec<char> = texts[i].chars().collect();
            for (pos, kind, piece) in edits {
                let at = if t.is_empty() { 0 } else { pos % t.len() };
                match kind {
                    0 => {
                        if at < t.len() {
                            t.remove(at);
                        }
                    }
                    1 => t.splice(at..at, pieces[piece].chars()).for_each(drop),
                    2 => t.truncate(at),
                    _ => {
                        if at < t.len() {
                            t[at] = pieces[piece].chars().next().unwrap_or(' ');
                        }
                    }
                }
            }
            t.into_iter().collect()
        },
    )
}

/// Whatever it is given, the pipeline answers Ok or Err, never a panic.
fn never_panics(text: &str) {
    let source = nnderive::Source::new("fuzz.nn", text);
    if let Ok(file) = parse(text) {
        let formatted = format(&file);
        assert_eq!(shape_of(&formatted), strip_spans(&format!("{:?}", file.items)), "fmt changed meaning of {text:?}");
    }
    if let Ok(model) = nnderive::load(&source) {
        if let Ok(solution) = nnderive::solve(&model) {
            let _ = nnderive::render::json::solution(&model, &solution, Some(4));
        }
    }
    whole_pipeline::whole_pipeline(text);
}

#[path = "../fuzz/large_inputs.rs"]
mod large_inputs;
#[path = "../fuzz/whole_pipeline.rs"]
mod whole_pipeline;

/// Runs the whole pipeline on `text` in a thread with a 1 MiB stack, failing
/// if it panics or takes longer than `limit` (the fuzz target adds a memory limit).
fn within_limits(text: String, limit: std::time::Duration) {
    let (done, wait) = std::sync::mpsc::channel();
    let summary: String = text.lines().take(3).collect::<Vec<_>>().join(" | ").chars().take(200).collect();
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            whole_pipeline::whole_pipeline(&text);
            let _ = done.send(());
        })
        .expect("thread starts");
    match wait.recv_timeout(limit) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("over {limit:?} on {summary}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("panicked on {summary}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, rng_seed: common::proptest_seed(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        never_panics(&text);
    }

    #[test]
    fn mutated_examples_never_panic(text in mutated_examples()) {
        never_panics(&text);
    }
}

proptest! {
    // Sizes are scaled to a fifth in this debug-build test; the `large` fuzz
    // target runs them at full size with -rss_limit_mb.
    #![proptest_config(ProptestConfig { cases: 12, rng_seed: common::proptest_seed(), ..ProptestConfig::default() })]

    #[test]
    fn large_generated_inputs_stay_within_limits(recipe in proptest::collection::vec(any::<u8>(), 3..12)) {
        within_limits(large_inputs::large_input(&recipe, 0.2), std::time::Duration::from_secs(60));
    }
}

/// Keyword arguments: after or among positional ones, kept in order, and
/// written back by `fmt` as `key = value`.
#[test]
fn keyword_arguments_in_calls() {
    match rhs("conv2d(X, K, stride = 2, pad = (1))").kind {
        ExprKind::Call { func, args, keywords } => {
            assert_eq!(func.name, "conv2d");
            assert_eq!(args.len(), 2);
            let names: Vec<&str> = keywords.iter().map(|k| k.name.name.as_str()).collect();
            assert_eq!(names, ["stride", "pad"]);
        }
        other => panic!("{other:?}"),
    }
    let file = parse("Z = maxpool(A,2,stride=1)\n").unwrap();
    assert_eq!(format(&file), "Z = maxpool(A, 2, stride = 1)\n");
}

/// The value of a decimal the slow, obvious way: digits as one big integer
/// over a power of ten.
fn reference_decimal(text: &str) -> num_rational::BigRational {
    use num_bigint::BigInt;
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: BigInt = format!("0{int}{frac}").parse().unwrap();
    let scale = exponent - frac.len() as i64;
    let ten = num_rational::BigRational::from_integer(BigInt::from(10));
    let value = num_rational::BigRational::from_integer(digits) * num_traits::pow::Pow::pow(&ten, scale as i32);
    if negative {
        -value
    } else {
        value
    }
}

proptest! {
    #![proptest_config(ProptestConfig { rng_seed: common::proptest_seed(), ..ProptestConfig::default() })]

    /// Numbers read alone and inside a list (the compact form) have the
    /// value a reference decimal parser gives, and keep their text.
    #[test]
    fn numbers_match_a_reference_parser(
        numbers in proptest::collection::vec(
            "[+-]?([0-9]{1,25}(\\.[0-9]{0,25})?|\\.[0-9]{1,25})([eE][+-]?[0-9]{1,3})?", 1..8)
    ) {
        let text = format!("const c[{}] = [{}]\nconst d = {}\n", numbers.len(), numbers.join(", "), numbers[0]);
        let file = parse(&text).unwrap();
        let Item::Tensor(list) = &file.items[0] else { panic!() };
        let Some(nnderive::syntax::ast::Literal::Numbers(list)) = &list.value else { panic!("{list:?}") };
        for (k, n) in numbers.iter().enumerate() {
            prop_assert_eq!(list.values().get(k).unwrap().to_rational(), reference_decimal(n));
            prop_assert_eq!(list.text(k), n.as_str());
            let number = list.number(k);
            prop_assert_eq!(&text[number.span.start..number.span.end], n.as_str());
        }
        let Item::Tensor(single) = &file.items[1] else { panic!() };
        let Some(nnderive::syntax::ast::Literal::Number(single)) = &single.value else { panic!() };
        prop_assert_eq!(&single.value, &reference_decimal(&numbers[0]));
    }
}

/// A number where a list belongs inside a compact row is pointed at
/// exactly, also on a later line of the literal.
#[test]
fn a_number_in_a_compact_row_is_located() {
    let text = "param W[2,2,1] = [[1, 2],\n    [ -3.5, 4]]\nloss L = sum(W)\n";
    let e = nnderive::load(&nnderive::Source::new("t.nn", text.to_string())).unwrap_err();
    let span = e.diagnostic().span.unwrap();
    assert_eq!((span.line, span.column, &text[span.start..span.end]), (1, 20, "1"));
    let text = "param W[2] = [[1, 2],\n    [ -3.5, 4]]\nloss L = sum(W)\n";
    let e = nnderive::load(&nnderive::Source::new("t.nn", text.to_string())).unwrap_err();
    let span = e.diagnostic().span.unwrap();
    assert_eq!((span.line, span.column), (1, 15), "{:?}", e.diagnostic());
    // A list mixing numbers and lists keeps every number's place.
    let text = "param W[2] = [7,\n  [1]]\nloss L = sum(W)\n";
    let file = parse(text).unwrap();
    let Item::Tensor(d) = &file.items[0] else { panic!() };
    let Some(nnderive::syntax::ast::Literal::List { items, .. }) = &d.value else { panic!() };
    assert_eq!(items[0].span().column, 15);
    assert_eq!(items[1].span().line, 2);
}

/// A malformed number inside a long row on one line (read by the parser's
/// fast path for rows, which hands anything odd to the general rules) is
/// pointed at exactly, in a file with comments, blank lines and either
/// kind of line break; the place is found here by searching the line.
#[test]
fn a_malformed_number_in_a_long_row_is_located() {
    let mut rng = common::Lcg(13);
    // (what is written, where in it the error points, what the span covers)
    let bad = [
        ("1e", 0, "1e"),
        ("2x", 0, "2x"),
        ("1e5000", 0, "1e5000"),
        ("1.2.3", 3, "."),
        ("--1", 1, "-"),
        ("7 8", 2, "8"),
        ("1e+", 0, "1e+"),
    ];
    for (k, (written, into, covered)) in bad.into_iter().enumerate() {
        for line_break in ["\n", "\r\n"] {
            let mut numbers: Vec<String> = (0..5000).map(|_| rng.decimal()).collect();
            let at = 1000 + 613 * k;
            numbers[at] = written.to_string();
            let row = format!("[{}]", numbers.join(", "));
            let good: Vec<String> = (0..5000).map(|_| rng.decimal()).collect();
            let text = [
                "# weights".to_string(),
                String::new(),
                format!("param W[2,5000] = [[{}],  # the first row", good.join(", ")),
                format!("    {row}]"),
                "loss L = sum(W)".to_string(),
                String::new(),
            ]
            .join(line_break);
            let error = nnderive::load(&nnderive::Source::new("t.nn", text.clone())).unwrap_err();
            let span = error.diagnostic().span.expect("a located error");
            // Four spaces, `[`, then each number before it and its `, `.
            let before: usize = numbers[..at].iter().map(|n| n.len() + 2).sum();
            let column = 4 + 1 + before + into + 1;
            let line = text.split(line_break).nth(3).unwrap();
            assert_eq!(line[column - 1 - into..].split(", ").next(), Some(written));
            let found = (span.line, span.column as usize, &text[span.start..span.end]);
            assert_eq!(found, (4, column, covered), "{written:?} ({line_break:?}): {:?}", error.diagnostic());
        }
    }
}

/// Rows read the fast way (one line each) and the same rows read by the
/// general rules (a comment, line breaks and blank lines inside each, CRLF
/// or LF) give the same values, each that of a reference decimal parser.
#[test]
fn rows_with_comments_and_line_breaks_read_the_same_values() {
    let mut rng = common::Lcg(29);
    let forms = ["-0.65", "1e-3", "+2.5E2", "00.10", "12345678901234567890.5", "-7", ".25", "3.", "0.000"];
    let (rows, cols) = (6, 40);
    let numbers: Vec<Vec<String>> = (0..rows)
        .map(|_| {
            (0..cols)
                .map(|c| if c % 5 == 0 { forms[rng.next() as usize % forms.len()].to_string() } else { rng.decimal() })
                .collect()
        })
        .collect();
    let one_line: Vec<String> = numbers.iter().map(|r| format!("[{}]", r.join(", "))).collect();
    let fast = format!("param W[{rows},{cols}] = [{}]\nloss L = sum(W)\n", one_line.join(", "));
    for line_break in ["\n", "\r\n"] {
        let broken: Vec<String> = numbers
            .iter()
            .map(|r| {
                let (a, b) = r.split_at(cols / 2);
                format!("[{},  # half a row{line_break}{line_break}   {}]", a.join(", "), b.join(","))
            })
            .collect();
        let general = format!(
            "param W[{rows},{cols}] = [{}]{line_break}loss L = sum(W){line_break}",
            broken.join(&format!(",{line_break}"))
        );
        let values = |text: &str| {
            let model = nnderive::load(&nnderive::Source::new("t.nn", text.to_string())).unwrap();
            let id = model.tensor_id("W").unwrap();
            let values = model.tensor(id).value.clone().unwrap();
            values.iter().map(|d| d.to_rational()).collect::<Vec<_>>()
        };
        let expected: Vec<_> = numbers.iter().flatten().map(|n| reference_decimal(n)).collect();
        assert_eq!(values(&fast), expected);
        assert_eq!(values(&general), expected, "{line_break:?}");
    }
}

/// `~ rule(...)` after a declaration (how `nnderive vary` draws numbers):
/// parsed with its arguments, printed back by `fmt` in one canonical form,
/// and checked into the model's rule with its values.
#[test]
fn draw_rules_parse_format_and_check() {
    use nnderive::model::Draw;
    use num_rational::BigRational;
    let text = "input x[2]=[1, 2]~fixed\nparam W[1,2] ~uniform( -0.5,0.5 , step=0.1, )\ntarget m[2] = [0, 1]   ~ choice(0,1)\ntarget y[2]~onehot()\nloss L = sum(W @ x) + sum(m * y)\n";
    let formatted = format(&parse(text).unwrap());
    assert_eq!(
        formatted,
        "input  x[2]   = [1, 2] ~ fixed\nparam  W[1,2] ~ uniform(-0.5, 0.5, step = 0.1)\ntarget m[2]   = [0, 1] ~ choice(0, 1)\ntarget y[2]   ~ onehot\nloss L = sum(W @ x) + sum(m * y)\n"
    );
    assert_eq!(format(&parse(&formatted).unwrap()), formatted, "formatting is not idempotent");
    assert_eq!(shape_of(&formatted).replace("trailing", ""), shape_of(text).replace("trailing", ""));
    let model = nnderive::load(&nnderive::Source::new("d.nn", formatted)).unwrap();
    let draw = |name: &str| model.tensors[name].draw.clone();
    let r = |n: i64, d: i64| BigRational::new(n.into(), d.into());
    assert_eq!(draw("x"), Some(Draw::Fixed));
    assert_eq!(draw("W"), Some(Draw::Uniform { low: r(-1, 2), high: r(1, 2), step: r(1, 10), places: 1 }));
    assert_eq!(draw("m"), Some(Draw::Choice(vec![r(0, 1), r(1, 1)])));
    assert_eq!(draw("y"), Some(Draw::OneHot));
    // Without a step, one unit of the last decimal place written.
    let model =
        nnderive::load(&nnderive::Source::new("d.nn", "param W[2] ~ uniform(-1, 1.25)\nloss L = sum(W)\n")).unwrap();
    assert_eq!(
        model.tensors["W"].draw,
        Some(Draw::Uniform { low: r(-1, 1), high: r(5, 4), step: r(1, 100), places: 2 })
    );
}
