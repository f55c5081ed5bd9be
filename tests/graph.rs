//! `nnderive graph`: the computational graph of every example, read back
//! from the DOT text nnderive writes and counted against the network
//! (tensors, equations, operands), drawn by Graphviz where it is installed
//! (in CI it must be: `.ci/run` installs it), and the LaTeX document's TikZ
//! picture compiled by pdflatex without Graphviz.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nnderive::model::time::split_step;
use nnderive::model::{Model, Role};
use nnderive::render;

// ---- reading DOT back ------------------------------------------------------

/// A token of the DOT subset nnderive writes.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Id(String),
    /// A quoted string, unescaped.
    Quoted(String),
    /// An HTML-like string `<…>`, as written.
    Html(String),
    Punct(&'static str),
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                    match chars[i] {
                        'n' => s.push('\n'),
                        other => s.push(other),
                    }
                } else {
                    s.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Quoted(s));
        } else if c == '<' {
            let (start, mut depth) = (i, 0);
            loop {
                match chars[i] {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            out.push(Token::Html(chars[start..i].iter().collect()));
        } else if c == '-' && chars.get(i + 1) == Some(&'>') {
            out.push(Token::Punct("->"));
            i += 2;
        } else if let Some(p) = ["{", "}", "[", "]", ";", ",", "="].into_iter().find(|p| p.starts_with(c)) {
            out.push(Token::Punct(p));
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '#')) {
                i += 1;
            }
            assert!(i > start, "unexpected character {c:?} in the DOT text");
            out.push(Token::Id(chars[start..i].iter().collect()));
        }
    }
    out
}

/// A node or edge with its attributes (a node's include the `node [...]`
/// defaults in force where it is declared).
#[derive(Clone, Debug, Default)]
struct Item {
    attrs: BTreeMap<String, String>,
}

