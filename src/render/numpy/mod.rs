//! `--format numpy`: the worked solution as one self-contained Python file
//! that needs NumPy only. It computes every value by the formulas the
//! derivation gives (each line under the formula it computes, as nnderive
//! prints it), never by automatic differentiation: the given values, the
//! forward pass and the loss, every error term, every gradient, then the
//! training steps with the optimizer's state. Run, it prints its values as
//! JSON under the keys of `solve --format json` (`given`, `forward`,
//! `loss`, `deltas`, `gradients`, `updated`, `history`; values only) and
//! checks them against the values nnderive computed, which the file
//! carries at its end (left out with `--bare`).
//!
//! The file computes in float64, as NumPy does: the given numbers are
//! written as the nearest float64 (Rust's shortest round-trip spelling,
//! which Python reads back to the same float), and constants of the
//! formulas as integers, decimals or quotients of integers, which Python
//! rounds correctly. Fractions would have to become floats at the first
//! NumPy operation anyway, so the file holds none.
//!
//! One more writer over the same structured solution as the others: the
//! order of the sections and of the keys is the outline's, and each
//! expression is the derivation's graph node mapped to NumPy in `code`.

mod code;
mod helpers;
mod names;
mod plan;

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::eval::tensor::Tensor;
use crate::eval::{Solution, Training};
use crate::model::{Model, Node, NodeId, NodeMap, Optimizer, TensorId};

use super::formula::{formula, Names, Notation};
use super::outline::{outline, WorkedSolution};
use helpers::Helper;
use names::PyNames;

/// Two values agree when they differ by at most this, relative (see [`CHECK`]).
pub const TOLERANCE: f64 = 1e-9;

/// The exported file of `model`'s solution; `file_name` is the `.nn` file's
/// name, for the file's heading. `bare` leaves out the values nnderive
/// computed and the check against them. Values left open are an error
/// that names each one: the file computes with numbers only.
pub fn export(model: &Model, solution: &Solution, file_name: &str, bare: bool) -> Result<String, crate::eval::Error> {
    crate::eval::require_values(model, "a NumPy export")?;
    let d = &solution.derivation;
    let names = Names::new(model, Some(d));
    let py = PyNames::new(model, d);
    let aliases: NodeMap<TensorId> = model
        .equations()
        .filter_map(|t| model.tensor(t).definition.map(|def| (def, t)))
        .filter(|(def, _)| !matches!(model.graph.node(*def), Node::Tensor(_) | Node::Const(_)))
        .collect();
    let c = plan::Context { model, d, names: &names, py: &py, aliases: &aliases };
    let o = outline(model, solution, None);
    let mut out = String::new();
    heading(&mut out, file_name, bare);
    given(&mut out, &o, &py);
    functions(&mut out, model, d, &names, &py);
    backprop(&mut out, &c, &o);
    if let Some(train) = &solution.training {
        training(&mut out, model, train, &names);
    }
    let used = used_helpers(model, d);
    out.push_str("\n\n# ---- The built-in functions, as nnderive defines them ----\n");
    for h in &used {
        out.push_str("\n\n");
        out.push_str(helpers::source(*h));
    }
    reporting(&mut out, &o, bare);
    if !bare {
        expected(&mut out, &o, solution);
    }
    out.push_str("\n\nif __name__ == \"__main__\":\n    main()\n");
    Ok(out)
}

fn heading(out: &mut String, file_name: &str, bare: bool) {
    let file_name = file_name.replace('\\', "/").replace("\"\"\"", "'''");
    let _ = writeln!(out, "#!/usr/bin/env python3");
    let _ = writeln!(out, "\"\"\"{file_name}: its worked solution in NumPy, by the formulas nnderive derived.");
    out.push_str(
        "\nWritten by `nnderive solve --format numpy`. Every value is computed by the\n\
         formula written above its line (the derivation's formula, not automatic\n\
         differentiation). Vectors are columns (n×1 arrays), as in the derivation;\n\
         ⊙ is `*`, a matrix product is `@`, and xᵀ is `x.T`.\n\n",
    );
    if bare {
        out.push_str("Run it with `python3` to print every value as JSON, under the keys of\n`nnderive solve --format json`.\n\"\"\"\n");
    } else {
        out.push_str(
            "Run it with `python3` to print every value as JSON, under the keys of\n\
             `nnderive solve --format json`, and to check each against the value nnderive\n\
             computed (kept at the end of this file): it exits with status 1, naming the\n\
             worst entry, if any differs by more than 1e-9 relative (see `check`).\n\"\"\"\n",
        );
    }
    out.push_str("import json\nimport math\nimport sys\n\nimport numpy as np\n");
}

