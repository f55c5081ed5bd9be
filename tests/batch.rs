//! Mini-batches: a batch's loss, error terms and gradients agree with its
//! examples taken one at a time (each a single-example network built here
//! from the batch file's own text, solved on its own, the results averaged),
//! in both layouts (examples as columns and as rows); broadcasting and the
//! sums along an axis agree with hand-computed values; batch networks pass
//! gradcheck; and the derivation reads as the textbook's batch form.

mod common;

use nnderive::eval::tensor::Tensor;
use nnderive::eval::Solution;
use nnderive::model::{Axis, Model, Role};
use nnderive::Source;
use num_rational::BigRational;

fn load(name: &str, text: &str) -> Model {
    nnderive::load(&Source::new(name, text)).unwrap_or_else(|e| panic!("{name}: {e:?}\n{text}"))
}

fn solve(name: &str, text: &str) -> (Model, Solution) {
    let model = load(name, text);
    let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{name}: {e:?}\n{text}"));
    (model, solution)
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs().max(y.abs())), "{what}[{i}]: {x} vs {y}");
    }
}

/// Row-major entries as a `.nn` literal of the given dims.
fn literal(values: &[String], dims: &[usize]) -> String {
    match dims {
        [] => values[0].clone(),
        [_] => format!("[{}]", values.join(", ")),
        [_, rest @ ..] => {
            let per: usize = rest.iter().product();
            let rows: Vec<String> = values.chunks(per).map(|chunk| literal(chunk, rest)).collect();
            format!("[{}]", rows.join(", "))
        }
    }
}

