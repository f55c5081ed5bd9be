//! `nnderive._native`: the Rust library behind the Python package.
//!
//! A thin boundary on purpose: each function takes a file's name and text
//! and the values given from Python, runs the library, and returns the
//! library's own outputs as strings (the JSON contract of
//! `render::json`, the Markdown, LaTeX and text documents). The Python layer
//! (`nnderive/__init__.py`) turns them into NumPy arrays and `Fraction`s.
//! Errors raise `NativeError(rendered, line, column, message)`, where
//! `rendered` is exactly what the CLI prints (every error, in file order) and
//! the rest describe the first.

use std::str::FromStr;

use num_rational::BigRational;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

use nnderive::model::Model;
use nnderive::render;
use nnderive::{Error, Source};

create_exception!(_native, NativeError, PyException, "An error about a .nn file: (rendered, line, column, message).");

/// A value given from Python: the tensor's name, its dims, and its entries
/// row-major as exact fractions (`"27/20"`, `"-3"`).
type Given = (String, Vec<usize>, Vec<String>);

fn raise(source: &Source, error: &Error) -> PyErr {
    let diag = error.diagnostic();
    let rendered = render::diagnostic::report(&error.report(), &source.name, &source.text);
    let (line, column) = match diag.span {
        Some(span) => (Some(span.line), Some(span.column)),
        None => (None, None),
    };
    NativeError::new_err((rendered, line, column, render::diagnostic::visible(&diag.message)))
}

/// Parses and checks `text`, then applies the given values in order.
fn model(name: &str, text: &str, given: Vec<Given>) -> PyResult<(Source, Model)> {
    let source = Source::new(name, text);
    let mut model = nnderive::load(&source).map_err(|e| raise(&source, &e))?;
    for (tensor, dims, entries) in given {
        let entries = entries
            .iter()
            .map(|e| {
                BigRational::from_str(e)
                    .map_err(|_| PyValueError::new_err(format!("{tensor}: '{e}' is not an exact number like '27/20'")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        model = nnderive::with_value(model, &tensor, &dims, entries).map_err(|e| raise(&source, &Error::from(e)))?;
    }
    Ok((source, model))
}

/// A file's bytes as text; not UTF-8 is an error pointing at the first bad byte.
#[pyfunction]
fn decode(name: &str, bytes: &[u8]) -> PyResult<String> {
    Source::decode(name, bytes).map(|s| s.text).map_err(|e| raise(&Source::lossy(name, bytes), &e))
}

/// The tensors of a checked file, as JSON: `[{"name", "role", "shape", "has_value"}]`.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new()))]
fn check(name: &str, text: &str, given: Vec<Given>) -> PyResult<String> {
    let (_, model) = model(name, text, given)?;
    let tensors: Vec<serde_json::Value> = model
        .tensors
        .values()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "role": t.role.name(),
                "shape": t.shape.dims(),
                "has_value": t.value.is_some(),
            })
        })
        .collect();
    Ok(serde_json::Value::Array(tensors).to_string())
}

/// The symbolic derivation: `(json, text)`, the formulas as
/// `render::json::derivation` writes them and the text `nnderive derive` prints.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new()))]
fn derive(name: &str, text: &str, given: Vec<Given>) -> PyResult<(String, String)> {
    let (_, model) = model(name, text, given)?;
    let derivation = nnderive::derive::derive(&model);
    Ok((render::json::derivation(&model, &derivation), render::text::derivation(&model, &derivation)))
}

/// The worked solution: `(json, text, markdown, latex, quantities)`. The
/// JSON is at full precision (`round` only shapes the documents);
/// `quantities` is the table of every named quantity
/// (`render::quantities::json`), which `compare` reads.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new(), round = None))]
fn solve(
    name: &str,
    text: &str,
    given: Vec<Given>,
    round: Option<u32>,
) -> PyResult<(String, String, String, String, String)> {
    let (source, model) = model(name, text, given)?;
    // The package hands values to NumPy: every one must be a number (the
    // command line's `solve` writes open values as expressions instead).
    nnderive::eval::require_values(&model, "solve in Python (NumPy arrays)").map_err(|e| raise(&source, &e))?;
    let solution = nnderive::solve(&model).map_err(|e| raise(&source, &e))?;
    Ok((
        render::json::solution(&model, &solution, None),
        render::text::solution(&model, &solution, round),
        render::markdown::document(&model, &solution, round),
        render::latex::document(&model, &solution, round),
        render::quantities::json(&render::quantities::Quantities::new(&model, &solution), &solution),
    ))
}

/// Grades a student's answers (`answers`: the text of a JSON or CSV file,
/// `format` `"json"` or `"csv"`) against the solved network: `(json, text)`,
/// the report as `nnderive grade` writes it. `weights`, when given, is a
/// JSON object of points per part and takes the place of the answers' own.
#[pyfunction]
#[pyo3(signature = (name, text, given, answers, format, places, weights = None))]
fn grade(
    name: &str,
    text: &str,
    given: Vec<Given>,
    answers: &str,
    format: &str,
    places: u32,
    weights: Option<&str>,
) -> PyResult<(String, String)> {
    use nnderive::grade::answers::{self, Format};
    let (source, model) = model(name, text, given)?;
    nnderive::eval::require_values(&model, "grading (numbers to compare with)").map_err(|e| raise(&source, &e))?;
    let solution = nnderive::solve(&model).map_err(|e| raise(&source, &e))?;
    let format = match format {
        "json" => Format::Json,
        "csv" => Format::Csv,
        other => return Err(PyValueError::new_err(format!("format must be 'json' or 'csv', not {other:?}"))),
    };
    let weights = match weights {
        None => None,
        Some(w) => match serde_json::from_str::<serde_json::Value>(w) {
            Ok(serde_json::Value::Object(map)) => Some(map.into_iter().collect()),
            _ => return Err(PyValueError::new_err("weights must map names to points, like {\"delta1\": 2}")),
        },
    };
    let options = nnderive::grade::Options { places, weights, weights_from_answers: true };
    let graded = nnderive::grade::grade(&model, &solution, &answers::read(answers, format), &options);
    let shown = std::path::Path::new(name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((nnderive::grade::report::json(&graded), nnderive::grade::report::text(&graded, "answers", &shown)))
}

/// Finite-difference check of every derived gradient: `(worst relative error, text report)`.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new(), tolerance = 1e-6))]
fn gradcheck(name: &str, text: &str, given: Vec<Given>, tolerance: f64) -> PyResult<(f64, String)> {
    let (source, model) = model(name, text, given)?;
    let check = nnderive::gradcheck(&model).map_err(|e| raise(&source, &e))?;
    Ok((check.worst(), render::text::gradcheck(&model, &check, tolerance)))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(derive, m)?)?;
    m.add_function(wrap_pyfunction!(solve, m)?)?;
    m.add_function(wrap_pyfunction!(gradcheck, m)?)?;
    m.add_function(wrap_pyfunction!(grade, m)?)?;
    Ok(())
}