/// A float64 as Python reads it back exactly.
fn float(x: f64) -> String {
    format!("{x:?}")
}

/// A tensor's entries as a Python expression: a number, `column([…])`, or
/// `np.array([…])` with one row (or one matrix of a map) per line.
fn literal(t: &Tensor) -> String {
    let v = t.to_f64_vec();
    let dims = t.dims();
    let row = |xs: &[f64]| format!("[{}]", xs.iter().map(|&x| float(x)).collect::<Vec<_>>().join(", "));
    match dims {
        [] => float(v.first().copied().unwrap_or(0.0)),
        [_] => format!("column({})", row(&v)),
        _ if dims.contains(&0) => format!("np.zeros({})", code::numpy_dims(dims)),
        // Past a kernel bank's four dims, one flat list, laid out by NumPy
        // (Python's parser takes only so many nested brackets).
        _ if dims.len() > 4 => format!("np.array({}).reshape({})", row(&v), code::numpy_dims(dims)),
        _ => {
            let inner: usize = dims[1..].iter().product::<usize>().max(1);
            let mut text = String::from("np.array(\n    [\n");
            for chunk in v.chunks(inner) {
                let _ = writeln!(text, "        {},", nested(chunk, &dims[1..]));
            }
            text.push_str("    ]\n)");
            text
        }
    }
}

/// Entries in row-major order as nested lists of the shape `dims`, built
/// from the innermost rows out (a loop over the dims, not a recursion).
fn nested(v: &[f64], dims: &[usize]) -> String {
    let Some((&last, outer)) = dims.split_last() else {
        return float(v.first().copied().unwrap_or(0.0));
    };
    let row = |xs: &[f64]| format!("[{}]", xs.iter().map(|&x| float(x)).collect::<Vec<_>>().join(", "));
    let mut level: Vec<String> = v.chunks(last.max(1)).map(row).collect();
    for &n in outer.iter().rev() {
        level = level.chunks(n.max(1)).map(|c| format!("[{}]", c.join(", "))).collect();
    }
    level.pop().unwrap_or_default()
}

