//! A vector beside a matrix is read as NumPy reads it: `X @ W + b` with
//! `b[M]` adds `b` to every row. Where the matrix is square, the layout
//! (`layout rows` / `layout columns`, else the network's own products)
//! decides, and where nothing does it is an error. Every value is checked
//! against NumPy run on the same numbers (NNDERIVE_PYTHON).

mod common;

use std::process::Command;

use nnderive::Source;

/// Runs a NumPy program that prints one JSON list per line.
fn numpy(python: &str, program: &str) -> Vec<Vec<f64>> {
    let out = Command::new(python).args(["-c", &format!("import numpy as np, json\n{program}")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} against NumPy's {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-9, "{what}: {got:?} against NumPy's {want:?}");
    }
}

/// One network `Z = {expr}` with `loss L = sum(Z * Z) / 2`, and the NumPy
/// expression that computes the same Z: Z and ∂L/∂b (for this loss
/// ∂L/∂Z = Z, so ∂L/∂b is Z summed over the axis b was stretched along,
/// which NumPy computes from its own Z).
struct Case {
    header: &'static str,
    declarations: &'static str,
    expr: &'static str,
    numpy_z: &'static str,
    numpy_db: &'static str,
}

#[test]
fn a_vector_beside_a_matrix_agrees_with_numpy() {
    let Some(python) = common::numpy_python() else { return };
    let x23 = "[[1, 2, 3], [4, 5, 6]]";
    let cases = [
        // The parameter on the right of its product: rows, NumPy's reading.
        Case {
            header: "",
            declarations: "input X[2,3] = XV\nparam W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "X @ W + b",
            numpy_z: "X @ W + b",
            numpy_db: "Z.sum(axis=0)",
        },
        Case {
            header: "",
            declarations: "input X[2,3] = XV\nparam W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "X @ W * b",
            numpy_z: "X @ W * b",
            numpy_db: "(Z * (X @ W)).sum(axis=0)",
        },
        Case {
            header: "",
            declarations: "input X[2,3] = XV\nparam W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "b - X @ W",
            numpy_z: "b - X @ W",
            numpy_db: "Z.sum(axis=0)",
        },
        // Stated: rows, though no parameter decides.
        Case {
            header: "layout rows\n",
            declarations: "input X[2,3] = XV\ninput W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "X @ W + b",
            numpy_z: "X @ W + b",
            numpy_db: "Z.sum(axis=0)",
        },
        // Stated: columns, b[:, None].
        Case {
            header: "layout columns\n",
            declarations: "input X[2,3] = XV\ninput W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "X @ W + b",
            numpy_z: "X @ W + b[:, None]",
            numpy_db: "Z.sum(axis=1)",
        },
        // The statement wins over the products (W on the left says columns).
        Case {
            header: "layout rows\n",
            declarations: "input X[3,2] = [[1, 2], [3, 4], [5, 6]]\nparam W[2,3] = XV\nparam b[2] = [1, 2]\n",
            expr: "W @ X + b",
            numpy_z: "W @ X + b",
            numpy_db: "Z.sum(axis=0)",
        },
        // Only the row reading fits, and the parameter on the right says rows.
        Case {
            header: "",
            declarations: "input X[4,3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 0, 1]]\nparam W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\n",
            expr: "X @ W + b",
            numpy_z: "X @ W + b",
            numpy_db: "Z.sum(axis=0)",
        },
        // Only the column reading fits: a column, as always.
        Case {
            header: "",
            declarations: "input X[3,4] = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 1, 0, 1]]\ninput W[2,3] = XV\nparam b[2] = [1, 2]\n",
            expr: "W @ X + b",
            numpy_z: "W @ X + b[:, None]",
            numpy_db: "Z.sum(axis=1)",
        },
    ];
    for case in cases {
        let declarations = case.declarations.replace("XV", x23);
        let text = format!("{}{declarations}Z = {}\nloss L = sum(Z * Z) / 2\n", case.header, case.expr);
        let model = nnderive::load(&Source::new("layout.nn", text.clone())).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let solution = nnderive::solve(&model).unwrap();
        let z = solution.value(model.tensor_id("Z").unwrap()).to_f64_vec();
        let b = model.tensor_id("b").unwrap();
        let k = solution.derivation.gradients.iter().position(|g| g.param == b).unwrap();
        let db = solution.gradients[k].to_f64_vec();
        assert_eq!(solution.gradients[k].dims(), &[2], "{text}");
        // The same declarations read by NumPy: `name[dims] = literal` lines.
        let mut program = String::new();
        for line in declarations.lines() {
            let (head, value) = line.split_once(" = ").unwrap();
            let name = head.split_whitespace().nth(1).unwrap().split('[').next().unwrap();
            program += &format!("{name} = np.array({value}, dtype=float)\n");
        }
        program += &format!("Z = {}\nprint(json.dumps(Z.ravel().tolist()))\n", case.numpy_z);
        program += &format!("print(json.dumps(({}).ravel().tolist()))\n", case.numpy_db);
        let want = numpy(&python, &program);
        close(&z, &want[0], &format!("Z of\n{text}"));
        close(&db, &want[1], &format!("∂L/∂b of\n{text}"));
    }
}