impl Item {
    fn get(&self, key: &str) -> &str {
        self.attrs.get(key).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Dot {
    /// By id, each declared once.
    nodes: BTreeMap<String, Item>,
    edges: Vec<(String, String, Item)>,
    /// The `{ rank=same; … }` groups.
    same_rank: Vec<Vec<String>>,
}

impl Dot {
    fn class(&self, id: &str) -> &str {
        self.nodes[id].get("class")
    }

    fn count(&self, class: &str) -> usize {
        self.nodes.values().filter(|n| n.get("class") == class).count()
    }

    fn edges_of(&self, class: &str) -> Vec<(&str, &str)> {
        self.edges.iter().filter(|e| e.2.get("class") == class).map(|e| (e.0.as_str(), e.1.as_str())).collect()
    }
}

fn attributes(t: &[Token], i: &mut usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    assert_eq!(t[*i], Token::Punct("["));
    *i += 1;
    while t[*i] != Token::Punct("]") {
        let Token::Id(key) = &t[*i] else { panic!("an attribute name, not {:?}", t[*i]) };
        assert_eq!(t[*i + 1], Token::Punct("="));
        let value = match &t[*i + 2] {
            Token::Id(s) | Token::Quoted(s) | Token::Html(s) => s.clone(),
            other => panic!("an attribute value, not {other:?}"),
        };
        out.insert(key.clone(), value);
        *i += 3;
        if t[*i] == Token::Punct(",") {
            *i += 1;
        }
    }
    *i += 1;
    out
}

fn parse_dot(text: &str) -> Dot {
    let t = tokens(text);
    assert_eq!(&t[..3], &[Token::Id("digraph".into()), Token::Id("network".into()), Token::Punct("{")]);
    let mut dot = Dot::default();
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 3;
    while t[i] != Token::Punct("}") {
        match &t[i] {
            Token::Id(word) if word == "graph" || word == "edge" => {
                i += 1;
                attributes(&t, &mut i);
            }
            Token::Id(word) if word == "node" => {
                i += 1;
                defaults.extend(attributes(&t, &mut i));
            }
            Token::Punct("{") => {
                i += 1;
                let mut group = Vec::new();
                while t[i] != Token::Punct("}") {
                    match (&t[i], &t[i + 1]) {
                        (Token::Id(k), Token::Punct("=")) => {
                            assert_eq!(k, "rank");
                            i += 3;
                        }
                        (Token::Id(id), _) => {
                            group.push(id.clone());
                            i += 1;
                        }
                        (Token::Punct(";"), _) => i += 1,
                        other => panic!("unexpected {other:?} in a rank group"),
                    }
                }
                i += 1;
                dot.same_rank.push(group);
                // A group needs no `;` after it.
                continue;
            }
            Token::Id(id) => {
                let id = id.clone();
                i += 1;
                if t[i] == Token::Punct("->") {
                    let Token::Id(to) = &t[i + 1] else { panic!("an edge's head") };
                    let to = to.clone();
                    i += 2;
                    let attrs = if t[i] == Token::Punct("[") { attributes(&t, &mut i) } else { BTreeMap::new() };
                    dot.edges.push((id, to, Item { attrs }));
                } else {
                    let mut attrs = defaults.clone();
                    attrs.extend(attributes(&t, &mut i));
                    assert!(dot.nodes.insert(id.clone(), Item { attrs }).is_none(), "node {id} declared twice");
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(t[i], Token::Punct(";"), "a statement ends with ;");
        i += 1;
    }
    assert_eq!(i + 1, t.len(), "nothing after the graph");
    for (a, b, _) in &dot.edges {
        assert!(dot.nodes.contains_key(a) && dot.nodes.contains_key(b), "edge {a} -> {b} has a node not declared");
    }
    dot
}

// ---- what the network says the counts are -----------------------------------

/// The graph's size worked out from the model alone, by names: a step `h[k]`
/// of a sequence the file defines for every step (`h[t] = …`, `x[t][2]`) is
/// one node `h[t]`, and an operand from another step of such a sequence
/// (`h[t-1]`) comes through one node per sequence and offset.
struct Expected {
    tensors: usize,
    operations: usize,
    earlier: usize,
    edges: usize,
}

fn expected(model: &Model) -> Expected {
    let folded = |name: &str| -> Option<(String, u64)> {
        let time = model.time.as_ref()?;
        let (base, k) = split_step(name)?;
        let every_step = time.sequences.iter().any(|s| s.name == base && s.templated);
        (every_step && (time.first..=time.last).contains(&k)).then(|| (base.to_string(), k))
    };
    let node = |name: &str| folded(name).map(|(base, _)| format!("{base}[t]")).unwrap_or_else(|| name.to_string());
    let tensors: BTreeSet<String> = model.tensors.keys().map(|n| node(n)).collect();
    let mut operations = BTreeSet::new();
    let mut earlier = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for id in model.equations() {
        let t = model.tensor(id);
        let op = format!("op {}", node(&t.name));
        operations.insert(op.clone());
        edges.insert((op.clone(), node(&t.name)));
        let def = t.definition.unwrap();
        for n in model.graph.nodes_under(&[def]) {
            let nnderive::model::Node::Tensor(u) = model.graph.node(n) else { continue };
            let u = &model.tensor(*u).name;
            let before = match (folded(&t.name), split_step(u)) {
                (Some((_, k)), Some((base, j))) if j != k && folded(&format!("{base}[{k}]")).is_some() => {
                    Some(format!("{base} at t{:+}", j as i64 - k as i64))
                }
                _ => None,
            };
            match before {
                Some(e) => {
                    earlier.insert(e.clone());
                    edges.insert((e.clone(), op.clone()));
                    edges.insert((node(u), e));
                }
                None => {
                    edges.insert((node(u), op.clone()));
                }
            }
        }
    }
    Expected { tensors: tensors.len(), operations: operations.len(), earlier: earlier.len(), edges: edges.len() }
}

const TENSOR_CLASSES: [&str; 6] = ["input", "target", "param", "const", "equation", "loss"];

fn examples() -> Vec<PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(common::example("")).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    assert!(out.len() >= 20);
    out
}

fn graph_dot(model: &Model, grad: bool) -> String {
    let derivation = nnderive::derive::derive(model);
    render::graph::dot::dot(&render::graph::build(model, &derivation, grad))
}

/// Every example's graph: one node per tensor (a sequence once), one per
/// equation, one per earlier step a recurrence reads, and an edge from each
/// operand to its operation and from each operation to its result; nothing
/// else. Checked from the DOT text, read back by a parser of its own.
#[test]
fn every_example_has_a_node_per_tensor_and_operation() {
    for path in examples() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let dot = parse_dot(&graph_dot(&model, false));
        let want = expected(&model);
        let tensors: usize = TENSOR_CLASSES.iter().map(|c| dot.count(c)).sum();
        assert_eq!(tensors, want.tensors + want.earlier, "{name}: tensor nodes");
        assert_eq!(dot.count("operation"), want.operations, "{name}: operations");
        assert_eq!(dot.nodes.len(), want.tensors + want.earlier + want.operations, "{name}: no other nodes");
        assert_eq!(dot.edges.len(), want.edges, "{name}: edges");
        // Each role as the file declares it: parameters, inputs, the one loss.
        assert_eq!(dot.count("loss"), 1, "{name}");
        if model.time.is_none() {
            assert_eq!(dot.count("param"), model.params().count(), "{name}");
            assert_eq!(dot.count("input"), model.ids().filter(|&i| model.tensor(i).role == Role::Input).count());
            assert_eq!(dot.count("equation") + 1, model.equations().count(), "{name}");
        }
        // A recurrence: each loop carries the steps it serves and T.
        for (from, to) in dot.edges_of("recurrent") {
            let label = dot.edges.iter().find(|e| e.0 == from && e.1 == to).unwrap().2.get("label");
            let last = model.time.as_ref().unwrap().last;
            assert!(label.ends_with(&format!("(T = {last})")), "{name}: loop label {label:?}");
        }
    }
}

/// With `--grad`: each error term and each parameter's gradient beside its
/// node, written as `nnderive derive` writes it, and the backward flow
/// drawn on exactly the edges between a parameter and the loss.
#[test]
fn every_example_shows_its_gradients_beside_their_nodes() {
    for path in examples() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let dot = parse_dot(&graph_dot(&model, true));
        let derivation = nnderive::derive::derive(&model);
        let derive_text = render::text::derivation(&model, &derivation);
        let names = render::formula::Names::new(&model, Some(&derivation));
        let loss = names.tensor(model.loss, render::formula::Notation::Text);

        let notes: Vec<(&String, &Item)> = dot.nodes.iter().filter(|(_, n)| n.get("class") == "gradient").collect();
        // Compared with the runs of spaces that align the text's columns closed up.
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        // What the derivation states: each line `lhs = …`, and each line
        // that continues one (`= …`) read with its left-hand side, as a
        // quantity's last step states it once (no line repeats it).
        let mut derive_lines: Vec<String> = Vec::new();
        let mut lhs = String::new();
        for line in derive_text.lines().map(words) {
            match line.strip_prefix("= ") {
                Some(rest) => derive_lines.push(format!("{lhs} = {rest}")),
                None => {
                    if let Some((l, _)) = line.split_once(" = ") {
                        lhs = l.to_string();
                    }
                    derive_lines.push(line);
                }
            }
        }
        for (_, note) in &notes {
            let first = words(note.get("label").lines().next().unwrap());
            assert!(
                derive_lines.iter().any(|l| l.starts_with(&first)),
                "{name}: {first:?} is not a line of the derivation:\n{derive_text}"
            );
        }
        for p in model.params() {
            let prefix = format!("∂{loss}/∂{} = ", names.tensor(p, render::formula::Notation::Text));
            let n = notes.iter().filter(|(_, n)| n.get("label").starts_with(&prefix)).count();
            assert_eq!(n, 1, "{name}: one note for {prefix}");
        }
        // An embedding lookup straight into the loss has no error term.
        let has_delta = derivation
            .defined
            .iter()
            .any(|&s| matches!(derivation.symbol(s).kind, nnderive::derive::SymbolKind::Delta { .. }));
        if has_delta {
            assert!(notes.len() > model.params().count(), "{name}: error terms too");
        }
        // Each note hangs off one node, in its rank.
        let beside = dot.edges_of("beside");
        assert_eq!(beside.len(), notes.len(), "{name}");
        for (owner, note) in &beside {
            assert_eq!(dot.class(note), "gradient");
            assert!(dot.same_rank.iter().any(|g| g[0] == *owner && g.contains(&note.to_string())), "{name}");
        }

        // The backward flow, worked out from the forward edges read back.
        let forward: Vec<(&str, &str)> = dot
            .edges
            .iter()
            .filter(|e| matches!(e.2.get("class"), "" | "recurrent"))
            .map(|e| (e.0.as_str(), e.1.as_str()))
            .collect();
        let params: Vec<&str> = dot.nodes.keys().filter(|id| dot.class(id) == "param").map(String::as_str).collect();
        let loss_node: Vec<&str> = dot.nodes.keys().filter(|id| dot.class(id) == "loss").map(String::as_str).collect();
        let from_params = reach(&forward, params, false);
        let to_loss = reach(&forward, loss_node, true);
        let mut want: Vec<(&str, &str)> = forward
            .iter()
            .filter(|(a, b)| from_params.contains(a) && to_loss.contains(b))
            .map(|&(a, b)| (b, a))
            .collect();
        let mut got = dot.edges_of("backward");
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}: the backward flow");
        assert!(!got.is_empty(), "{name}");
    }
}

/// The nodes reachable from `seeds` along `edges` (against them with `reverse`).
fn reach<'a>(edges: &[(&'a str, &'a str)], seeds: Vec<&'a str>, reverse: bool) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut work = seeds;
    while let Some(v) = work.pop() {
        if seen.insert(v) {
            for &(a, b) in edges {
                let (from, to) = if reverse { (b, a) } else { (a, b) };
                if from == v {
                    work.push(to);
                }
            }
        }
    }
    seen
}

