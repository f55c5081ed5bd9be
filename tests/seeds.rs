//! Every gradient has its operand's shape, whatever reduction turns the
//! network's output into the loss and whatever broadcast or layer lies in
//! between: a seed that stands for the same value in every entry (the
//! gradient of `sum(P)`, of `mean(H, axis = 0)`) is expanded to the shape of
//! what it is the gradient of before it reaches a layer's adjoint, a product
//! with a stretched operand or a sum along an axis.
//!
//! Each case is generated as `.nn` text: a layer (none, a dense product on
//! either side, conv2d, maxpool, avgpool, flatten, conv2d then maxpool), a
//! broadcasting operation (+, −, ⊙, ⊘ with a column, a row, a scalar, a
//! channel vector or a column or row computed by a reduction along an
//! axis) and a reduction to the loss (sum, mean, 2 · sum, along an axis then
//! sum or mean, the squared norm, the norm). Every gradient is checked for
//! its parameter's shape and against a central difference of the loss along
//! a fixed direction, the loss evaluated at values perturbed in the source
//! text itself, which no derived formula touches.

mod common;

use nnderive::Source;

/// One parameter of a generated case: name, dims, values.
#[derive(Clone)]
struct Param {
    name: &'static str,
    dims: Vec<usize>,
    values: Vec<f64>,
}

impl Param {
    /// Distinct positive values (so that max-pool windows have no ties and
    /// divisors are far from zero), two decimals each.
    fn new(name: &'static str, dims: &[usize], salt: u64) -> Param {
        let n: usize = dims.iter().product::<usize>().max(1);
        let values = (0..n as u64).map(|i| 0.5 + ((i * 37 + salt * 11) % 97) as f64 / 40.0 + i as f64 * 0.01).collect();
        Param { name, dims: dims.to_vec(), values }
    }

    /// The declaration, with each entry moved by `step` along `direction`.
    fn declaration(&self, step: f64) -> String {
        let values: Vec<f64> = self.values.iter().enumerate().map(|(i, v)| v + step * direction(i)).collect();
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        let shape = if self.dims.is_empty() { String::new() } else { format!("[{}]", dims.join(",")) };
        format!("param {}{shape} = {}\n", self.name, literal(&self.dims, &values))
    }
}

/// The direction each parameter is moved in: uneven, no entry zero, so
/// that a gradient of the wrong shape or with a misplaced entry shows.
fn direction(i: usize) -> f64 {
    [1.0, -0.5, 0.75, -1.25, 0.25][i % 5] * (1.0 + (i / 5) as f64 * 0.25)
}