/// The issue's own numbers: NumPy's [[5, 7], [11, 13]], not the column
/// reading's [[5, 6], [12, 13]].
#[test]
fn numpy_row_bias_by_hand() {
    let text = "input X[2,3] = [[1, 2, 3], [4, 5, 6]]\nparam W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\nZ = X @ W + b\nloss L = sum(Z)\n";
    let model = nnderive::load(&Source::new("bias.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    // X @ W = [[4, 5], [10, 11]]; + [1, 2] on each row.
    assert_eq!(solution.value(model.tensor_id("Z").unwrap()).to_f64_vec(), [5.0, 7.0, 11.0, 13.0]);
}

/// A row sum has one entry per row, so it stays a column in a rows layout:
/// `A * sum(A, axis = 1)` is NumPy's `A * A.sum(axis=1, keepdims=True)`,
/// as the derivation of a softmax on rows (attention) writes it.
#[test]
fn a_row_sum_stays_a_column_in_a_rows_layout() {
    let text = "layout rows\ninput A[2,2] = [[1, 2], [3, 4]]\nparam w = 1\nR = w * A\nZ = R * sum(R, axis = 1)\nM = R * mean(R, axis = 1)\nloss L = sum(Z) + sum(M)\n";
    let model = nnderive::load(&Source::new("rowsum.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    // Row sums 3 and 7: [[1·3, 2·3], [3·7, 4·7]]; means 1.5 and 3.5.
    assert_eq!(solution.value(model.tensor_id("Z").unwrap()).to_f64_vec(), [3.0, 6.0, 21.0, 28.0]);
    assert_eq!(solution.value(model.tensor_id("M").unwrap()).to_f64_vec(), [1.5, 3.0, 10.5, 14.0]);
}

/// Square, and nothing decides: an error, never a silent choice; either
/// statement, or a row or column shape, resolves it.
#[test]
fn an_undecided_square_layout_is_an_error_until_stated() {
    let body = "input X[2,2] = [[1, 2], [3, 4]]\ninput W[2,2] = [[1, 0], [0, 1]]\nparam b[2] = [4, 5]\nZ = X @ W + b\nloss L = sum(Z * Z)\n";
    let source = Source::new("sq.nn", body);
    let message = nnderive::load(&source).unwrap_err().rendered(&source);
    assert!(message.contains("can be read two ways"), "{message}");
    for fixed in [
        format!("layout rows\n{body}"),
        format!("layout columns\n{body}"),
        body.replace("b[2] = [4, 5]", "b[1,2] = [[4, 5]]"),
    ] {
        assert!(nnderive::load(&Source::new("sq.nn", fixed.clone())).is_ok(), "{fixed}");
    }
}

/// A vector that fits only as a row, where nothing says the examples are
/// rows, is still the shape error it was (`W1 * x` meant `W1 @ x`); its help
/// names `layout rows`.
#[test]
fn a_row_reading_needs_rows() {
    let text = "input X[4,3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 0, 1]]\ninput W[3,2] = [[1, 0], [0, 1], [1, 1]]\nparam b[2] = [1, 2]\nZ = X @ W + b\nloss L = sum(Z)\n";
    let source = Source::new("r.nn", text);
    let message = nnderive::load(&source).unwrap_err().rendered(&source);
    assert!(message.contains("shape mismatch") && message.contains("layout rows"), "{message}");
    assert!(nnderive::load(&Source::new("r.nn", format!("layout rows\n{text}"))).is_ok());
}