fn shape_text(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The declared tensors with their values, in file order; the steps of a
/// sequence as one dict by step.
fn given(out: &mut String, o: &WorkedSolution, py: &PyNames) {
    out.push_str("\n\ndef column(entries):\n    \"\"\"A vector [n] of the derivation: an n×1 array.\"\"\"\n    return np.array(entries, dtype=float).reshape(-1, 1)\n");
    out.push_str("\n\n# ---- Given values (the parameters at their values before training) ----\n");
    let model = o.model;
    let mut done: BTreeSet<String> = BTreeSet::new();
    for item in &o.given {
        let t = model.tensor(item.tensor);
        let (base, step) = py.tensor_base(item.tensor);
        match step {
            None => {
                let _ = writeln!(out, "\n# {} {}{}", t.role.name(), t.name, shape_text(t.shape.dims()));
                let _ = writeln!(out, "{base} = {}", literal(item.value));
            }
            Some(_) if done.insert(base.to_string()) => {
                let members: Vec<_> = o
                    .given
                    .iter()
                    .filter(|g| py.tensor_base(g.tensor).0 == base && py.tensor_base(g.tensor).1.is_some())
                    .collect();
                let _ = writeln!(
                    out,
                    "\n# {} {}, one {} per step",
                    t.role.name(),
                    crate::model::time::split_step(&t.name).map_or(t.name.as_str(), |(b, _)| b),
                    shape_text(t.shape.dims())
                );
                let _ = writeln!(out, "{base} = {{");
                for g in members {
                    let k = py.tensor_base(g.tensor).1.unwrap_or(0);
                    let text = literal(g.value).replace('\n', "\n    ");
                    let _ = writeln!(out, "    {k}: {text},");
                }
                out.push_str("}\n");
            }
            Some(_) => {}
        }
    }
    // The initial parameters and the given values by their keys in JSON.
    let params: Vec<TensorId> = model.params().collect();
    let entries: Vec<String> =
        params.iter().map(|&p| format!("    {}: {},", json_key(model, p), py.tensor(p, None))).collect();
    let _ = write!(
        out,
        "\n# The parameters by name, at their given values.\nPARAMETERS = {{\n{}\n}}\n",
        entries.join("\n")
    );
    let given: Vec<String> =
        o.given.iter().map(|g| format!("    {}: {},", json_key(model, g.tensor), py.tensor(g.tensor, None))).collect();
    let _ = write!(out, "# Every given value by name.\nGIVEN = {{\n{}\n}}\n", given.join("\n"));
}

/// A tensor's name as a Python string: its key in the JSON.
fn json_key(model: &Model, t: TensorId) -> String {
    py_string(&model.tensor(t).name)
}

fn py_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Each custom function and its derivatives, in file order.
fn functions(out: &mut String, model: &Model, d: &crate::derive::Derivation, names: &Names, py: &PyNames) {
    let rows = super::outline::function_rows(model, d);
    if rows.is_empty() {
        return;
    }
    out.push_str("\n\n# ---- The file's functions and their derivatives (entry by entry) ----\n");
    let lines = super::text::function_lines(model, d, names);
    for (row, (lhs, body)) in rows.iter().zip(lines) {
        let func = match row.derivative {
            None => crate::model::Func::Custom(row.func),
            Some(wrt) => crate::model::Func::Derivative { func: row.func, wrt },
        };
        let params = py.params(row.func);
        let printer = code::Printer { model, graph: &d.graph, names: py, aliases: None, now: None, params };
        let printed = printer.print(row.body, false);
        let uses_params = d.graph.nodes_under(&[row.body]).iter().any(|&n| matches!(d.graph.node(n), Node::Param(_)));
        // A constant body is spread over the shape of the arguments, as
        // nnderive spreads it.
        let value = match uses_params {
            true => printed.text,
            false => format!("np.full(np.broadcast({}).shape, {})", broadcast_args(params), printed.text),
        };
        let _ = write!(
            out,
            "\n\ndef {}({}):\n    # {lhs} = {body}\n    return {value}\n",
            py.function(func),
            params.join(", ")
        );
    }
}

/// The arguments of `np.broadcast`, which needs at least two.
fn broadcast_args(params: &[String]) -> String {
    match params {
        [one] => format!("{one}, {one}"),
        _ => params.join(", "),
    }
}

/// The helpers every formula of the solution calls.
fn used_helpers(model: &Model, d: &crate::derive::Derivation) -> BTreeSet<Helper> {
    let mut roots: Vec<NodeId> = model.equations().filter_map(|t| model.tensor(t).definition).collect();
    roots.extend(model.functions.values().map(|f| f.body));
    roots.extend(d.fn_derivatives.iter().map(|f| f.body));
    roots.extend(d.defined_symbols().map(|s| s.formula));
    roots.extend(d.gradients.iter().map(|g| g.formula));
    helpers::used(&d.graph, &roots)
}

/// `backprop(…)`: the forward pass, the loss, the error terms and the
/// gradients at the parameters given, returned by their keys in JSON.
fn backprop(out: &mut String, c: &plan::Context, o: &WorkedSolution) {
    let model = c.model;
    let mut args: Vec<String> = Vec::new();
    for p in model.params() {
        let (base, _) = c.py.tensor_base(p);
        if !args.iter().any(|a| a == base) {
            args.push(base.to_string());
        }
    }
    let _ = write!(
        out,
        "\n\ndef backprop({}):\n    \"\"\"One forward and backward pass at the parameters given: every value, by name.\"\"\"\n",
        args.join(", ")
    );
    out.push_str("    # ---- Forward pass and loss ----\n");
    plan::write(&plan::forward(c), 1, out);
    out.push_str("\n    # ---- Error terms ----\n");
    plan::write(&plan::error_terms(c), 1, out);
    out.push_str("\n    # ---- Gradients ----\n");
    plan::write(&plan::gradients(c), 1, out);
    let forward: Vec<String> = o
        .forward
        .iter()
        .filter(|eq| eq.tensor != model.loss)
        .map(|eq| format!("            {}: {},", json_key(model, eq.tensor), c.py.tensor(eq.tensor, None)))
        .collect();
    // The error terms keyed as `solve --format json` keys them: a named
    // gradient stated in an error term's steps is computed, not listed.
    let deltas: Vec<String> = o
        .sections()
        .map(|term| {
            let key = formula(&c.d.graph, term.definition.node, c.names, Notation::Text);
            format!("            {}: {},", py_string(&key), c.py.symbol(term.symbol, None))
        })
        .collect();
    let gradients: Vec<String> = o
        .gradients
        .iter()
        .map(|g| format!("            {}: {},", json_key(model, g.param), c.py.gradient(g.param)))
        .collect();
    let _ = write!(
        out,
        "    return {{\n        \"forward\": {{\n{}\n        }},\n        \"loss\": {},\n        \"deltas\": {{\n{}\n        }},\n        \"gradients\": {{\n{}\n        }},\n    }}\n",
        forward.join("\n"),
        c.py.tensor(model.loss, None),
        deltas.join("\n"),
        gradients.join("\n"),
    );
    // The pass at parameters held by name, for training.
    let mut call: Vec<String> = Vec::new();
    for base in &args {
        let members: Vec<TensorId> = model.params().filter(|&p| c.py.tensor_base(p).0 == base).collect();
        let one = members.first().copied();
        match (members.len(), one.and_then(|p| c.py.tensor_base(p).1)) {
            (1, None) => call.push(format!("P[{}]", json_key(model, members[0]))),
            _ => {
                let steps: Vec<String> = members
                    .iter()
                    .map(|&p| format!("{}: P[{}]", c.py.tensor_base(p).1.unwrap_or(0), json_key(model, p)))
                    .collect();
                call.push(format!("{{{}}}", steps.join(", ")));
            }
        }
    }
    let _ = write!(
        out,
        "\n\ndef backprop_at(P):\n    \"\"\"`backprop` at the parameters `P`, a dict by name.\"\"\"\n    return backprop({})\n",
        call.join(", ")
    );
}

/// A number of the training step as Python writes it.
fn setting(r: &num_rational::BigRational) -> String {
    let t = Tensor::scalar_exact(r.clone());
    match super::formula::terminating_decimal(r) {
        Some(d) => d,
        None => float(t.entry_f64(0)),
    }
}

/// `train(solution)`: the optimizer's steps, each after a forward and
/// backward pass, with its state; the parameters after the last step and
/// the history of `solve --format json`.
fn training(out: &mut String, model: &Model, train: &Training, names: &Names) {
    let rule = super::training::rule_after(
        &train.optimizer,
        super::training::taken(model),
        super::formula::any_parameter(model, Notation::Text),
        &names.tensor(model.loss, Notation::Text),
        Notation::Text,
    );
    let detailed = !train.history.is_empty();
    let loss = json_key(model, model.loss);
    let _ = write!(
        out,
        "\n\ndef train(solution):\n    \"\"\"{}, {} step{}: for every parameter P, at step k = 1, 2, …:\n",
        super::training::title(&train.optimizer),
        train.steps,
        if train.steps == 1 { "" } else { "s" },
    );
    for line in &rule {
        let _ = writeln!(out, "        {} = {}", line.lhs, line.rhs);
    }
    out.push_str("    Returns the parameters after the last step and the loss (and, for a small\n    network, the parameters, gradients and state) after each step.\"\"\"\n");
    out.push_str("    P = dict(PARAMETERS)\n");
    let _ = writeln!(out, "    lr = {}", setting(&train.lr));
    for (s, value) in train.optimizer.settings() {
        let _ = writeln!(out, "    {} = {}", s.name, setting(value));
    }
    let quantities = train.optimizer.quantities();
    let kept: Vec<&str> = quantities.iter().filter(|q| q.kept()).map(|q| q.key()).collect();
    if !kept.is_empty() {
        match model.train.as_ref().is_some_and(|t| !t.state.is_empty()) {
            true => out.push_str("    # The optimizer's state, from the given tensors (zeros where none is given).\n"),
            false => {
                let _ = writeln!(out, "    # The optimizer's state, from {} = 0.", kept.join(" = "));
            }
        }
        for key in &kept {
            let _ = writeln!(out, "    {key} = {{name: np.zeros_like(value) for name, value in P.items()}}");
        }
        for s in model.train.iter().flat_map(|t| &t.state) {
            let _ = writeln!(
                out,
                "    {}[{}] = np.array(GIVEN[{}], dtype=float)",
                s.quantity.key(),
                json_key(model, s.param),
                json_key(model, s.tensor)
            );
        }
    }
    // Adam's t: the updates taken before this run's first.
    let taken = model.train.as_ref().map_or(0, |t| t.taken);
    if taken > 0 {
        let _ = writeln!(out, "    t = {taken}");
    }
    let corrected: Vec<&str> = quantities.iter().filter(|q| !q.kept()).map(|q| q.key()).collect();
    for key in &corrected {
        let _ = writeln!(out, "    {key} = {{}}");
    }
    let first = if detailed { ", \"parameters\": named(P)" } else { "" };
    let _ = writeln!(out, "    history = [{{\"step\": 0, \"value\": as_json(solution[\"loss\"], {loss}){first}}}]");
    let _ = writeln!(out, "    for k in range(1, {}):", train.steps + 1);
    let _ = writeln!(out, "        # {} = {}", rule[0].lhs, rule[0].rhs);
    out.push_str("        g = solution[\"gradients\"]\n        for name in P:\n");
    let lines = update_lines(&train.optimizer);
    let lines: Vec<String> = match taken {
        0 => lines.iter().map(|l| l.to_string()).collect(),
        _ => lines.iter().map(|l| l.replace("**k", "**(t + k)")).collect(),
    };
    for (line, code) in rule.iter().skip(1).zip(lines) {
        let _ = writeln!(out, "            # {} = {}", line.lhs, line.rhs);
        let _ = writeln!(out, "            {code}");
    }
    out.push_str("        solution = backprop_at(P)\n");
    let _ = writeln!(out, "        entry = {{\"step\": k, \"value\": as_json(solution[\"loss\"], {loss})}}");
    if detailed {
        out.push_str("        entry[\"parameters\"] = named(P)\n        entry[\"gradients\"] = named(g)\n");
        if !quantities.is_empty() {
            let mut per: Vec<String> = quantities
                .iter()
                .map(|q| format!("\"{0}\": {{\"value\": as_json({0}[name], name)}}", q.key()))
                .collect();
            if train.optimizer.counts_updates() {
                per.push(format!("\"t\": {}", if taken > 0 { "t + k" } else { "k" }));
            }
            let _ = writeln!(out, "        entry[\"state\"] = {{name: {{{}}} for name in P}}", per.join(", "));
        }
    }
    out.push_str("        history.append(entry)\n    return P, history\n");
}

/// The statements of one update of `P[name]` with its gradient `g[name]`,
/// one per line of the rule after the gradient, in the rule's order.
fn update_lines(optimizer: &Optimizer) -> Vec<&'static str> {
    match optimizer {
        Optimizer::Sgd => vec!["P[name] = P[name] - lr * g[name]"],
        Optimizer::Momentum { .. } => {
            vec!["v[name] = beta * v[name] - lr * g[name]", "P[name] = P[name] + v[name]"]
        }
        Optimizer::RmsProp { .. } => vec![
            "cache[name] = rho * cache[name] + (1 - rho) * g[name] * g[name]",
            "P[name] = P[name] - lr * g[name] / (np.sqrt(cache[name]) + eps)",
        ],
        Optimizer::Adam { .. } => vec![
            "m[name] = beta1 * m[name] + (1 - beta1) * g[name]",
            "v[name] = beta2 * v[name] + (1 - beta2) * g[name] * g[name]",
            "m_hat[name] = m[name] / (1 - beta1**k)",
            "v_hat[name] = v[name] / (1 - beta2**k)",
            "P[name] = P[name] - lr * m_hat[name] / (np.sqrt(v_hat[name]) + eps)",
        ],
    }
}