/// The lines of a file that are not declarations, comments, continuations
/// of a literal or the training step: its functions, equations and loss.
fn equations(text: &str) -> String {
    let declaration = ["input ", "target ", "param ", "const ", "train ", "#"];
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()) && !declaration.iter().any(|d| l.starts_with(d)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Example `n` of a batch file on its own: every declaration as the batch
/// has it, except that its inputs and targets (the matrices the examples
/// lie in, along `examples`) keep only example `n`, as a column `[d, 1]`
/// (axis 1) or a row `[1, d]` (axis 0), and class labels `[N]` only its
/// label; then the file's equations unchanged.
/// Shapes and the layout rule make it a single-example network: its softmax
/// works on a vector and its cross-entropy is one example's.
fn single_example(model: &Model, text: &str, examples: Axis, n: usize) -> String {
    let mut out = String::new();
    for t in model.tensors.values().filter(|t| t.role.is_data()) {
        let values: Vec<String> = t.exact_value().unwrap().iter().map(nnderive::eval::number::full_precision).collect();
        let dims = t.shape.dims().to_vec();
        let data = matches!(t.role, Role::Input | Role::Target);
        // Class labels, one per example: example n's label alone.
        if data && dims.len() == 1 {
            out.push_str(&format!("{} {} = {}\n", t.role.name(), t.name, values[n]));
            continue;
        }
        let batched = data && dims.len() == 2;
        let (values, dims) = match (batched, examples == Axis::ACROSS) {
            (false, _) => (values, dims),
            // Column n of [d, N]: entries n, n + N, n + 2N, …
            (true, true) => (values.iter().skip(n).step_by(dims[1]).cloned().collect(), vec![dims[0], 1]),
            (true, false) => (values[n * dims[1]..(n + 1) * dims[1]].to_vec(), vec![1, dims[1]]),
        };
        let shape: Vec<String> = dims.iter().map(usize::to_string).collect();
        let role = t.role.name();
        out.push_str(&format!("{role} {}[{}] = {}\n", t.name, shape.join(","), literal(&values, &dims)));
    }
    out.push_str(&equations(text));
    out
}

/// Column (or row) `n` of a matrix, along the examples' axis.
fn example_of(t: &Tensor, examples: Axis, n: usize) -> Vec<f64> {
    let v = t.to_f64_vec();
    let (rows, cols) = (t.dims()[0], t.dims()[1]);
    match examples == Axis::ACROSS {
        true => (0..rows).map(|i| v[i * cols + n]).collect(),
        false => v[n * cols..(n + 1) * cols].to_vec(),
    }
}

/// The batch's loss is the mean of its examples' losses, its gradients the
/// mean of theirs, and column (row) n of each error term Δk is example n's
/// δk divided by N: each example solved as a network of its own.
fn batch_is_the_mean_of_its_examples(name: &str, text: &str) {
    let (model, batch) = solve(name, text);
    let layout = model.batch.unwrap_or_else(|| panic!("{name}: not read as a batch"));
    let n_examples = layout.size;
    let mut loss = 0.0;
    let mut gradients: Vec<Vec<f64>> = batch.gradients.iter().map(|g| vec![0.0; g.len()]).collect();
    for n in 0..n_examples {
        let single_text = single_example(&model, text, layout.examples, n);
        let (single_model, single) = solve(&format!("{name} example {n}"), &single_text);
        assert!(single_model.batch.is_none(), "{single_text}");
        loss += single.value(single_model.loss).to_f64_vec()[0] / n_examples as f64;
        for (total, g) in gradients.iter_mut().zip(&single.gradients) {
            for (t, x) in total.iter_mut().zip(g.to_f64_vec()) {
                *t += x / n_examples as f64;
            }
        }
        // The error terms, defined in the same order in both.
        assert_eq!(batch.symbols.len(), single.symbols.len(), "{name}: error terms");
        for ((_, big), (_, one)) in batch.symbols.iter().zip(&single.symbols) {
            let scaled: Vec<f64> = one.to_f64_vec().iter().map(|x| x / n_examples as f64).collect();
            close(&example_of(big, layout.examples, n), &scaled, &format!("{name}: example {n} of an error term"));
        }
    }
    close(&batch.value(model.loss).to_f64_vec(), &[loss], &format!("{name}: loss"));
    for (g, mean) in batch.derivation.gradients.iter().zip(&gradients) {
        let i = batch.derivation.gradients.iter().position(|h| h.param == g.param).unwrap();
        close(&batch.gradients[i].to_f64_vec(), mean, &format!("{name}: ∂L/∂{}", model.tensor(g.param).name));
    }
}

fn example_text(name: &str) -> String {
    std::fs::read_to_string(common::example(name)).unwrap()
}

#[test]
fn column_batch_is_the_mean_of_its_examples() {
    batch_is_the_mean_of_its_examples("assignment4_batch.nn", &example_text("assignment4_batch.nn"));
}

#[test]
fn row_batch_is_the_mean_of_its_examples() {
    batch_is_the_mean_of_its_examples("batch_rows.nn", &example_text("batch_rows.nn"));
}

/// `mean((O - Y)^2)` over a `[2, N]` output is the mean of all 2N squares,
/// the mean over the examples of each one's mean of 2; `mse` likewise in
/// rows; tanh and sigmoid layers; the biases stretched over the examples.
const MSE_COLUMNS: &str = "
input  X[3,4] = [[0.5, -1, 2, 0.25], [1, 0.5, -0.5, 1.5], [-1, 2, 0.75, 0]]
target Y[2,4] = [[0.1, 0.9, 0.4, 0.6], [0.8, 0.2, 0.5, 0.3]]
param  W1[3,3] = [[0.2, -0.4, 0.1], [0.3, 0.1, -0.2], [-0.1, 0.5, 0.3]]
param  b1[3] = [0.1, 0, -0.1]
param  W2[2,3] = [[0.6, -0.3, 0.2], [-0.5, 0.4, 0.1]]
param  b2[2] = [0.05, -0.05]
H = tanh(W1 @ X + b1)
O = sigmoid(W2 @ H + b2)
loss L = mean((O - Y)^2)
";

const MSE_ROWS: &str = "
input  X[3,2] = [[0.5, -1], [2, 0.25], [-0.75, 1.5]]
target Y[3,1] = [[0.2], [0.9], [0.5]]
param  W1[2,3] = [[0.4, -0.2, 0.1], [0.3, 0.5, -0.6]]
param  b1[1,3] = [[0.1, -0.2, 0.05]]
param  W2[3,1] = [[0.7], [-0.4], [0.2]]
param  b2[1,1] = [[0.1]]
H = sigmoid(X @ W1 + b1)
O = H @ W2 + b2
loss L = mse(Y, O)
";

#[test]
fn mean_squared_error_of_a_batch_is_the_mean_of_its_examples() {
    batch_is_the_mean_of_its_examples("mse_columns.nn", MSE_COLUMNS);
    batch_is_the_mean_of_its_examples("mse_rows.nn", MSE_ROWS);
}

/// A batch's loss written out with log_softmax (and with softmax, log and
/// a division by N) gives the built-in cross-entropy's values: the same
/// loss through other adjoint rules.
#[test]
fn written_out_batch_cross_entropy_matches_the_builtin() {
    let text = example_text("assignment4_batch.nn");
    let (_, builtin) = solve("builtin.nn", &text);
    for written in ["-sum(Y * log_softmax(Z2, axis = 0)) / 3", "-mean(sum(Y * log(Yhat), axis = 0))"] {
        let other = text.replace("cross_entropy(Y, Yhat)", written);
        assert_ne!(other, text);
        let (_, sol) = solve("written.nn", &other);
        close(&sol.values.last().unwrap().to_f64_vec(), &builtin.values.last().unwrap().to_f64_vec(), written);
        for (a, b) in sol.gradients.iter().zip(&builtin.gradients) {
            close(&a.to_f64_vec(), &b.to_f64_vec(), written);
        }
    }
}

#[test]
fn batch_networks_pass_gradcheck() {
    let columns = example_text("assignment4_batch.nn");
    let with_axis_sums =
        columns.replace("cross_entropy(Y, Yhat)", "sum(sum(Yhat * Y, axis = 0)^2) + mean(H, axis = 1).T @ b1");
    for (name, text) in [
        ("assignment4_batch.nn", columns.clone()),
        ("batch_rows.nn", example_text("batch_rows.nn")),
        ("mse_columns.nn", MSE_COLUMNS.to_string()),
        ("mse_rows.nn", MSE_ROWS.to_string()),
        ("axis_sums.nn", with_axis_sums),
    ] {
        let check = nnderive::gradcheck(&load(name, &text)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(check.worst() < 1e-6, "{name}: {check:?}");
    }
}

/// The derivation as the textbook writes a batch: Δ2 = (Ŷ − Y)/N, weight
/// gradients one matrix product, bias gradients the error term summed over
/// the examples (Δ 1 for columns, 1ᵀ Δ for rows).
#[test]
fn batch_formulas_are_textbook() {
    let derive = |name: &str| {
        let model = load(name, &example_text(name));
        nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model))
    };
    let columns = derive("assignment4_batch.nn");
    for expected in [
        "  Δ2 = (Ŷ − Y) / 3\n",
        "  Δ1 = (W2ᵀ Δ2) ⊙ f′(Z1)\n",
        "  ∂L/∂W2 = Δ2 Hᵀ   [d-matmul-left at Z2]\n",
        "  ∂L/∂b2 = Δ2 1    [d-broadcast at Z2]\n",
        "  ∂L/∂W1 = Δ1 Xᵀ   [d-matmul-left at Z1]\n",
        "  Ŷ  = softmax(Z2, axis = 0)\n",
        "= (Ŷ − Y) / 3                                  [1ᵀ Y = 1ᵀ]\n",
    ] {
        assert!(columns.contains(expected), "missing {expected:?} in\n{columns}");
    }
    let rows = derive("batch_rows.nn");
    for expected in [
        "  Δ2 = (P − onehot(y)) / 4\n",
        "= (P − onehot(y)) / 4                                         [onehot(y) 1 = 1]\n",
        "  Δ1 = (Δ2 W2ᵀ) ⊙ step(Z1)\n",
        "  ∂L/∂W1 = Xᵀ Δ1   [d-matmul-right at Z1]\n",
        "  ∂L/∂b1 = 1ᵀ Δ1   [d-broadcast at Z1]\n",
        "  P      = softmax(scores, axis = 1)\n",
    ] {
        assert!(rows.contains(expected), "missing {expected:?} in\n{rows}");
    }
}

