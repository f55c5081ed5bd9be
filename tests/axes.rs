//! Named axes: what the checker says each axis of each tensor holds, read
//! from what the file says (a layer's `layout`, a batch norm, attention, a
//! bias added to every example), and the located errors when two uses read
//! one tensor two ways. The expected names are written by hand from the
//! files' own comments and the layers' documented conventions.

mod common;

use nnderive::model::axes::{Axes, AxisName};
use nnderive::model::Model;
use nnderive::Source;

fn load_example(name: &str) -> Model {
    let path = common::example(name);
    nnderive::load(&common::source(&path)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn load_text(text: &str) -> Result<Model, String> {
    let source = Source::new("net.nn", text);
    nnderive::load(&source).map_err(|e| nnderive::render::diagnostic::report(&e.report(), &source.name, &source.text))
}

/// The axes of `tensor` as letters, `-` for an unnamed axis: `NCHW`, `N-`.
fn letters(model: &Model, tensor: &str) -> String {
    let id = model.tensor_id(tensor).unwrap_or_else(|| panic!("no tensor {tensor}"));
    model.axes(id).names().iter().map(|n| n.map_or("-", AxisName::letter)).collect()
}

fn assert_axes(model: &Model, expected: &[(&str, &str)]) {
    for (tensor, want) in expected {
        assert_eq!(letters(model, tensor), *want, "axes of {tensor}");
    }
}

#[test]
fn a_batch_of_maps_channels_first() {
    // The file's comment: X is [N, C, H, W], two examples, one channel.
    let m = load_example("cnn_batched_net.nn");
    assert_axes(&m, &[("X", "NCHW"), ("Z1", "NCHW"), ("A1", "NCHW"), ("P1", "NCHW"), ("P2", "NCHW"), ("Y", "NCHW")]);
    // Parameters keep their layer's own axes: nothing names them.
    assert_axes(&m, &[("K1", "----"), ("b1", "-")]);
    let x = m.tensor_id("X").unwrap();
    assert_eq!(m.axes(x).position(AxisName::Channel), Some(1));
    assert_eq!(m.axes(x).position(AxisName::Batch), Some(0));
}

#[test]
fn channels_last_with_layout_nhwc() {
    let m = load_example("cnn_nhwc.nn");
    assert_axes(&m, &[("A", "NHWC"), ("Z1", "NHWC"), ("P1", "NHWC"), ("Z2", "NHWC"), ("P2", "NHWC"), ("Y", "NHWC")]);
    let z1 = m.tensor_id("Z1").unwrap();
    assert_eq!(m.axes(z1).position(AxisName::Channel), Some(3));
    assert_eq!(m.axes(z1).show(m.tensor(z1).shape.dims()), "[N=2, H=4, W=4, C=3]");
    // The gradient given to the backward pass has the output's axes.
    assert_axes(&load_example("conv_nhwc_backward.nn"), &[("Z", "NHWC"), ("dZ", "NHWC")]);
}

#[test]
fn one_map_has_no_batch_axis() {
    let m = load_example("cnn.nn");
    assert_axes(&m, &[("X", "CHW"), ("Z1", "CHW"), ("A1", "CHW"), ("P1", "CHW")]);
    // Flattened, the map's entries are one vector: nothing names it.
    assert_axes(&m, &[("v", "-"), ("yhat", "-")]);
    assert!(!m.axes(m.tensor_id("v").unwrap()).is_named());
}

#[test]
fn spatial_batch_norm_names_its_statistics_per_channel() {
    let m = load_example("batchnorm_spatial.nn");
    assert_axes(&m, &[("X", "NCHW"), ("Z", "NCHW"), ("B", "NCHW"), ("xhat", "NCHW"), ("mu", "C"), ("var", "C")]);
}

#[test]
fn examples_in_columns_and_in_rows() {
    // `W1 @ X + b1`: the examples are the columns of X[4, 3].
    let columns = load_example("assignment4_batch.nn");
    assert_axes(&columns, &[("X", "FN"), ("Z1", "FN"), ("H", "FN"), ("Yhat", "FN"), ("Y", "FN")]);
    // CS231n's `X @ W1 + b1`: one example per row; the class labels y[N].
    let rows = load_example("batch_rows.nn");
    assert_axes(&rows, &[("X", "NF"), ("Z1", "NF"), ("scores", "NF"), ("P", "NF"), ("y", "N")]);
    let layer_norm = load_example("layernorm.nn");
    assert_axes(&layer_norm, &[("X", "FN"), ("N1", "FN"), ("xhat", "FN")]);
    // μ of a layer norm is one entry per example: its stretched axis of
    // length 1 holds no features.
    assert_axes(&layer_norm, &[("mu", "-N")]);
    assert_axes(&load_example("batchnorm.nn"), &[("X", "NF"), ("B1", "NF"), ("mu", "-F")]);
}

#[test]
fn attention_names_its_sequence() {
    for name in ["attention.nn", "attention_causal.nn"] {
        let m = load_example(name);
        assert_axes(&m, &[("X", "TF"), ("Q", "TF"), ("K", "TF"), ("V", "TF"), ("S", "TT"), ("A", "TT"), ("out", "TF")]);
    }
}

#[test]
fn an_embedding_lookup_adds_a_features_axis() {
    let m = load_example("embedding.nn");
    assert_axes(&m, &[("out", "--F"), ("h", "--F"), ("x", "--")]);
}

#[test]
fn unrolled_steps_and_single_examples_name_nothing() {
    // Each step of a recurrence is its own tensor, its step in its name.
    for name in ["rnn.nn", "lstm.nn", "gru.nn", "assignment4.nn"] {
        let m = load_example(name);
        assert!(m.ids().all(|id| !m.axes(id).is_named()), "{name}");
    }
}

#[test]
fn lstm_step_slices_keep_the_examples() {
    let m = load_example("lstm_step_slices.nn");
    assert_axes(&m, &[("x", "NF"), ("a", "NF"), ("i", "NF"), ("next_c", "NF"), ("next_h", "NF")]);
}

#[test]
fn axes_reach_a_declared_input_through_the_operations() {
    let m = load_text(
        "input X[2,3,4,4]\nparam K[2,3,3,3]\nA = relu(X) * 2\nZ = conv2d(A, K, layout = nchw)\nloss L = sum(Z)\n",
    )
    .unwrap();
    assert_axes(&m, &[("X", "NCHW"), ("A", "NCHW"), ("Z", "NCHW")]);
}

#[test]
fn a_map_read_two_ways_is_an_error_naming_both_uses() {
    let text = "input X[1,4,4,4]\nparam K[2,4,3,3]\nZ = conv2d(X, K)\nP = maxpool(X, 2, layout = nhwc)\nloss L = sum(Z) + sum(P)\n";
    let error = load_text(text).unwrap_err();
    assert!(error.contains("X is read two ways"), "{error}");
    assert!(error.contains("conv2d (layout = nchw) in Z"), "{error}");
    assert!(error.contains("maxpool (layout = nhwc) in P"), "{error}");
    assert!(error.contains(":4:1"), "at the second use: {error}");
    // The same layout twice is one reading.
    let same = text.replace("maxpool(X, 2, layout = nhwc)", "maxpool(X, 2)");
    assert_axes(&load_text(&same).unwrap(), &[("X", "NCHW"), ("P", "NCHW")]);
}

#[test]
fn a_vector_fitting_two_axes_of_an_unnamed_map_is_an_error() {
    let error = load_text("input X[2,3,4,3]\nparam b[3]\nY = X + b\nloss L = sum(Y * Y)\n").unwrap_err();
    assert!(error.contains("could go with axis 1 or axis 3"), "{error}");
    // One fit alone is no question; named channels decide between two.
    assert!(load_text("input X[2,3,4,5]\nparam b[3]\nY = X + b\nloss L = sum(Y * Y)\n").is_ok());
    let named = "input X[2,3,4,3]\nparam K[3,3,1,1]\nparam b[3]\nY = conv2d(X, K) + b\nloss L = sum(Y * Y)\n";
    assert_axes(&load_text(named).unwrap(), &[("Y", "NCHW")]);
}

/// Every example solves to the same text whether or not the model carries
/// its named axes: where an operation reads them, they agree with the rule
/// by shape it kept (the values themselves are checked against NumPy and
/// finite differences by the examples' own tests).
#[test]
fn naming_the_axes_changes_no_value_of_any_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.retain(|p| p.extension().is_some_and(|e| e == "nn"));
    names.sort();
    assert!(names.len() > 30);
    for path in names {
        let model = nnderive::load(&common::source(&path)).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        let with_axes = nnderive::render::text::solution(&model, &solution, None);
        let unnamed =
            Model { axes: model.ids().map(|id| Axes::unnamed(model.tensor(id).shape.rank())).collect(), ..model };
        let solution = nnderive::solve(&unnamed).unwrap();
        let without = nnderive::render::text::solution(&unnamed, &solution, None);
        assert_eq!(with_axes, without, "{}", path.display());
    }
}

#[test]
fn the_summary_and_the_json_name_the_axes() {
    let path = common::example("cnn_batched_net.nn");
    let m = nnderive::load(&common::source(&path)).unwrap();
    let summary = nnderive::render::summary::check_summary(&m);
    assert!(summary.contains("X   [N=2, C=1, H=5, W=5]"), "{summary}");
    assert!(summary.contains("K1  [2, 1, 3, 3]"), "{summary}");
    let out = common::nnderive_with_input(&["solve", path.to_str().unwrap(), "--format", "json"], None);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["given"]["X"]["axes"], serde_json::json!(["N", "C", "H", "W"]));
    assert_eq!(json["forward"]["P1"]["axes"], serde_json::json!(["N", "C", "H", "W"]));
    assert!(json["given"]["K1"].get("axes").is_none());
}

/// A softmax the file asks for across its layout (examples in columns,
/// softmax along each row) is computed as asked: what the layout implies
/// and what the softmax implies disagree, so the axis stays unnamed rather
/// than the file being refused.
#[test]
fn a_layout_implication_against_another_leaves_the_axis_unnamed() {
    let path = common::example("assignment4_batch.nn");
    let text = std::fs::read_to_string(path).unwrap().replace("softmax(Z2)", "softmax(Z2, axis = 1)");
    assert!(text.contains("axis = 1"));
    let m = load_text(&text).unwrap();
    // The columns (examples to the biases, classes to the softmax) are
    // one set from X to Yhat, contested and left unnamed everywhere.
    assert_eq!(letters(&m, "X"), "--");
    assert_eq!(letters(&m, "H"), "--");
    assert_eq!(letters(&m, "Yhat")[1..], *"-");
}