/// The check against nnderive's values, as Python (see [`TOLERANCE`]).
const CHECK: &str = r#"

def check(got, want, where=""):
    """Compares every number of `got` with nnderive's in `want`. An entry agrees when
    |got − want| ≤ 1e-9 · max(|want|, 0.001 · max(1, the largest |entry| of its tensor)):
    1e-9 relative, with entries near zero judged against a thousandth of their tensor's
    scale (float64 rounding leaves about 1e-16 of that scale where the exact value is 0).
    Returns how many numbers were compared and the worst entry: (relative difference,
    where, got, want)."""
    count, worst = 0, (0.0, where, None, None)
    if isinstance(want, dict):
        pairs = [(f"{where}.{key}" if where else key, key) for key in want]
        have = got if isinstance(got, dict) else {}
    elif isinstance(want, list):
        pairs = [(f"{where}[{i}]", i) for i in range(len(want))]
        have = dict(enumerate(got)) if isinstance(got, list) else {}
    else:
        return 0, worst
    for place, key in pairs:
        if key in ("name", "step"):
            entry = (0.0 if have.get(key) == want[key] else math.inf, place, have.get(key), want[key])
        elif key == "value":
            a = np.asarray(have.get(key, math.nan), dtype=float)
            b = np.asarray(want[key], dtype=float)
            count += b.size
            if a.shape != b.shape:
                entry = (math.inf, where, a.tolist(), b.tolist())
            elif b.size:
                allowed = np.maximum(np.abs(b), 0.001 * max(1.0, float(np.max(np.abs(b)))))
                ratio = np.abs(a - b) / allowed
                i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
                entry = (float(ratio[i]), where + "".join(f"[{j}]" for j in i), a[i].tolist(), b[i].tolist())
            else:
                entry = (0.0, where, None, None)
        else:
            n, entry = check(have.get(key), want[key], place)
            count += n
        if not entry[0] <= worst[0]:
            worst = entry
    return count, worst