/// Without an axis, softmax follows the layout: the same derivation as
/// with the axis the layout implies; an axis against the layout is obeyed.
#[test]
fn the_softmax_axis_follows_the_layout_unless_given() {
    let text = example_text("assignment4_batch.nn");
    let text_of = |t: &str| {
        let model = load("a.nn", t);
        nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model))
    };
    let explicit = text.replace("softmax(Z2)", "softmax(Z2, axis = 0)");
    assert_ne!(explicit, text);
    assert_eq!(text_of(&text), text_of(&explicit));
    // Along each row instead: both rows of Y then sum to 1 nowhere, so the
    // general form stays; the values follow the rows.
    let across = text.replace("softmax(Z2)", "softmax(Z2, axis = 1)");
    let (model, sol) = solve("across.nn", &across);
    let yhat = sol.value(model.tensor_id("Yhat").unwrap()).to_f64_vec();
    for row in yhat.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{yhat:?}");
    }
    assert!(text_of(&across).contains("Δ2 = (Ŷ ⊙ (Y 1) − Y) / 2\n"), "{}", text_of(&across));
    assert!(nnderive::gradcheck(&model).unwrap().worst() < 1e-6);
}

/// Class labels are read as one-hot targets: the same values as the
/// one-hot matrix or vector written out, for a batch (rows and columns) and
/// for one example with one label.
#[test]
fn class_labels_are_one_hot_targets() {
    let rows = example_text("batch_rows.nn");
    let written = rows
        .replace("target y[4]    = [0, 2, 1, 2]", "target Y[4,3] = [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]")
        .replace("cross_entropy(y, P)", "cross_entropy(Y, P)");
    let columns = example_text("assignment4_batch.nn");
    let labelled = columns
        .replace("target Y[2,3]  = [[1, 0, 0],\n                  [0, 1, 1]]", "target c[3] = [0, 1, 1]")
        .replace("cross_entropy(Y, Yhat)", "cross_entropy(c, Yhat)");
    let single = example_text("assignment4.nn");
    let one_label = single
        .replace("target y[2]    = [1, 0]", "target c = 0")
        .replace("cross_entropy(y, yhat)", "cross_entropy(c, yhat)");
    for (a, b) in [(&rows, &written), (&labelled, &columns), (&one_label, &single)] {
        assert_ne!(a, b);
        let (ma, sa) = solve("labels.nn", a);
        let (mb, sb) = solve("one_hot.nn", b);
        close(&sa.value(ma.loss).to_f64_vec(), &sb.value(mb.loss).to_f64_vec(), "loss");
        for (x, y) in sa.gradients.iter().zip(&sb.gradients) {
            close(&x.to_f64_vec(), &y.to_f64_vec(), "gradient");
        }
    }
    let model = load("one_label.nn", &one_label);
    let text = nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model));
    assert!(text.contains("  δ2 = ŷ − onehot(c)\n"), "{text}");
}

