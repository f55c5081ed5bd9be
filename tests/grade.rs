//! `nnderive grade`: submissions written from an independent f64 backprop
//! of the assignment (right, wrong in known ways, carried forward), in JSON
//! and CSV, malformed ones, and gradebooks over a folder, against one
//! problem and against a folder of its variants.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assignment_backprop, assignment_fprime, Backprop, ASSIGNMENT};
use nnderive::grade::answers::{self, Format};
use nnderive::grade::{grade, Grade, Options, Status};
use serde_json::{json, Value};

fn round4(x: f64) -> f64 {
    // Half away from zero, as the keys round, on the decimal nearest x.
    let scaled = x * 1e4;
    let r = scaled.round();
    r / 1e4
}

fn rounded(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| round4(x)).collect()
}

/// A row-major matrix as nested lists.
fn matrix(v: &[f64], cols: usize) -> Value {
    json!(v.chunks(cols).map(|r| r.to_vec()).collect::<Vec<_>>())
}

/// Every quantity of the assignment, rounded to 4 decimals, as a student
/// writes them: names as `compare()` takes them.
fn submission(b: &Backprop) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("Z1".into(), json!(rounded(&b.z1)));
    m.insert("H".into(), json!(rounded(&b.h)));
    m.insert("Z2".into(), json!(rounded(&b.z2)));
    m.insert("yhat".into(), json!(rounded(&b.yhat)));
    m.insert("L".into(), json!(round4(b.loss)));
    m.insert("delta2".into(), json!(rounded(&b.delta2)));
    m.insert("δ1".into(), json!(rounded(&b.delta1)));
    m.insert("dW1".into(), matrix(&rounded(&b.dw1), 4));
    m.insert("db1".into(), json!(rounded(&b.delta1)));
    m.insert("W2".into(), matrix(&rounded(&b.dw2), 3));
    m.insert("dL/db2".into(), json!(rounded(&b.delta2)));
    m.insert("W1_new".into(), matrix(&rounded(&b.w1_new), 4));
    m.insert("b1_new".into(), json!(rounded(&b.b1_new)));
    m.insert("W2_new".into(), matrix(&rounded(&b.w2_new), 3));
    m.insert("b2_new".into(), json!(rounded(&b.b2_new)));
    m
}

fn assignment() -> (nnderive::model::Model, nnderive::eval::Solution) {
    let model = nnderive::load(&common::source(&common::example("assignment4.nn"))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    (model, solution)
}

fn options() -> Options {
    Options { places: 4, weights: None, weights_from_answers: true }
}

fn graded(text: &str, format: Format) -> Grade {
    let (model, solution) = assignment();
    grade(&model, &solution, &answers::read(text, format), &options())
}

fn part<'g>(g: &'g Grade, name: &str) -> &'g nnderive::grade::Part {
    g.parts.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no part {name}"))
}

#[test]
fn every_key_value_scores_full() {
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let g = graded(&Value::Object(submission(&right)).to_string(), Format::Json);
    assert_eq!((g.score, g.max), (15.0, 15.0), "{}", nnderive::grade::report::text(&g, "a", "b"));
    assert!(g.parts.iter().all(|p| p.status == Status::Correct));
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    // And exactly as `solve --round 4` prints the key.
    let (model, solution) = assignment();
    let key: Value = serde_json::from_str(&nnderive::render::json::solution(&model, &solution, Some(4))).unwrap();
    let mut answers = serde_json::Map::new();
    for (section, prefix, suffix) in
        [("forward", "", ""), ("deltas", "", ""), ("gradients", "d", ""), ("updated", "", "_new")]
    {
        for (name, q) in key[section].as_object().unwrap() {
            answers.insert(format!("{prefix}{name}{suffix}"), q["value"].clone());
        }
    }
    answers.insert("L".into(), key["loss"]["value"].clone());
    let g = graded(&Value::Object(answers).to_string(), Format::Json);
    assert_eq!(g.score, 15.0);
}