/// A recurrence is drawn as one step whatever T is: the same nodes for 3
/// steps as for 50, and no step drawn on its own.
#[test]
fn a_recurrence_is_one_step_for_any_length() {
    let text = |steps: u32| {
        format!(
            "steps t = 1..{steps}\ninput x[t][2]\ntarget y[t][2]\nconst h[0][3]\nparam Wxh[3,2]\nparam Whh[3,3]\n\
             param bh[3]\nparam Why[2,3]\nparam by[2]\nh[t] = tanh(Wxh @ x[t] + Whh @ h[t-1] + bh)\n\
             yhat[t] = softmax(Why @ h[t] + by)\nloss L = sum(cross_entropy(y[t], yhat[t]) for t)\n"
        )
    };
    let read = |steps: u32| {
        let model = nnderive::load(&nnderive::Source::new("rnn.nn", text(steps))).unwrap();
        parse_dot(&graph_dot(&model, false))
    };
    let (three, fifty) = (read(3), read(50));
    assert_eq!(three.nodes.len(), fifty.nodes.len());
    assert_eq!(three.edges.len(), fifty.edges.len());
    // x_t, y_t, h₀, five parameters, h_t, ŷ_t, L, h_{t−1}, and the
    // pre-activations nnderive names, zh_t and zy_t; five operations.
    assert_eq!(fifty.nodes.len(), 14 + 5);
    let labels: Vec<&str> = fifty.nodes.values().map(|n| n.get("label")).collect();
    for name in ["<B>h_t</B>", "<B>h_{t−1}</B>", "<B>h₀</B>", "<B>x_t</B>", "<B>ŷ_t</B>", "<B>zh_t</B>"] {
        assert_eq!(labels.iter().filter(|l| l.contains(name)).count(), 1, "{name} once");
    }
    assert!(!labels.iter().any(|l| l.contains("h₂") || l.contains("h_T")), "{labels:?}");
    let loop_label: Vec<&str> =
        fifty.edges.iter().filter(|e| e.2.get("class") == "recurrent").map(|e| e.2.get("label")).collect();
    assert_eq!(loop_label, ["t = 2..T (T = 50)"]);
    let first: Vec<&str> = fifty.edges.iter().map(|e| e.2.get("label")).filter(|l| *l == "t = 1").collect();
    assert_eq!(first.len(), 1, "h₀ feeds h_{{t−1}} at t = 1");

    // A many-to-one network reads the last step only; an LSTM has two loops.
    let example =
        |name: &str| parse_dot(&graph_dot(&nnderive::load(&common::source(&common::example(name))).unwrap(), false));
    let many_to_one = example("rnn_many_to_one.nn");
    let labels: Vec<&str> = many_to_one.edges.iter().map(|e| e.2.get("label")).filter(|l| !l.is_empty()).collect();
    assert_eq!(labels, ["t = T", "t = 1", "t = 2..T (T = 3)"]);
    let lstm = example("lstm.nn");
    assert_eq!(lstm.edges_of("recurrent").len(), 2, "h_t → h_{{t−1}} and c_t → c_{{t−1}}");
}