fn exact(dims: &[usize], v: &[i64]) -> Tensor {
    Tensor::exact(dims.to_vec(), v.iter().map(|&x| BigRational::from_integer(x.into())).collect())
}

/// Broadcasting computes what NumPy computes, written out by hand.
#[test]
fn broadcasting_values_by_hand() {
    let m = exact(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    // A column over every column: [[1+10, 2+10, 3+10], [4+20, 5+20, 6+20]].
    assert_eq!(m.add(&exact(&[2], &[10, 20])).unwrap(), exact(&[2, 3], &[11, 12, 13, 24, 25, 26]));
    assert_eq!(exact(&[2, 1], &[10, 20]).add(&m).unwrap(), exact(&[2, 3], &[11, 12, 13, 24, 25, 26]));
    // A row over every row.
    assert_eq!(m.sub(&exact(&[1, 3], &[1, 1, 2])).unwrap(), exact(&[2, 3], &[0, 1, 1, 3, 4, 4]));
    assert_eq!(exact(&[1, 3], &[2, 0, -1]).mul(&m).unwrap(), exact(&[2, 3], &[2, 0, -3, 8, 0, -6]));
    // In f64 too, and a [1, 1] over all.
    let f = m.to_float().mul(&exact(&[1, 1], &[3])).unwrap();
    assert_eq!(f.to_f64_vec(), vec![3.0, 6.0, 9.0, 12.0, 15.0, 18.0]);
    assert!(m.add(&exact(&[3], &[1, 2, 3])).is_err());
    assert!(exact(&[2], &[1, 2]).add(&exact(&[1, 3], &[1, 2, 3])).is_err());
}

/// A linear batch network stays exact, and its gradients are the hand
/// formulas: for L = sum((W X + b − Y)²)/2, ∂L/∂W = R Xᵀ and ∂L/∂b = R 1
/// with R = W X + b − Y, computed here with integer loops.
#[test]
fn linear_batch_gradients_by_hand() {
    let text = "
input  X[2,3] = [[1, 2, -1], [0, 1, 3]]
target Y[2,3] = [[1, 0, 2], [-1, 1, 0]]
param  W[2,2] = [[2, -1], [1, 3]]
param  b[2] = [1, -2]
R = W @ X + b - Y
loss L = 0.5 * sum(R^2)
";
    let (model, sol) = solve("linear.nn", text);
    let (x, y, w, b) = ([[1, 2, -1], [0, 1, 3]], [[1, 0, 2], [-1, 1, 0]], [[2, -1], [1, 3]], [1, -2]);
    let mut r = [[0i64; 3]; 2];
    for i in 0..2 {
        for n in 0..3 {
            r[i][n] = (0..2).map(|k| w[i][k] * x[k][n]).sum::<i64>() + b[i] - y[i][n];
        }
    }
    let dw: Vec<i64> = (0..4).map(|ij| (0..3).map(|n| r[ij / 2][n] * x[ij % 2][n]).sum()).collect();
    let db: Vec<i64> = (0..2).map(|i| r[i].iter().sum()).collect();
    let id = |n: &str| sol.derivation.gradients.iter().position(|g| model.tensor(g.param).name == n).unwrap();
    assert_eq!(sol.gradients[id("W")], exact(&[2, 2], &dw));
    assert_eq!(sol.gradients[id("b")], exact(&[2], &db));
    assert!(sol.gradients.iter().all(Tensor::is_exact));
}

/// Only a matrix of examples makes a batch: a single-example network, also
/// one with a bias `[1]` spread over a column, keeps its δ's.
#[test]
fn a_single_example_is_no_batch() {
    let text = "input x[2] = [1, 2]\ntarget y[2] = [0, 1]\nparam W[2,2] = [[0.5, -1], [0.25, 0.5]]\nparam b[1] = [0.1]\nyhat = softmax(W @ x + b)\nloss L = cross_entropy(y, yhat)\n";
    let model = load("single.nn", text);
    assert!(model.batch.is_none());
    let derivation = nnderive::render::text::derivation(&model, &nnderive::derive::derive(&model));
    assert!(derivation.contains("  δ1 = ŷ − y\n"), "{derivation}");
    assert!(derivation.contains("  ∂L/∂b = Σδ1"), "{derivation}");
    assert!(load("assignment4.nn", &example_text("assignment4.nn")).batch.is_none());
    let check = nnderive::gradcheck(&model).unwrap();
    assert!(check.worst() < 1e-6, "{check:?}");
}