#[test]
fn a_wrong_delta_carried_forward_is_consistent() {
    // δ1 with relu′ alone for f′ (cos forgotten); every later part from it.
    let wrong = assignment_backprop(ASSIGNMENT, |t| f64::from(u8::from(t > 0.0)));
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    assert!(wrong.delta1.iter().zip(&right.delta1).any(|(a, b)| (a - b).abs() > 0.01));
    let g = graded(&Value::Object(submission(&wrong)).to_string(), Format::Json);
    let d1 = part(&g, "delta1");
    assert_eq!(d1.status, Status::Wrong);
    let first = d1.first_wrong.as_ref().unwrap();
    let k = (0..3).find(|&k| (round4(wrong.delta1[k]) - right.delta1[k]).abs() > 5e-5).unwrap();
    assert_eq!(first.index, vec![k]);
    assert_eq!(first.yours, round4(wrong.delta1[k]));
    assert!(d1.message.starts_with(&format!("first wrong entry [{}] (NumPy [{k}])", k + 1)), "{}", d1.message);
    for name in ["dW1", "db1", "W1_new", "b1_new"] {
        let p = part(&g, name);
        assert_eq!(p.status, Status::Consistent, "{name}: {}", p.message);
        assert_eq!(p.score, 1.0);
    }
    assert!(part(&g, "dW1").message.contains("your own delta1 (error carried forward)"));
    assert_eq!(g.score, 14.0);
    // ∂L/∂W1 from the δ1 as the student wrote it (rounded), then rounded
    // again: still consistent.
    let mut m = submission(&wrong);
    let x = ASSIGNMENT[0];
    let d1 = rounded(&wrong.delta1);
    let from_rounded: Vec<f64> = d1.iter().flat_map(|d| x.iter().map(move |x| round4(d * x))).collect();
    m.insert("dW1".into(), matrix(&from_rounded, 4));
    let g = graded(&Value::Object(m).to_string(), Format::Json);
    assert_eq!(part(&g, "dW1").status, Status::Consistent);
    // A right δ1 carried with its rounding is correct, not consistent.
    let mut m = submission(&right);
    let d1 = rounded(&right.delta1);
    let carried: Vec<f64> = d1.iter().flat_map(|d| x.iter().map(move |x| round4(d * x))).collect();
    m.insert("dW1".into(), matrix(&carried, 4));
    let g = graded(&Value::Object(m).to_string(), Format::Json);
    assert_eq!(part(&g, "dW1").status, Status::Correct, "{}", part(&g, "dW1").message);
}

#[test]
fn mistakes_are_named() {
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let mut m = submission(&right);
    // ∂L/∂W1 transposed ([4, 3]); ∂L/∂W2 with its sign flipped; δ1 with
    // f in place of f′; H as Z1; the update adding the gradient.
    let dw1 = rounded(&right.dw1);
    let transposed: Vec<Vec<f64>> = (0..4).map(|j| (0..3).map(|i| dw1[i * 4 + j]).collect()).collect();
    m.insert("dW1".into(), json!(transposed));
    m.insert("W2".into(), matrix(&rounded(&right.dw2.iter().map(|x| -x).collect::<Vec<_>>()), 3));
    let with_f = assignment_backprop(ASSIGNMENT, |t| t.max(0.0) + t.sin());
    m.insert("δ1".into(), json!(rounded(&with_f.delta1)));
    m.insert("db1".into(), json!(rounded(&with_f.delta1)));
    m.insert("H".into(), json!(rounded(&right.z1)));
    let [_, _, _, b1, _, _] = ASSIGNMENT;
    let added: Vec<f64> = b1.iter().zip(&right.delta1).map(|(b, d)| b + 0.001 * d).collect();
    m.insert("b1_new".into(), json!(rounded(&added)));
    let g = graded(&Value::Object(m).to_string(), Format::Json);
    let dw1 = part(&g, "dW1");
    assert_eq!((dw1.status, dw1.mistake), (Status::Wrong, Some("transpose")));
    assert!(dw1.message.contains("you gave [4, 3], the transpose of the answer"), "{}", dw1.message);
    let dw2 = part(&g, "dW2");
    assert_eq!((dw2.status, dw2.mistake), (Status::Wrong, Some("sign")), "{}", dw2.message);
    let d1 = part(&g, "delta1");
    assert_eq!(d1.mistake, Some("activation-for-derivative"), "{}", d1.message);
    assert!(d1.message.contains("H in place of f′(Z1)"), "{}", d1.message);
    assert_eq!(part(&g, "H").mistake, Some("other-quantity"));
    assert!(part(&g, "H").message.contains("these are the values of Z1"));
    assert_eq!(part(&g, "b1_new").mistake, Some("update-sign"), "{}", part(&g, "b1_new").message);
    // The later parts, from the δ1 the student wrote, are consistent.
    assert_eq!(part(&g, "db1").status, Status::Consistent);
}