/// Names and shapes that DOT would misread are escaped: the labels read
/// back are the names, Unicode included.
#[test]
fn labels_survive_escaping() {
    let model = nnderive::load(&nnderive::Source::new(
        "net.nn",
        "input x[2]\ntarget y[2]\nparam W[2,2]\nyhat = softmax(W @ x)\nloss L = cross_entropy(y, yhat)\n",
    ))
    .unwrap();
    let dot = parse_dot(&graph_dot(&model, true));
    let labels: Vec<&str> = dot.nodes.values().map(|n| n.get("label")).collect();
    assert!(labels.iter().any(|l| l.contains("<B>ŷ</B>")), "{labels:?}");
    assert!(labels.contains(&"cross_entropy(y, ŷ)"), "{labels:?}");
    assert!(labels.contains(&"∂L/∂W = δ1 xᵀ"), "{labels:?}");
    let escaped = render::graph::dot::quoted("a \"quoted\" \\ name");
    assert_eq!(tokens(&escaped), [Token::Quoted("a \"quoted\" \\ name".into())]);
}

#[test]
fn dot_of_the_assignment_and_the_rnn() {
    common::settings().bind(|| {
        for (name, grad) in [("assignment4", false), ("assignment4", true), ("rnn", false)] {
            let model = nnderive::load(&common::source(&common::example(&format!("{name}.nn")))).unwrap();
            let suffix = if grad { "_grad" } else { "" };
            insta::assert_snapshot!(format!("graph_dot@{name}{suffix}"), graph_dot(&model, grad));
        }
    });
}