"#;

/// `as_json`, `named`, `report`, `check` and `main`.
fn reporting(out: &mut String, o: &WorkedSolution, bare: bool) {
    let model = o.model;
    let mut shapes: Vec<String> = Vec::new();
    let mut key = |k: String, dims: &[usize]| shapes.push(format!("    {}: {},", py_string(&k), shape_text(dims)));
    for g in &o.given {
        key(model.tensor(g.tensor).name.clone(), model.tensor(g.tensor).shape.dims());
    }
    for eq in &o.forward {
        key(model.tensor(eq.tensor).name.clone(), model.tensor(eq.tensor).shape.dims());
    }
    for term in o.sections() {
        let k = formula(&o.derivation.graph, term.definition.node, &o.names, Notation::Text);
        key(k, term.definition.shape.dims());
    }
    let _ = write!(
        out,
        "\n\n# ---- The values as JSON, and the check against nnderive's ----\n\n# The shape of each value in `nnderive solve --format json`: [] a number, [n] a list.\nSHAPES = {{\n{}\n}}\n",
        shapes.join("\n")
    );
    out.push_str(
        r#"

def as_json(value, name):
    """A value as `nnderive solve --format json` writes it: a number, a list, or nested lists."""
    dims = SHAPES[name]
    shape = (dims[0], 1) if len(dims) == 1 else tuple(dims)
    return np.reshape(np.broadcast_to(np.asarray(value, dtype=float), shape), dims).tolist()


def to_text(value, indent=0):
    """JSON with each row of numbers on one line, as nnderive writes it."""
    pad = "  " * indent
    if isinstance(value, dict) and value:
        items = [f'{pad}  {json.dumps(k, ensure_ascii=False)}: {to_text(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(pad + "  " + to_text(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def named(values):
    """{name: {"value": …}} for values by name."""
    return {name: {"value": as_json(value, name)} for name, value in values.items()}


def report(solution, updated, history):
    """Every value under the keys of `nnderive solve --format json`."""
    return {
        "given": named(GIVEN),
        "forward": named(solution["forward"]),
"#,
    );
    let loss = json_key(model, model.loss);
    let _ = write!(
        out,
        "        \"loss\": {{\"name\": {loss}, \"value\": as_json(solution[\"loss\"], {loss})}},\n        \"deltas\": named(solution[\"deltas\"]),\n        \"gradients\": named(solution[\"gradients\"]),\n        \"updated\": named(updated),\n        \"history\": history,\n    }}\n"
    );
    if !bare {
        out.push_str(CHECK);
    }
    let train = match o.update {
        Some(_) => "    updated, history = train(solution)\n",
        None => "    updated, history = {}, []\n",
    };
    let _ = write!(
        out,
        "\n\ndef main():\n    solution = backprop_at(PARAMETERS)\n{train}    result = report(solution, updated, history)\n    print(to_text(result))\n"
    );
    if !bare {
        let _ = write!(
            out,
            r#"    count, (worst, where, got, want) = check(result, EXPECTED)
    if not worst <= {TOLERANCE:e}:
        print(f"{{where}} is {{got}}, and nnderive's value is {{want}}: they differ by {{worst:.1e}} relative, more than {TOLERANCE:e}", file=sys.stderr)
        sys.exit(1)
    place = f", at {{where}}" if worst > 0 else ""
    print(f"all {{count}} numbers agree with nnderive's to {TOLERANCE:e} relative (largest difference {{worst:.1e}}{{place}})", file=sys.stderr)
"#
        );
    }
}

/// `EXPECTED`: the values nnderive computed, in the JSON the file prints.
fn expected(out: &mut String, o: &WorkedSolution, solution: &Solution) {
    let model = o.model;
    let value = |t: &Tensor| json!({ "value": super::json::value(t, None) });
    let mut root = Map::new();
    let mut given = Map::new();
    for g in &o.given {
        given.insert(model.tensor(g.tensor).name.clone(), value(g.value));
    }
    root.insert("given".into(), Value::Object(given));
    let mut forward = Map::new();
    let mut loss = Value::Null;
    for eq in &o.forward {
        if eq.tensor == model.loss {
            loss = json!({"name": model.tensor(model.loss).name, "value": super::json::value(eq.value, None)});
        } else {
            forward.insert(model.tensor(eq.tensor).name.clone(), value(eq.value));
        }
    }
    root.insert("forward".into(), Value::Object(forward));
    root.insert("loss".into(), loss);
    let mut deltas = Map::new();
    for term in o.sections() {
        let key = formula(&o.derivation.graph, term.definition.node, &o.names, Notation::Text);
        deltas.insert(key, value(term.value));
    }
    root.insert("deltas".into(), Value::Object(deltas));
    let mut gradients = Map::new();
    for g in &o.gradients {
        gradients.insert(model.tensor(g.param).name.clone(), value(g.value));
    }
    root.insert("gradients".into(), Value::Object(gradients));
    let named = |pairs: &mut dyn Iterator<Item = (TensorId, &Tensor)>| -> Value {
        Value::Object(pairs.map(|(id, v)| (model.tensor(id).name.clone(), value(v))).collect())
    };
    let (updated, history) = match &solution.training {
        None => (Value::Object(Map::new()), Vec::new()),
        Some(train) => {
            let updated = named(&mut train.updated.iter().map(|(p, v)| (*p, v)));
            let mut history = Vec::new();
            let taken = model.train.as_ref().map_or(0, |t| t.taken);
            for (k, loss) in train.losses.iter().enumerate() {
                let mut entry = Map::new();
                entry.insert("step".into(), json!(k));
                entry.insert("value".into(), super::json::value(loss, None));
                if !train.history.is_empty() {
                    match k.checked_sub(1).and_then(|i| train.history.get(i)) {
                        None => {
                            let start =
                                solution.derivation.gradients.iter().map(|g| (g.param, solution.value(g.param)));
                            entry.insert("parameters".into(), named(&mut { start }));
                        }
                        Some(step) => {
                            entry.insert(
                                "parameters".into(),
                                named(&mut step.params.iter().map(|p| (p.param, &p.value))),
                            );
                            entry.insert(
                                "gradients".into(),
                                named(&mut step.params.iter().map(|p| (p.param, &p.gradient))),
                            );
                            let quantities = train.optimizer.quantities();
                            if !quantities.is_empty() {
                                let state: Map<String, Value> = step
                                    .params
                                    .iter()
                                    .map(|p| {
                                        let mut per: Map<String, Value> = quantities
                                            .iter()
                                            .zip(&p.quantities)
                                            .map(|(q, v)| (q.key().to_string(), value(v)))
                                            .collect();
                                        if train.optimizer.counts_updates() {
                                            per.insert("t".into(), json!(k as u64 + u64::from(taken)));
                                        }
                                        (model.tensor(p.param).name.clone(), Value::Object(per))
                                    })
                                    .collect();
                                entry.insert("state".into(), Value::Object(state));
                            }
                        }
                    }
                }
                history.push(Value::Object(entry));
            }
            (updated, history)
        }
    };
    root.insert("updated".into(), updated);
    root.insert("history".into(), Value::Array(history));
    let mut text = String::new();
    super::json::pretty(&Value::Object(root), 0, &mut text);
    out.push_str("\n\n# ---- What nnderive computed (`nnderive solve --format json`, values only) ----\n");
    let _ = write!(out, "EXPECTED = json.loads(\n    r\"\"\"\n{text}\n\"\"\"\n)\n");
}