/// A nested-list literal of `values` laid out in `dims`, row-major.
fn literal(dims: &[usize], values: &[f64]) -> String {
    match dims {
        [] => format!("{:.12}", values[0]),
        [n] => format!("[{}]", values[..*n].iter().map(|v| format!("{v:.12}")).collect::<Vec<_>>().join(", ")),
        [n, rest @ ..] => {
            let size: usize = rest.iter().product();
            let parts: Vec<String> = (0..*n).map(|k| literal(rest, &values[k * size..(k + 1) * size])).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// A generated network: its parameters and its equations.
struct Case {
    label: String,
    params: Vec<Param>,
    equations: String,
}

impl Case {
    fn text(&self, moved: Option<(usize, f64)>) -> String {
        let mut text = String::new();
        for (k, p) in self.params.iter().enumerate() {
            let step = moved.filter(|(m, _)| *m == k).map_or(0.0, |(_, s)| s);
            text += &p.declaration(step);
        }
        text + &self.equations
    }

    fn loss_at(&self, moved: (usize, f64)) -> f64 {
        let source = Source::new("moved.nn", self.text(Some(moved)));
        let model = nnderive::load(&source).unwrap_or_else(|e| panic!("{}: {e:?}", self.label));
        let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{}: {e:?}", self.label));
        solution.value(model.loss).to_f64_vec()[0]
    }

    /// Solves the case and checks every gradient's shape and its value
    /// along `direction` against the central difference of the loss.
    fn check(&self) {
        let text = self.text(None);
        let model = nnderive::load(&Source::new("case.nn", text.clone()))
            .unwrap_or_else(|e| panic!("{}: does not load: {e:?}\n{text}", self.label));
        let solution =
            nnderive::solve(&model).unwrap_or_else(|e| panic!("{}: does not solve: {e:?}\n{text}", self.label));
        // Small enough that no max-pool window changes its maximum.
        let h = 1e-6;
        for (gradient, value) in solution.derivation.gradients.iter().zip(&solution.gradients) {
            let name = &model.tensor(gradient.param).name;
            let k = self.params.iter().position(|p| p.name == name).expect("a generated parameter");
            let param = &self.params[k];
            assert_eq!(value.dims(), &param.dims[..], "{}: ∂L/∂{name} has the wrong shape\n{text}", self.label);
            let along: f64 = value.to_f64_vec().iter().enumerate().map(|(i, g)| g * direction(i)).sum();
            let central = (self.loss_at((k, h)) - self.loss_at((k, -h))) / (2.0 * h);
            let tolerance = 1e-6 + 1e-5 * along.abs().max(central.abs());
            assert!(
                (along - central).abs() <= tolerance,
                "{}: ∂L/∂{name} along the direction is {along}, the central difference {central}\n{text}",
                self.label
            );
        }
    }
}

/// How the layer's output `H` becomes the loss; `None` where the reduction
/// needs a matrix.
fn reductions(matrix: bool) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("sum", "loss L = sum(H)\n".to_string()),
        ("mean", "loss L = mean(H)\n".to_string()),
        ("2 sum", "loss L = sum(2 * H)\n".to_string()),
        ("squared norm", "loss L = sum(H^2)\n".to_string()),
        ("norm", "loss L = sqrt(sum(H^2))\n".to_string()),
    ];
    if matrix {
        out.push(("mean axis 0, sum", "p = mean(H, axis = 0)\nloss L = sum(p)\n".to_string()));
        out.push(("sum axis 1, mean", "p = sum(H, axis = 1)\nloss L = mean(p)\n".to_string()));
        out.push(("sum axis 0, squared", "p = sum(H, axis = 0)\nloss L = sum(p^2)\n".to_string()));
    }
    out
}

const OPERATIONS: [&str; 4] = ["+", "-", "*", "/"];

/// Matrices `[2, 3]`: no layer, or a dense product on the left or right,
/// then an operation with a column, a row, a scalar, or a column or row
/// computed from the layer's output by a reduction along an axis.
#[test]
fn matrices_every_reduction_broadcast_and_dense_layer() {
    let layers: [(&str, &str, Option<Param>); 3] = [
        ("none", "A = X\n", None),
        ("dense left", "A = W @ X\n", Some(Param::new("W", &[2, 2], 3))),
        ("dense right", "A = X @ V\n", Some(Param::new("V", &[3, 3], 5))),
    ];
    let operands: [(&str, Option<Param>, &str); 5] = [
        ("column", Some(Param::new("c", &[2], 7)), "c"),
        ("row", Some(Param::new("r", &[1, 3], 9)), "r"),
        ("scalar", Some(Param::new("s", &[], 2)), "s"),
        ("mean along rows", None, "mean(A, axis = 1)"),
        ("sum down columns", None, "sum(A, axis = 0)"),
    ];
    let mut count = 0;
    for (layer, layer_eq, layer_param) in &layers {
        for (operand, operand_param, operand_expr) in &operands {
            for op in OPERATIONS {
                for (reduction, loss) in reductions(true) {
                    let mut params = vec![Param::new("X", &[2, 3], 1)];
                    params.extend(layer_param.clone());
                    params.extend(operand_param.clone());
                    let equations = format!("{layer_eq}m = {operand_expr}\nH = A {op} m\n{loss}");
                    let label = format!("{layer} · {op} {operand} · {reduction}");
                    Case { label, params, equations }.check();
                    count += 1;
                }
            }
        }
    }
    assert_eq!(count, 3 * 5 * 4 * 8);
}

/// Feature maps `[2, 4, 4]` through conv2d, maxpool, avgpool, flatten and
/// conv2d then maxpool, then an operation with a scalar or a per-channel
/// vector (a column for the flattened map), then each reduction.
#[test]
fn maps_every_reduction_broadcast_and_layer() {
    let kernel = || Some(Param::new("K", &[2, 2, 2, 2], 4));
    let layers: [(&str, &str, Option<Param>, usize); 5] = [
        ("conv2d", "A = conv2d(X, K, stride = 1, pad = 0)\n", kernel(), 2),
        ("maxpool", "A = maxpool(X, 2)\n", None, 2),
        ("avgpool", "A = avgpool(X, 2)\n", None, 2),
        ("flatten", "A = flatten(X)\n", None, 32),
        ("conv2d then maxpool", "C = conv2d(X, K, stride = 1, pad = 0)\nA = maxpool(C, 2, stride = 1)\n", kernel(), 2),
    ];
    let mut count = 0;
    for (layer, layer_eq, layer_param, per_channel) in &layers {
        let operands = [("scalar", Param::new("s", &[], 2)), ("per channel", Param::new("b", &[*per_channel], 6))];
        for (operand, operand_param) in &operands {
            for op in OPERATIONS {
                for (reduction, loss) in reductions(false) {
                    let mut params = vec![Param::new("X", &[2, 4, 4], 1)];
                    params.extend(layer_param.clone());
                    params.push(operand_param.clone());
                    let equations = format!("{layer_eq}H = A {op} {}\n{loss}", operand_param.name);
                    let label = format!("{layer} · {op} {operand} · {reduction}");
                    Case { label, params, equations }.check();
                    count += 1;
                }
            }
        }
    }
    assert_eq!(count, 5 * 2 * 4 * 5);
}

/// A reduction straight after a layer: the seed is printed expanded to the
/// map's shape, `∂L/∂P = 𝟏`, and the rule legend says what 𝟏 is.
#[test]
fn a_pooled_map_summed_prints_its_expanded_seed() {
    for (layer, seed, mean) in [
        ("maxpool(X, 2)", "∂L/∂P = 𝟏", "∂L/∂P = 0.25 𝟏"),
        ("avgpool(X, 2)", "∂L/∂P = 𝟏", "∂L/∂P = 0.25 𝟏"),
        ("conv2d(X, K, stride = 1, pad = 0)", "∂L/∂P = 𝟏", "∂L/∂P = (1/9) 𝟏"),
    ] {
        for (loss, expected) in [("sum(P)", seed), ("mean(P)", mean), ("sum(2 * P)", "∂L/∂P = 2 𝟏")] {
            let text = format!(
                "param X[1,4,4] = {}\nparam K[1,1,2,2] = [[[[1, -1], [0.5, 2]]]]\nP = {layer}\nloss L = {loss}\n",
                literal(&[1, 4, 4], &Param::new("X", &[1, 4, 4], 1).values)
            );
            let derivation = nnderive::derivation_text(&Source::new("pool.nn", text.clone())).unwrap();
            let seed_line = derivation.lines().find(|l| l.trim_start().starts_with("∂L/∂P = ")).unwrap_or_default();
            assert!(seed_line.contains(expected), "{layer}, {loss}: no `{expected}` in\n{derivation}");
            assert!(derivation.contains("𝟏 is a tensor of ones"), "{derivation}");
            let solution = nnderive::solution_text(&Source::new("pool.nn", text), Some(4)).unwrap();
            assert!(!solution.contains("bug"), "{solution}");
        }
    }
}