// ---- Graphviz ----------------------------------------------------------------

/// Says that a check was skipped, on the terminal itself.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED (the test passes without it): {why}");
}

fn graphviz() -> bool {
    let found = Command::new("dot").arg("-V").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "Graphviz's dot is missing in CI: .ci/run should have installed graphviz"
        );
        skipped("Graphviz's dot not found; graphs not drawn (apt-get install graphviz)");
    }
    found
}

fn run_dot(format: &str, input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Graphviz draws every example's graph, with and without the backward
/// flow, without a warning, and finds in it the nodes and edges read above.
#[test]
fn graphviz_draws_every_example() {
    if !graphviz() {
        return;
    }
    for path in examples() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        for grad in [false, true] {
            let text = graph_dot(&model, grad);
            let svg = run_dot("svg", &text);
            assert!(svg.status.success(), "{name}: {}", String::from_utf8_lossy(&svg.stderr));
            assert!(svg.stderr.is_empty(), "{name}: Graphviz warns: {}", String::from_utf8_lossy(&svg.stderr));
            assert!(String::from_utf8_lossy(&svg.stdout).contains("<svg"), "{name}");
            let plain = String::from_utf8(run_dot("plain", &text).stdout).unwrap();
            let dot = parse_dot(&text);
            assert_eq!(plain.lines().filter(|l| l.starts_with("node ")).count(), dot.nodes.len(), "{name}");
            assert_eq!(plain.lines().filter(|l| l.starts_with("edge ")).count(), dot.edges.len(), "{name}");
        }
    }
}

// ---- the command line ----------------------------------------------------------

fn nnderive(args: &[&str], path_env: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nnderive"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(p) = path_env {
        command.env("PATH", p);
    }
    command.output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnderive-graph-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Without Graphviz, asking for SVG is an error that names the package,
