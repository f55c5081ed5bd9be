//! `nnderive grade`: one submission, or a folder of them as a gradebook,
//! against one problem or against a folder of its variants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nnderive::eval::Solution;
use nnderive::grade::answers::{self, Format};
use nnderive::grade::{self as grading, report, Grade, Options};
use nnderive::model::Model;

use super::Exit;

/// A problem, solved once.
struct Problem {
    name: String,
    model: Model,
    solution: Solution,
}

/// Grades `answers` (a file or a folder) against `file` (a `.nn` file or a
/// folder of variants) and renders the result.
pub fn run(
    file: &Path,
    answers: &Path,
    json: bool,
    csv: bool,
    places: u32,
    weights: Option<&Path>,
) -> Result<String, Exit> {
    let weights = weights.map(read_weights).transpose()?;
    let variants = file.is_dir();
    let mut problems: HashMap<PathBuf, Problem> = HashMap::new();
    let stems = if variants { variant_stems(file)? } else { Vec::new() };
    let submissions: Vec<PathBuf> = if answers.is_dir() { submissions(answers)? } else { vec![answers.to_path_buf()] };
    let gradebook = answers.is_dir() || csv;
    let options = Options { places, weights, weights_from_answers: !gradebook };
    let mut rows: Vec<(String, Result<Grade, String>)> = Vec::new();
    let mut against = file.display().to_string();
    for submission in &submissions {
        let shown = submission.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let problem_path = if variants {
            match matching_variant(&stems, &shown) {
                Some(path) => path,
                None if gradebook => {
                    rows.push((shown, Err("no variant's name starts this file's name".into())));
                    continue;
                }
                None => {
                    return Err(format!(
                        "error: no variant in {} matches {shown}: name each submission after its variant, as NAME-01.json or NAME-01.alice.json\n",
                        file.display()
                    )
                    .into())
                }
            }
        } else {
            file.to_path_buf()
        };
        if !problems.contains_key(&problem_path) {
            problems.insert(problem_path.clone(), solve(&problem_path)?);
        }
        let problem = &problems[&problem_path];
        against = problem.name.clone();
        let bytes =
            std::fs::read(submission).map_err(|e| format!("error: cannot read {}: {e}\n", submission.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let mut read = answers::read(&text, Format::detect(&shown, &text));
        if std::str::from_utf8(&bytes).is_err() {
            read.problems.insert(0, "the answers are not UTF-8 text: the bytes that are not were replaced".into());
        }
        rows.push((shown, Ok(grading::grade(&problem.model, &problem.solution, &read, &options))));
    }
    if gradebook && !json {
        return Ok(report::gradebook(&rows));
    }
    if gradebook {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, grade)| match grade {
                Ok(g) => {
                    let mut value: serde_json::Value = serde_json::from_str(&report::json(g)).unwrap_or_default();
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("submission".into(), serde_json::json!(name));
                    }
                    value
                }
                Err(why) => serde_json::json!({"submission": name, "error": why}),
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n");
    }
    let Some((name, Ok(grade))) = rows.pop() else {
        return Err("error: nothing was graded\n".to_string().into());
    };
    Ok(if json { report::json(&grade) } else { report::text(&grade, &name, &against) })
}

/// Reads, checks and solves a problem; its errors are the file's.
fn solve(path: &Path) -> Result<Problem, Exit> {
    let source = super::read(path)?;
    let model = super::load(&source)?;
    nnderive::eval::require_values(&model, "grading (numbers to compare with)")
        .map_err(|e| super::report(&source, &e.into()))?;
    let solution = nnderive::solve(&model).map_err(|e| super::report(&source, &e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Problem { name, model, solution })
}

/// The teacher's weights: a JSON object of names and points.
fn read_weights(path: &Path) -> Result<Vec<(String, serde_json::Value)>, Exit> {
    let usage = |why: String| Exit { message: format!("error: --weights {}: {why}\n", path.display()), code: 2 };
    let text = std::fs::read_to_string(path).map_err(|e| usage(e.to_string()))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(_) => Err(usage("expected a JSON object of names and points, like {\"delta1\": 2, \"dW1\": 1}".into())),
        Err(e) => Err(usage(format!("not valid JSON: {e}"))),
    }
}

/// The answers files of a folder (`.json` and `.csv`), sorted by name.
fn submissions(dir: &Path) -> Result<Vec<PathBuf>, Exit> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("error: cannot read {}: {e}\n", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("json") || x.eq_ignore_ascii_case("csv")))
        .collect();
    out.sort();
    Ok(out)
}

/// The `.nn` files of a folder of variants, by stem.
fn variant_stems(dir: &Path) -> Result<Vec<(String, PathBuf)>, Exit> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("error: cannot read {}: {e}\n", dir.display()))?;
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "nn"))
        .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("error: {} holds no .nn files to grade against\n", dir.display()).into());
    }
    Ok(out)
}

/// The variant a submission is for: the longest variant name that its file
/// name is, or starts with followed by `.`, `-`, `_` or a space.
fn matching_variant(stems: &[(String, PathBuf)], file_name: &str) -> Option<PathBuf> {
    stems
        .iter()
        .filter(|(stem, _)| {
            file_name
                .strip_prefix(stem.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_', ' ']))
        })
        .max_by_key(|(stem, _)| stem.len())
        .map(|(_, p)| p.clone())
}
