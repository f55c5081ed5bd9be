//! A grade as text (for the terminal), as JSON (`{parts: [{name, status,
//! score, max, message}], score, max}` and more), and many grades as a CSV
//! gradebook (one row per submission, one column per part).

use serde_json::{json, Value};

use super::mistakes::ordinal;
use super::{Grade, Status};
use crate::layout::{display_width, pad_right};

/// Points as a person writes them: `1`, `0.5`, `2.25`.
pub fn points(x: f64) -> String {
    let rounded = (x * 100.0).round() / 100.0;
    let text = format!("{rounded:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The tolerance in words: `±0.00005 (half a unit of the 4th decimal)`.
fn tolerance(grade: &Grade) -> String {
    let digits = format!("{:.*}", grade.places as usize + 1, grade.tolerance);
    format!("±{digits} (half a unit of the {} decimal)", ordinal(grade.places))
}

/// The grade as the terminal shows it: one line per part, then the score
/// and what could not be read.
pub fn text(grade: &Grade, answers: &str, problem: &str) -> String {
    let mut out = format!("{answers} against {problem}, each entry within {}\n", tolerance(grade));
    let name_w = grade.parts.iter().map(|p| display_width(&p.name)).max().unwrap_or(0);
    let status_w = grade.parts.iter().map(|p| p.status.name().len()).max().unwrap_or(0);
    let score_w = grade.parts.iter().map(|p| format!("{}/{}", points(p.score), points(p.max)).len()).max().unwrap_or(0);
    for p in &grade.parts {
        let score = format!("{}/{}", points(p.score), points(p.max));
        let line = format!(
            "  {}  {}  {}  {}",
            pad_right(&p.name, name_w),
            pad_right(p.status.name(), status_w),
            pad_right(&score, score_w),
            p.message
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out += &format!("score {} of {}\n", points(grade.score), points(grade.max));
    for problem in &grade.problems {
        out += &format!("note: {problem}\n");
    }
    out
}

/// The grade as pretty-printed JSON.
pub fn json(grade: &Grade) -> String {
    let parts: Vec<Value> = grade
        .parts
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "label": p.label,
                "status": p.status.name(),
                "score": p.score,
                "max": p.max,
                "message": p.message,
                "first_wrong": p.first_wrong.as_ref().map(|w| json!({
                    "index": w.index.iter().map(|i| i + 1).collect::<Vec<_>>(),
                    "numpy_index": w.index,
                    "yours": w.yours,
                    "expected": w.expected,
                })),
                "mistake": p.mistake,
            })
        })
        .collect();
    let root = json!({
        "parts": parts,
        "score": grade.score,
        "max": grade.max,
        "problems": grade.problems,
        "round": grade.places,
        "tolerance": grade.tolerance,
    });
    let mut text = serde_json::to_string_pretty(&root).unwrap_or_default();
    text.push('\n');
    text
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The gradebook: a header `submission,<part>…,score,max,notes`, then one
/// row per submission (in the order given) with each part's points; a
/// submission that could not be graded has empty points and the reason
/// in `notes`.
pub fn gradebook(rows: &[(String, Result<Grade, String>)]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for (_, grade) in rows {
        for p in grade.iter().flat_map(|g| &g.parts) {
            if !columns.contains(&p.name) {
                columns.push(p.name.clone());
            }
        }
    }
    let mut out = String::from("submission");
    for c in &columns {
        out.push(',');
        out.push_str(&field(c));
    }
    out.push_str(",score,max,notes\n");
    for (name, grade) in rows {
        out.push_str(&field(name));
        match grade {
            Ok(g) => {
                for c in &columns {
                    out.push(',');
                    if let Some(p) = g.parts.iter().find(|p| &p.name == c) {
                        out.push_str(&points(p.score));
                    }
                }
                let notes: Vec<String> = g
                    .parts
                    .iter()
                    .filter(|p| matches!(p.status, Status::Unreadable))
                    .map(|p| format!("{}: {}", p.name, p.message))
                    .chain(g.problems.iter().cloned())
                    .collect();
                out += &format!(",{},{},{}\n", points(g.score), points(g.max), field(&notes.join("; ")));
            }
            Err(why) => {
                out.push_str(&",".repeat(columns.len() + 2));
                out += &format!(",{}\n", field(why));
            }
        }
    }
    out
}