/// exit 1, and nothing is written: not the output file, not a temporary one.
#[test]
fn svg_without_graphviz_is_a_clear_error_and_writes_nothing() {
    let dir = scratch("missing");
    let out = dir.join("net.svg");
    std::fs::write(&out, "old").unwrap();
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let run = nnderive(
        &["graph", "grammar/examples/assignment4.nn", "-o", out.to_str().unwrap()],
        Some(empty.to_str().unwrap()),
    );
    assert_eq!(run.status.code(), Some(1));
    // As docs/graph.md shows it.
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "error: cannot draw the SVG: Graphviz's `dot` program was not found on the PATH\n  \
         = help: install Graphviz (Debian and Ubuntu: `apt-get install graphviz`), or write the graph as DOT with `--format dot`\n"
    );
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old", "the old file is left as it was");
    assert_eq!(files_in(&dir), ["empty-path", "net.svg"]);
    // To standard output alike.
    let run = nnderive(&["graph", "grammar/examples/rnn.nn", "--format", "svg"], Some(empty.to_str().unwrap()));
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stdout.is_empty());
    // A Markdown document that asks for the graph: nothing written either.
    let doc = dir.join("doc.md");
    let run = nnderive(
        &["solve", "grammar/examples/assignment4.nn", "--format", "markdown", "--graph", "-o", doc.to_str().unwrap()],
        Some(empty.to_str().unwrap()),
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("apt-get install graphviz"));
    assert_eq!(files_in(&dir), ["empty-path", "net.svg"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-o net.svg` draws SVG; `-o net.dot` and standard output write DOT; a
/// bad file is the usual located error.
#[test]
fn graph_writes_dot_or_svg() {
    let run = nnderive(&["graph", "grammar/examples/assignment4.nn"], None);
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("digraph network {\n"));
    let dir = scratch("formats");
    let dot_file = dir.join("net.dot");
    let run = nnderive(&["graph", "grammar/examples/assignment4.nn", "--grad", "-o", dot_file.to_str().unwrap()], None);
    assert!(run.status.success() && run.stdout.is_empty());
    let model = nnderive::load(&common::source(&common::example("assignment4.nn"))).unwrap();
    assert_eq!(std::fs::read_to_string(&dot_file).unwrap(), graph_dot(&model, true));
    if graphviz() {
        let svg_file = dir.join("net.svg");
        let run = nnderive(&["graph", "grammar/examples/rnn.nn", "-o", svg_file.to_str().unwrap()], None);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let svg = std::fs::read_to_string(&svg_file).unwrap();
        assert!(svg.contains("<svg") && svg.contains("h_{t−1}"), "{svg}");
        // The kinds, for style sheets.
        assert!(svg.contains("class=\"node param\"") && svg.contains("class=\"edge recurrent\""), "{svg}");
    }
    let bad = dir.join("bad.nn");
    std::fs::write(&bad, "input x[2]\nZ = W @ x\n").unwrap();
    let run = nnderive(&["graph", bad.to_str().unwrap()], None);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).starts_with("error: unknown name 'W'"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--graph` belongs to documents: with text or JSON, or a file of its own
/// with LaTeX, it is a usage error (exit 2).
#[test]
fn solve_graph_is_for_documents() {
    for args in [
        vec!["solve", "grammar/examples/assignment4.nn", "--graph"],
        vec!["solve", "grammar/examples/assignment4.nn", "--format", "json", "--graph"],
        vec!["solve", "grammar/examples/assignment4.nn", "--format", "latex", "--graph=g.svg"],
    ] {
        let run = nnderive(&args, None);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&run.stderr).starts_with("error: --graph"), "{args:?}");
        assert!(run.stdout.is_empty());
    }
}

