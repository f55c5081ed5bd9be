//! The assignment's network on a batch of three, trained five steps with
//! momentum and with Adam (`assignment4_batch_momentum.nn`,
//! `assignment4_batch_adam.nn`): every step is recomputed here. Each step's
//! gradient comes from solving the batch network afresh (plain SGD file) at
//! the previous step's parameters, and the optimizer's published rule is
//! applied to it in a plain f64 loop written in the test.

mod common;

use common::flat;

use serde_json::Value;

const PARAMS: [&str; 4] = ["W1", "b1", "W2", "b2"];

fn solved_json(model: &nnderive::model::Model) -> Value {
    let s = nnderive::solve(model).unwrap();
    serde_json::from_str(&nnderive::render::json::solution(model, &s, None)).unwrap()
}

/// A nested literal of `values` in the shape of `like` (a JSON value).
fn literal(like: &Value, values: &mut impl Iterator<Item = f64>) -> String {
    match like {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|i| literal(i, values)).collect();
            format!("[{}]", inner.join(", "))
        }
        _ => format!("{:e}", values.next().unwrap()),
    }
}

/// ∂L/∂P of the batch network at `params` (by name), from a fresh solve of
/// the plain SGD file with those values given.
fn gradients_at(params: &[(String, Value)]) -> Vec<Vec<f64>> {
    let mut model = nnderive::load(&common::source(&common::example("assignment4_batch.nn"))).unwrap();
    for (name, value) in params {
        let mut entries = flat(value).into_iter();
        let text = format!("{name}={}", literal(value, &mut entries));
        model = nnderive::given(model, &text).unwrap();
    }
    let json = solved_json(&model);
    PARAMS.iter().map(|p| flat(&json["gradients"][*p]["value"])).collect()
}

/// Runs the example, then replays its five steps with `update` (which sees
/// the step k, the gradient and the parameter, and keeps its own state per
/// parameter) and compares every step's parameters with the history's.
fn replay(example: &str, mut update: impl FnMut(usize, usize, &[f64], &mut Vec<f64>)) {
    let model = nnderive::load(&common::source(&common::example(example))).unwrap();
    let json = solved_json(&model);
    let history = json["history"].as_array().unwrap();
    assert_eq!(history.len(), 6, "the loss before training and after each of 5 steps");
    let mut params: Vec<(String, Value)> =
        PARAMS.iter().map(|p| (p.to_string(), history[0]["parameters"][*p]["value"].clone())).collect();
    let mut current: Vec<Vec<f64>> = params.iter().map(|(_, v)| flat(v)).collect();
    for (k, entry) in history.iter().enumerate().skip(1) {
        let grads = gradients_at(&params);
        for (i, name) in PARAMS.iter().enumerate() {
            // The history's gradient is the fresh solve's.
            let reported = flat(&entry["gradients"][*name]["value"]);
            for (a, b) in reported.iter().zip(&grads[i]) {
                assert!((a - b).abs() <= 1e-9 * b.abs().max(1e-3), "{example} step {k} ∂L/∂{name}: {a} vs {b}");
            }
            update(k, i, &grads[i], &mut current[i]);
            let after = flat(&entry["parameters"][*name]["value"]);
            for (j, (a, b)) in after.iter().zip(&current[i]).enumerate() {
                assert!((a - b).abs() <= 1e-9, "{example} step {k} {name}[{j}]: reported {a}, by hand {b}");
            }
            params[i].1 = entry["parameters"][*name]["value"].clone();
        }
    }
}

#[test]
fn momentum_on_a_batch_follows_cs231n_sgd_momentum() {
    // v ← β v − α g, P ← P + v, from v = 0.
    let (lr, beta) = (0.01, 0.9);
    let mut velocity: Vec<Vec<f64>> = vec![Vec::new(); 4];
    replay("assignment4_batch_momentum.nn", |_, i, g, p| {
        if velocity[i].is_empty() {
            velocity[i] = vec![0.0; g.len()];
        }
        for j in 0..g.len() {
            velocity[i][j] = beta * velocity[i][j] - lr * g[j];
            p[j] += velocity[i][j];
        }
    });
}

#[test]
fn adam_on_a_batch_follows_kingma_and_ba() {
    // m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², bias-corrected,
    // P ← P − α m̂ / (√v̂ + ε), from m = v = 0.
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let mut m: Vec<Vec<f64>> = vec![Vec::new(); 4];
    let mut v: Vec<Vec<f64>> = vec![Vec::new(); 4];
    replay("assignment4_batch_adam.nn", |k, i, g, p| {
        if m[i].is_empty() {
            m[i] = vec![0.0; g.len()];
            v[i] = vec![0.0; g.len()];
        }
        for j in 0..g.len() {
            m[i][j] = b1 * m[i][j] + (1.0 - b1) * g[j];
            v[i][j] = b2 * v[i][j] + (1.0 - b2) * g[j] * g[j];
            let m_hat = m[i][j] / (1.0 - b1.powi(k as i32));
            let v_hat = v[i][j] / (1.0 - b2.powi(k as i32));
            p[j] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    });
}