/// A square gradient transposed is named by its values, since its shape is right.
#[test]
fn a_square_transpose_is_named() {
    let model = nnderive::load(&common::source(&common::example("sigmoid_mse.nn"))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let key = solution.gradients[0].to_f64_vec();
    let transposed = json!([[round4(key[0]), round4(key[2])], [round4(key[1]), round4(key[3])]]);
    let text = json!({ "dW1": transposed, "weights": {"dW1": 1} }).to_string();
    let g = grade(&model, &solution, &answers::read(&text, Format::Json), &options());
    assert_eq!(g.parts.len(), 1);
    assert_eq!(g.parts[0].mistake, Some("transpose"), "{}", g.parts[0].message);
}

/// The batch's mean over three examples: a δ without its 1/N is three times the answer.
#[test]
fn a_missing_one_over_n_is_named() {
    let model = nnderive::load(&common::source(&common::example("assignment4_batch.nn"))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let delta2 = solution
        .symbols
        .iter()
        .find(|(s, _)| solution.derivation.symbol(*s).kind == nnderive::derive::SymbolKind::Delta { layer: 2 })
        .unwrap()
        .1
        .to_f64_vec();
    let times_n: Vec<f64> = delta2.iter().map(|d| round4(3.0 * d)).collect();
    let text = json!({ "Delta2": matrix(&times_n, 3) }).to_string();
    let g = grade(&model, &solution, &answers::read(&text, Format::Json), &options());
    let p = part(&g, "delta2");
    assert_eq!(p.mistake, Some("factor"));
    assert!(p.message.contains("a missing 1/N: your values are N = 3 times the answer"), "{}", p.message);
    let over_n: Vec<f64> = delta2.iter().map(|d| round4(d / 3.0)).collect();
    let text = json!({ "Delta2": matrix(&over_n, 3) }).to_string();
    let g = grade(&model, &solution, &answers::read(&text, Format::Json), &options());
    assert!(
        part(&g, "delta2").message.contains("an extra 1/N: your values are the answer divided by N = 3"),
        "{}",
        part(&g, "delta2").message
    );
}

#[test]
fn csv_submissions() {
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let mut csv = String::from("name,row,col,value\n");
    for (i, v) in rounded(&right.z1).iter().enumerate() {
        csv += &format!("Z1,{},,{v}\n", i + 1);
    }
    for (k, v) in rounded(&right.dw1).iter().enumerate() {
        csv += &format!("dW1,{},{},{v}\n", k / 4 + 1, k % 4 + 1);
    }
    csv += &format!("L,,,{}\n", round4(right.loss));
    // δ1 as a column, one entry that is not a number.
    csv += &format!("delta1,1,1,{}\ndelta1,2,1,{}\ndelta1,3,1,n/a\n", round4(right.delta1[0]), round4(right.delta1[1]));
    let weights = r#"{"Z1": 1, "dW1": 2, "L": 1, "delta1": 1}"#;
    let (model, solution) = assignment();
    let options = Options {
        places: 4,
        weights: Some(serde_json::from_str::<serde_json::Map<String, Value>>(weights).unwrap().into_iter().collect()),
        weights_from_answers: false,
    };
    let g = grade(&model, &solution, &answers::read(&csv, Format::Csv), &options);
    assert_eq!((g.score, g.max), (4.0, 5.0));
    let d1 = part(&g, "delta1");
    assert_eq!(d1.status, Status::Unreadable);
    assert_eq!(d1.message, "your entry [3] ('n/a', line 20) is not a number");
    // An entry left out is named.
    let short: String = csv.lines().filter(|l| !l.starts_with("dW1,3,4")).map(|l| format!("{l}\n")).collect();
    let g = grade(&model, &solution, &answers::read(&short, Format::Csv), &options);
    assert_eq!(part(&g, "dW1").message, "entry [3, 4] is missing (it is [3, 4])");
}

#[test]
fn malformed_answers_get_a_message_per_part() {
    let text = r#"{"Z1": [1.35, 0.35], "H": [[1, 2], [3]], "L": "one", "yhat": {"a": 1}, "detla2": [0, 0],
        "dW2": [[1, 2, 3], [4, 5, "six"]], "b1_new": null, "delta2": [0.5, 0.5], "dL/dZ2": [0.5, 0.5],
        "weights": {"Z1": 2, "H": 1, "L": 1, "yhat": 1, "dW2": 1, "b1_new": 1, "db1": 1, "dW3": 1, "W2_new": "x"}}"#;
    let g = graded(text, Format::Json);
    let message = |n: &str| (part(&g, n).status, part(&g, n).message.clone());
    assert_eq!(message("Z1"), (Status::Wrong, "expected [3], you gave [2]".into()));
    assert_eq!(message("H").0, Status::Unreadable);
    assert!(message("H").1.contains("rows have different lengths"));
    assert_eq!(message("L"), (Status::Unreadable, "your value (\"one\") is not a number".into()));
    assert_eq!(message("yhat"), (Status::Unreadable, "your value (an object) is not a number".into()));
    assert_eq!(message("dW2"), (Status::Unreadable, "your entry [2, 3] (\"six\") is not a number".into()));
    assert_eq!(message("b1_new"), (Status::Unreadable, "your value (null) is not a number".into()));
    assert_eq!(message("db1"), (Status::Missing, "not given".into()));
    assert_eq!(g.max, 8.0);
    assert_eq!(g.score, 0.0);
    let problems = g.problems.join("\n");
    assert!(
        problems.contains("an answer for 'detla2', which this problem has no quantity of (did you mean delta2?)"),
        "{problems}"
    );
    assert!(problems.contains("'dL/dZ2' is delta2 again: the first value given is graded"), "{problems}");
    assert!(problems.contains("a weight for 'dW3'"), "{problems}");
    assert!(problems.contains("the weight of 'W2_new' is \"x\""), "{problems}");
    for bad in ["", "[1, 2]", "{\"Z1\": [1, 2,]}", "name,row\nZ1", "\u{0}\u{1}"] {
        for format in [Format::Json, Format::Csv] {
            let g = graded(bad, format);
            assert_eq!(g.score, 0.0);
            assert_eq!(g.parts.len(), 15);
        }
    }
}

fn cli(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nnderive")).args(args).current_dir(dir).output().unwrap()
}

#[test]
fn the_command_grades_one_file_and_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let wrong = assignment_backprop(ASSIGNMENT, |t| f64::from(u8::from(t > 0.0)));
    let dir = tmp.path().join("submissions");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("ada.json"), Value::Object(submission(&right)).to_string()).unwrap();
    std::fs::write(dir.join("bob.json"), Value::Object(submission(&wrong)).to_string()).unwrap();
    std::fs::write(dir.join("cy.csv"), format!("Z1,1,,{}\nZ1,2,,x\n", round4(right.z1[0]))).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a submission").unwrap();
    let file = common::example("assignment4.nn");
    let file = file.to_str().unwrap();
    let one = cli(&["grade", file, "submissions/bob.json"], tmp.path());
    assert!(one.status.success());
    let text = String::from_utf8(one.stdout).unwrap();
    assert!(
        text.starts_with(
            "bob.json against assignment4.nn, each entry within ±0.00005 (half a unit of the 4th decimal)\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("score 14 of 15\n"), "{text}");
    let json: Value =
        serde_json::from_slice(&cli(&["grade", file, "submissions/bob.json", "--format", "json"], tmp.path()).stdout)
            .unwrap();
    assert_eq!(json["score"], json!(14.0));
    assert_eq!(json["max"], json!(15.0));
    let d1 = json["parts"].as_array().unwrap().iter().find(|p| p["name"] == "delta1").unwrap();
    assert_eq!(d1["status"], "wrong");
    for key in ["name", "status", "score", "max", "message"] {
        assert!(d1.get(key).is_some(), "{key}");
    }
    let book = cli(&["grade", file, "submissions"], tmp.path());
    assert!(book.status.success());
    let book = String::from_utf8(book.stdout).unwrap();
    let lines: Vec<&str> = book.lines().collect();
    assert_eq!(
        lines[0],
        "submission,Z1,H,Z2,yhat,L,delta2,delta1,dW1,db1,dW2,db2,W1_new,b1_new,W2_new,b2_new,score,max,notes"
    );
    assert_eq!(lines[1], "ada.json,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,15,15,");
    assert_eq!(lines[2], "bob.json,1,1,1,1,1,1,0,1,1,1,1,1,1,1,1,14,15,");
    assert_eq!(
        lines[3],
        "cy.csv,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,15,\"Z1: your entry [2] ('x', line 2) is not a number\""
    );
    assert_eq!(lines.len(), 4);
    let wrong_part = json["parts"].as_array().unwrap().iter().find(|p| p["name"] == "delta1").unwrap();
    assert_eq!(wrong_part["first_wrong"]["index"], json!([1]));
    assert_eq!(wrong_part["first_wrong"]["numpy_index"], json!([0]));
    assert_eq!(wrong_part["first_wrong"]["expected"], json!("0.6671"));
    // A folder in JSON: a list of reports, each with its submission.
    let list: Value =
        serde_json::from_slice(&cli(&["grade", file, "submissions", "--format", "json"], tmp.path()).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!((list[1]["submission"].clone(), list[1]["score"].clone()), (json!("bob.json"), json!(14.0)));
    // A submission's own weights count alone, not in a gradebook.
    let mut own = submission(&right);
    own.insert("weights".into(), json!({"Z1": 1}));
    std::fs::write(dir.join("ada.json"), Value::Object(own).to_string()).unwrap();
    let alone: Value =
        serde_json::from_slice(&cli(&["grade", file, "submissions/ada.json", "--format", "json"], tmp.path()).stdout)
            .unwrap();
    assert_eq!(alone["max"], json!(1.0));
    let again = String::from_utf8(cli(&["grade", file, "submissions"], tmp.path()).stdout).unwrap();
    assert!(
        again
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("ada.json,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,15,15,the answers' own weights are not used here"),
        "{again}"
    );
    std::fs::write(dir.join("ada.json"), Value::Object(submission(&right)).to_string()).unwrap();
    // -o writes the same to a file.
    assert!(cli(&["grade", file, "submissions", "-o", "book.csv"], tmp.path()).status.success());
    assert_eq!(std::fs::read_to_string(tmp.path().join("book.csv")).unwrap(), book);
    // A .nn file with an error stops with it (exit 1); a bad weights file is a usage error.
    assert_eq!(cli(&["grade", "nope.nn", "submissions"], tmp.path()).status.code(), Some(1));
    std::fs::write(tmp.path().join("w.json"), "[1]").unwrap();
    assert_eq!(cli(&["grade", file, "submissions", "--weights", "w.json"], tmp.path()).status.code(), Some(2));
}

#[test]
fn submissions_are_graded_against_their_own_variant() {
    let tmp = tempfile::tempdir().unwrap();
    let file = common::example("assignment4.nn");
    let made = cli(
        &["vary", file.to_str().unwrap(), "--count", "3", "--seed", "11", "-o", "variants", "--no-pdf"],
        tmp.path(),
    );
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    // Each student answers from their own variant's values, computed here.
    for k in 1..=3 {
        let text = std::fs::read_to_string(tmp.path().join(format!("variants/assignment4-0{k}.nn"))).unwrap();
        let model = nnderive::load(&nnderive::Source::new("v.nn", text)).unwrap();
        let v = |n: &str| {
            model.tensors[n]
                .value
                .as_ref()
                .unwrap()
                .iter()
                .map(|d| num_traits::ToPrimitive::to_f64(&d.to_rational()).unwrap())
                .collect::<Vec<f64>>()
        };
        let (x, y, w1, b1, w2, b2) = (v("x"), v("y"), v("W1"), v("b1"), v("W2"), v("b2"));
        let b = assignment_backprop([&x, &y, &w1, &b1, &w2, &b2], assignment_fprime);
        // Named after the variant, then `.`, `_` or `-` and anything.
        let name =
            ["assignment4-01.student1.json", "assignment4-02_student2.json", "assignment4-03-student3.json"][k - 1];
        std::fs::write(tmp.path().join(format!("in/{name}")), Value::Object(submission(&b)).to_string()).unwrap();
    }
    // One submission answers the wrong variant.
    std::fs::copy(tmp.path().join("in/assignment4-01.student1.json"), tmp.path().join("in/assignment4-02.copied.json"))
        .unwrap();
    std::fs::write(tmp.path().join("in/unnamed.json"), "{}").unwrap();
    // .key.json files beside the variants are not submissions: only the answers folder is read.
    let book = cli(&["grade", "variants", "in"], tmp.path());
    assert!(book.status.success(), "{}", String::from_utf8_lossy(&book.stderr));
    let book = String::from_utf8(book.stdout).unwrap();
    let score = |name: &str| -> String {
        let line = book.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in\n{book}"));
        let fields: Vec<&str> = line.split(',').collect();
        fields[fields.len() - 3].to_string()
    };
    assert_eq!(score("assignment4-01.student1.json"), "15");
    assert_eq!(score("assignment4-02_student2.json"), "15");
    assert_eq!(score("assignment4-03-student3.json"), "15");
    assert_ne!(score("assignment4-02.copied.json"), "15");
    assert!(
        book.lines()
            .any(|l| l.starts_with("unnamed.json,") && l.ends_with("no variant's name starts this file's name")),
        "{book}"
    );
}

/// The wrong submission's report, reviewed as a whole.
#[test]
fn a_report_to_read() {
    let wrong = assignment_backprop(ASSIGNMENT, |t| f64::from(u8::from(t > 0.0)));
    let mut m = submission(&wrong);
    let dw2: Vec<f64> = rounded(&wrong.dw2).iter().map(|x| -x).collect();
    m.insert("W2".into(), matrix(&dw2, 3));
    let g = graded(&Value::Object(m).to_string(), Format::Json);
    common::settings().bind(|| {
        insta::assert_snapshot!(
            "grade_report_text",
            nnderive::grade::report::text(&g, "answers.json", "assignment4.nn")
        );
    });
}

fn graded_file(example: &str, text: &str) -> Grade {
    let model = nnderive::load(&common::source(&common::example(example))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    grade(&model, &solution, &answers::read(text, Format::Json), &options())
}

fn value_of(example: &str, name: &str) -> (Vec<f64>, Vec<usize>) {
    let model = nnderive::load(&common::source(&common::example(example))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let q = nnderive::render::quantities::Quantities::new(&model, &solution);
    let v = q.value(q.find(name).unwrap(), &solution).unwrap();
    (v.to_f64_vec(), v.dims().to_vec())
}

/// relu in place of its derivative step, and σ in place of σ(1 − σ): the
/// error term computed with the activation's value where its slope belongs.
#[test]
fn the_activation_for_its_derivative_is_named_for_built_ins() {
    // batch_rows: Δ1 = (Δ2 W2ᵀ) ⊙ step(Z1); with relu(Z1) = H instead.
    let (d2, _) = value_of("batch_rows.nn", "delta2");
    let model = nnderive::load(&common::source(&common::example("batch_rows.nn"))).unwrap();
    let w2: Vec<f64> = model.tensors["W2"]
        .value
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| num_traits::ToPrimitive::to_f64(&d.to_rational()).unwrap())
        .collect();
    let (h, _) = value_of("batch_rows.nn", "H");
    // Δ2 [4, 3], W2 [4, 3]: (Δ2 W2ᵀ)[n, i] = Σ_k Δ2[n, k] W2[i, k], then ⊙ H [4, 4].
    let mistaken: Vec<f64> = (0..4)
        .flat_map(|n| (0..4).map(move |i| (n, i)))
        .map(|(n, i)| (0..3).map(|k| d2[n * 3 + k] * w2[i * 3 + k]).sum::<f64>() * h[n * 4 + i])
        .collect();
    let g = graded_file("batch_rows.nn", &json!({ "Delta1": matrix(&rounded(&mistaken), 4) }).to_string());
    let p = part(&g, "delta1");
    assert_eq!(p.mistake, Some("activation-for-derivative"), "{}", p.message);
    assert!(p.message.contains("H in place of step(Z1)"), "{}", p.message);
    // sigmoid_mse: δ1 = (W2ᵀ δ2) ⊙ h ⊙ (1 − h); with h alone.
    let (d2, _) = value_of("sigmoid_mse.nn", "delta2");
    let (h, _) = value_of("sigmoid_mse.nn", "h");
    let w2 = [0.40, 0.45, 0.50, 0.55];
    let mistaken: Vec<f64> = (0..2).map(|j| (w2[j] * d2[0] + w2[2 + j] * d2[1]) * h[j]).collect();
    let g = graded_file("sigmoid_mse.nn", &json!({ "delta1": rounded(&mistaken) }).to_string());
    let p = part(&g, "delta1");
    assert_eq!(p.mistake, Some("activation-for-derivative"), "{}", p.message);
}

/// The update without its learning rate; a gradient twice the answer; an
/// answer with its last digit cut off rather than rounded.
#[test]
fn more_mistakes_are_named() {
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let [_, _, w1, _, _, _] = ASSIGNMENT;
    let no_rate: Vec<f64> = w1.iter().zip(&right.dw1).map(|(w, g)| w - g).collect();
    let twice: Vec<f64> = right.dw2.iter().map(|g| 2.0 * g).collect();
    let cut: Vec<f64> = right.h.iter().map(|x| (x * 1e4).trunc() / 1e4).collect();
    assert!(cut.iter().zip(&right.h).any(|(c, h)| (c - h).abs() > 5e-5), "some entry must round up");
    let text = json!({
        "W1_new": matrix(&rounded(&no_rate), 4),
        "dW2": matrix(&rounded(&twice), 3),
        "H": cut,
    })
    .to_string();
    let g = graded(&text, Format::Json);
    assert_eq!(part(&g, "W1_new").mistake, Some("no-learning-rate"), "{}", part(&g, "W1_new").message);
    assert!(part(&g, "W1_new").message.contains("with α = 0.001"));
    assert_eq!(part(&g, "dW2").mistake, Some("factor"));
    assert!(
        part(&g, "dW2").message.contains("a factor of 2: your values are the answer times 2"),
        "{}",
        part(&g, "dW2").message
    );
    assert_eq!(part(&g, "H").mistake, Some("rounding"), "{}", part(&g, "H").message);
    // Any factor the entries agree on, but not for one number alone.
    let times: Vec<f64> = right.dw1.iter().map(|g| 1.5 * g).collect();
    let text = json!({ "dW1": matrix(&rounded(&times), 4), "L": round4(1.5 * right.loss) }).to_string();
    let g = graded(&text, Format::Json);
    assert!(
        part(&g, "dW1").message.contains("a constant factor: your values are the answer times 1.5"),
        "{}",
        part(&g, "dW1").message
    );
    assert_eq!(part(&g, "L").mistake, None);
}

/// Vectors as columns or rows, scalars as one-entry lists, CSV indices for
/// a rank-3 map, and a spelling two quantities share naming neither.
#[test]
fn shapes_and_names_are_fitted() {
    let right = assignment_backprop(ASSIGNMENT, assignment_fprime);
    let column: Vec<Vec<f64>> = rounded(&right.z1).into_iter().map(|v| vec![v]).collect();
    let text = json!({ "Z1": column, "H": [rounded(&right.h)], "L": [[round4(right.loss)]], "weights": {"Z1": 1, "H": 1, "L": 1} }).to_string();
    let g = graded(&text, Format::Json);
    assert_eq!((g.score, g.max), (3.0, 3.0), "{}", nnderive::grade::report::text(&g, "a", "b"));
    // cnn.nn's Z1 is [2, 3, 3]: one index per dimension.
    let (z1, dims) = value_of("cnn.nn", "Z1");
    assert_eq!(dims, [2, 3, 3]);
    let mut csv = String::new();
    for (k, v) in z1.iter().enumerate() {
        csv += &format!("Z1,{},{},{},{}\n", k / 9 + 1, k / 3 % 3 + 1, k % 3 + 1, round4(*v));
    }
    let model = nnderive::load(&common::source(&common::example("cnn.nn"))).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let g = grade(&model, &solution, &answers::read(&csv, Format::Csv), &options());
    assert_eq!(part(&g, "Z1").status, Status::Correct, "{}", part(&g, "Z1").message);
    // yhat and y_hat both print ŷ.
    let source = nnderive::Source::new(
        "hats.nn",
        "input x[2] = [1, 2]\nparam W[2,2] = [[0.5, -0.5], [0.25, 1]]\nyhat = W @ x\ny_hat = 2 * yhat\nloss L = sum(y_hat)\n",
    );
    // The checker refuses two names that print alike, so no answer's
    // spelling can stand for two declared names.
    let refused = nnderive::load(&source).unwrap_err();
    assert!(format!("{refused:?}").contains("PrintsAlike"), "{refused:?}");
    // A quantity's own name wins over another's spelling: an equation named
    // dZ1 is dZ1, and the δ at Z1 keeps its other spellings.
    let source = nnderive::Source::new(
        "names.nn",
        "input x[2] = [1, 2]\nparam W[2,2] = [[0.5, -0.5], [0.25, 1]]\nZ1 = W @ x\ndZ1 = relu(Z1)\nloss L = sum(dZ1)\n",
    );
    let model = nnderive::load(&source).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let quantities = nnderive::render::quantities::Quantities::new(&model, &solution);
    let equation = quantities.find("dZ1").unwrap();
    assert_eq!(quantities.list[equation].kind, nnderive::render::quantities::Kind::Forward);
    let delta = quantities.find("delta1").unwrap();
    assert_eq!(quantities.find("dL/dZ1"), Some(delta));
}

/// The guide's table of names is the table nnderive uses, row for row.
#[test]
fn the_guide_lists_every_name() {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grading.md")).unwrap();
    let (model, solution) = assignment();
    let quantities = nnderive::render::quantities::Quantities::new(&model, &solution);
    let rows: Vec<&str> = guide
        .lines()
        .filter(|l| {
            l.starts_with("| `")
                && !l.starts_with("| `uniform")
                && !l.starts_with("| `choice")
                && !l.starts_with("| `onehot")
                && !l.starts_with("| `fixed")
        })
        .collect();
    assert_eq!(rows.len(), quantities.len());
    for (row, q) in rows.iter().zip(&quantities.list) {
        let also: Vec<String> = q.aliases.iter().map(|a| format!("`{a}`")).collect();
        let also = if also.is_empty() { " ".to_string() } else { format!(" {} ", also.join(", ")) };
        assert_eq!(*row, format!("| `{}` | {} |{also}|", q.name, q.label));
        for a in &q.aliases {
            assert_eq!(quantities.find(a), quantities.find(&q.name), "{a}");
        }
    }
}

/// Every example's own key, rounded to 4 decimals as `solve --round 4`
/// prints it and named by each quantity's printed name, scores full: the
/// table, the fitting of shapes and the tolerance hold for recurrent,
/// convolutional and batch networks and every optimizer.
#[test]
fn every_examples_key_scores_full() {
    for entry in std::fs::read_dir(common::example("")).unwrap() {
        let path = entry.unwrap().path();
        let model = nnderive::load(&common::source(&path)).unwrap();
        if !nnderive::eval::open_values(&model).is_empty() {
            continue;
        }
        let solution = nnderive::solve(&model).unwrap();
        let quantities = nnderive::render::quantities::Quantities::new(&model, &solution);
        let mut answers = serde_json::Map::new();
        for (i, q) in quantities.list.iter().enumerate() {
            let value = quantities.value(i, &solution).unwrap();
            let rounded: Vec<f64> = (0..value.len()).map(|k| value.format_entry(k, Some(4)).parse().unwrap()).collect();
            // Nested by shape, innermost lists first.
            let mut level: Vec<Value> = rounded.into_iter().map(|x| json!(x)).collect();
            for &n in value.dims().iter().rev() {
                let mut items = level.into_iter();
                let groups = items.len() / n.max(1);
                level = (0..groups).map(|_| Value::Array(items.by_ref().take(n).collect())).collect();
            }
            answers.insert(q.label.clone(), level.pop().unwrap());
        }
        let g = grade(&model, &solution, &answers::read(&Value::Object(answers).to_string(), Format::Json), &options());
        assert_eq!(g.score, g.max, "{}:\n{}", path.display(), nnderive::grade::report::text(&g, "key", "file"));
        assert_eq!(g.max as usize, quantities.len());
        assert!(g.problems.is_empty(), "{}: {:?}", path.display(), g.problems);
    }
}