/// Markdown: the SVG embedded, or written beside the document and linked
/// relative to the document's folder.
#[test]
fn markdown_embeds_or_links_the_svg() {
    if !graphviz() {
        return;
    }
    use base64::Engine;
    let run = nnderive(&["solve", "grammar/examples/rnn.nn", "--format", "markdown", "--round", "4", "--graph"], None);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let md = String::from_utf8(run.stdout).unwrap();
    let start = md.find("![The computational graph of the network](data:image/svg+xml;base64,").expect("an image");
    let data = &md[start..];
    let data = &data[data.find(',').unwrap() + 1..data.find(')').unwrap()];
    let svg = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("ŷ_t"));
    // After the forward pass, before the values.
    assert!(md.find("## 1. Forward pass").unwrap() < start && start < md.find("## 2.").unwrap());

    let dir = scratch("link");
    std::fs::create_dir_all(dir.join("docs/pictures")).unwrap();
    let doc = dir.join("docs/answer.md");
    let svg_file = dir.join("docs/pictures/my net.svg");
    let run = nnderive(
        &[
            "solve",
            "grammar/examples/assignment4.nn",
            "--format",
            "markdown",
            &format!("--graph={}", svg_file.display()),
            "-o",
            doc.to_str().unwrap(),
        ],
        None,
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let md = std::fs::read_to_string(&doc).unwrap();
    assert!(md.contains("![The computational graph of the network](pictures/my%20net.svg)"), "{md}");
    assert!(std::fs::read_to_string(&svg_file).unwrap().contains("<svg"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- LaTeX -------------------------------------------------------------------

/// Every example's LaTeX document with `--graph` compiles with pdflatex,
/// shell escape off: the picture is TikZ, placed by nnderive, so no
/// Graphviz is needed. The picture has one node per graph node (and the
/// legend's) and one arrow per edge.
#[test]
fn latex_graph_compiles_without_graphviz() {
    let tikz = Command::new("kpsewhich").arg("tikz.sty").output().is_ok_and(|o| o.status.success());
    if !tikz {
        assert!(std::env::var("CI").is_err(), "pdflatex with TikZ is missing in CI: .ci/run installs texlive-pictures");
        skipped("pdflatex or tikz.sty not found; LaTeX graphs not compiled (apt-get install texlive-pictures)");
        return;
    }
    let dir = scratch("latex");
    let mut compiled = 0;
    for path in examples() {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let Ok(solution) = nnderive::solve(&model) else { continue };
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let graph = render::graph::build(&model, &solution.derivation, false);
        let picture = render::graph::tikz::picture(&graph);
        let nodes = picture.lines().filter(|l| l.starts_with("\\node[") && !l.contains("(legend")).count();
        assert_eq!(nodes, graph.nodes.len(), "{stem}");
        let arrows = picture.lines().filter(|l| l.starts_with("\\draw[->") && !l.contains("legend")).count();
        assert_eq!(arrows, graph.edges.len(), "{stem}");
        let figure = render::document::Figure { graph, svg: None };
        let document = render::latex::document_with_figure(&model, &solution, Some(4), Some(figure), Vec::new());
        assert!(document.contains("\\begin{tikzpicture}") && !document.contains("includegraphics"));
        std::fs::write(dir.join(format!("{stem}.tex")), &document).unwrap();
        let out = Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"])
            .arg(format!("{stem}.tex"))
            .current_dir(&dir)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stem} does not compile:\n{log}");
        assert!(!log.contains("Overfull \\hbox"), "{stem} runs past the margin:\n{log}");
        compiled += 1;
    }
    assert!(compiled >= 20, "{compiled}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The graph is the same for any values: drawn from the shapes alone.
#[test]
fn the_graph_needs_no_values() {
    let with: HashMap<bool, String> = [true, false]
        .into_iter()
        .map(|given| {
            let text = if given {
                "input x[2] = [1, 2]\ntarget y[1] = [1]\nparam W[1,2] = [[1, 1]]\nz = W @ x\nloss L = 0.5 * sum((y - z)^2)\n"
            } else {
                "input x[2]\ntarget y[1]\nparam W[1,2]\nz = W @ x\nloss L = 0.5 * sum((y - z)^2)\n"
            };
            (given, graph_dot(&nnderive::load(&nnderive::Source::new("n.nn", text)).unwrap(), true))
        })
        .collect();
    assert_eq!(with[&true], with[&false]);
}
