//! `nnderive._native`: the Rust library behind the Python package.
//!
//! A thin boundary on purpose: each function takes a file's name and text
//! and the values given from Python, runs the library, and returns the
//! library's own outputs. `solve` computes the values only, in f64
//! (`eval::fast`), and hands them to NumPy as arrays, with a small JSON
//! skeleton of names and formulas (`render::json::solution_apart`, kept per
//! network by [`located`]); the exact solution, and from it the documents
//! (text, Markdown, LaTeX, JSON), the exact fractions and the notes, are
//! made by the returned [`Solved`] when the Python layer
//! (`nnderive/__init__.py`) first asks for them. Long calls
//! run without the GIL and stop on a signal (`KeyboardInterrupt`).
//! Errors raise `NativeError(rendered, line, column, message)`, where
//! `rendered` is exactly what the CLI prints (every error, in file order) and
//! the rest describe the first.

mod located;

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Num, Zero};
use numpy::PyArrayMethods;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use nnderive::derive::Derivation;
use nnderive::eval::fast::Computed;
use nnderive::eval::tensor::Data;
use nnderive::eval::Solution;
use nnderive::model::{refuse_value, GivenFault, Model};
use nnderive::render;
use nnderive::{Error, Source};

create_exception!(_native, NativeError, PyException, "An error about a .nn file: (rendered, line, column, message).");

/// A value given from Python: the tensor's name, its dims, its entries
/// row-major as exact fractions in hexadecimal (`"1b/14"` is 27/20,
/// `"-3/1"`; hexadecimal, because Python limits the decimal digits of an
/// int it converts to text, and not the hexadecimal ones), and what is
/// wrong with it when the Python layer found something ([`Fault`]).
type Given = (String, Vec<usize>, Vec<String>, Option<Fault>);

/// What the Python layer found wrong with a value: `(kind, index, found,
/// expected, found_len)`, where `kind` is `"not_finite"`, `"not_number"` or
/// `"exponent"` (with `found`, the entry as Python shows it) or `"ragged"`
/// (with the lengths, `None` for a number); see [`GivenFault`].
type Fault = (String, Vec<usize>, String, Option<usize>, Option<usize>);

fn fault(
    kind: &str,
    index: Vec<usize>,
    found: String,
    expected: Option<usize>,
    found_len: Option<usize>,
) -> GivenFault {
    match kind {
        "not_finite" => GivenFault::NotFinite { index, found },
        "exponent" => GivenFault::ExponentTooLarge { index, found },
        "ragged" => GivenFault::Ragged { index, expected, found: found_len },
        _ => GivenFault::NotNumber { index, found },
    }
}

/// An exact fraction in hexadecimal, `"-1b/14"`.
fn hex_fraction(text: &str) -> Option<BigRational> {
    let (numerator, denominator) = text.split_once('/')?;
    let numerator = BigInt::from_str_radix(numerator, 16).ok()?;
    let denominator = BigInt::from_str_radix(denominator, 16).ok()?;
    (!denominator.is_zero()).then(|| BigRational::new(numerator, denominator))
}

fn raise(source: &Source, error: &Error) -> PyErr {
    let diag = error.diagnostic();
    let rendered = render::diagnostic::report(&error.report(), &source.name, &source.text);
    let (line, column) = match diag.span {
        Some(span) => (Some(span.line), Some(span.column)),
        None => (None, None),
    };
    NativeError::new_err((rendered, line, column, render::diagnostic::visible(&diag.message)))
}

/// An error about an argument rather than the file: `error: MESSAGE`, no place.
fn argument_error(message: String) -> PyErr {
    let message = nnderive::diagnostic::visible_line(&message);
    NativeError::new_err((format!("error: {message}\n"), None::<u32>, None::<u32>, message))
}

/// Parses and checks `text`, then applies the given values in order.
fn model(name: &str, text: &str, given: Vec<Given>) -> PyResult<(Source, Model)> {
    let source = Source::new(name, text);
    let mut model = nnderive::load(&source).map_err(|e| raise(&source, &e))?;
    for (tensor, dims, entries, found) in given {
        let refuse = |model: &Model, f: GivenFault| raise(&source, &Error::from(refuse_value(model, &tensor, f)));
        if let Some((kind, index, what, expected, found_len)) = found {
            return Err(refuse(&model, fault(&kind, index, what, expected, found_len)));
        }
        let mut exact = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            match hex_fraction(e) {
                Some(x) => exact.push(x),
                None => return Err(refuse(&model, GivenFault::NotNumber { index: vec![i], found: format!("'{e}'") })),
            }
        }
        model = nnderive::with_value(model, &tensor, &dims, exact).map_err(|e| raise(&source, &Error::from(e)))?;
    }
    Ok((source, model))
}

/// A file's bytes as text; not UTF-8 is an error pointing at the first bad byte.
#[pyfunction]
fn decode(name: &str, bytes: &[u8]) -> PyResult<String> {
    Source::decode(name, bytes).map(|s| s.text).map_err(|e| raise(&Source::lossy(name, bytes), &e))
}

/// A checked network with the values given from Python applied, kept by
/// a `Net` so that solving it again does not read the file again.
#[pyclass]
struct Checked {
    checked: Guarded<Network>,
}

/// A file, its checked network, and the network's derivation, made by the
/// first solve and kept for the next: solving again pays only evaluation.
struct Network {
    source: Source,
    model: Model,
    derivation: std::cell::OnceCell<Arc<Derivation>>,
    /// The skeleton of the first f64 solution and where its values are.
    located: std::cell::OnceCell<Option<located::Located>>,
    /// The f64 evaluation compiled by the first solve (`eval::plan`).
    plan: std::cell::OnceCell<Option<nnderive::eval::plan::Plan>>,
    /// The kept skeleton as one Python string, handed out by every solve
    /// that reads it: Python caches a string's hash, so the package's
    /// lookup of the parsed skeleton by its text does not hash, compare
    /// or decode kilobytes again on each solve.
    skeleton_text: std::cell::OnceCell<Py<PyString>>,
}

impl Network {
    fn new((source, model): (Source, Model)) -> Self {
        Network {
            source,
            model,
            derivation: std::cell::OnceCell::new(),
            located: std::cell::OnceCell::new(),
            plan: std::cell::OnceCell::new(),
            skeleton_text: std::cell::OnceCell::new(),
        }
    }

    fn derivation(&self) -> &Arc<Derivation> {
        self.derivation.get_or_init(|| Arc::new(nnderive::derive::derive(&self.model)))
    }
}

/// The tensors of a checked file, `[(name, role, shape, has_value)]` in
/// file order (as tuples, not JSON that Python would parse again), and the
/// checked network.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new()))]
fn check(py: Python<'_>, name: &str, text: &str, given: Vec<Given>) -> PyResult<(Vec<Tensor>, Checked)> {
    let (source, model) = off_gil(py, || model(name, text, given))?;
    let tensors = model
        .tensors
        .values()
        .map(|t| (t.name.clone(), t.role.name(), t.shape.dims().to_vec(), t.value.is_some()))
        .collect();
    Ok((tensors, Checked { checked: Guarded::new(Network::new((source, model))) }))
}

/// A tensor as [`check`] lists it: its name, role, dims and whether it has a value.
type Tensor = (String, &'static str, Vec<usize>, bool);

/// The symbolic derivation: `(json, text)`, the formulas as
/// `render::json::derivation` writes them and the text `nnderive derive` prints.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new()))]
fn derive(name: &str, text: &str, given: Vec<Given>) -> PyResult<(String, String)> {
    let (_, model) = model(name, text, given)?;
    let derivation = nnderive::derive::derive(&model);
    Ok((render::json::derivation(&model, &derivation), render::text::derivation(&model, &derivation)))
}

/// A closure run without the GIL, with what it captures and returns, or
/// engine values kept by a Python object.
///
/// The engine's values hold cells (a tensor's f64 view, made on first use)
/// and, for values left open, `Rc`s, so they are not `Send`, and
/// `Python::detach` and `#[pyclass]` ask for it. A closure given to
/// `detach` runs at once on this thread. Values kept by a Python object
/// ([`Guarded`]) move between threads only whole, behind a mutex, with no
/// `Rc` of theirs left anywhere else: a model and a solution share none
/// (their only `Rc`s are the names of values left open, which the package
/// refuses before solving; the derivation a network and its solutions
/// share is behind an `Arc`, and read only).
struct Local<T>(T);

// SAFETY: see `Local`.
unsafe impl<T> Send for Local<T> {}

/// Engine values kept by a Python object, which any Python thread may use:
/// behind a mutex, locked only without the GIL (inside [`off_gil`]), so that
/// a thread waiting for it never holds the GIL that the holder needs.
struct Guarded<T>(Arc<Mutex<Local<T>>>);

impl<T> Clone for Guarded<T> {
    fn clone(&self) -> Self {
        Guarded(self.0.clone())
    }
}

impl<T> Guarded<T> {
    fn new(value: T) -> Self {
        Guarded(Arc::new(Mutex::new(Local(value))))
    }

    /// `f` of the value, alone; call it only without the GIL.
    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&guard.0)
    }
}

/// Runs `f` without the GIL, so that other Python threads go on meanwhile.
fn off_gil<T>(py: Python<'_>, f: impl FnOnce() -> T) -> T {
    let f = Local(f);
    py.detach(move || {
        let f = f;
        Local((f.0)())
    })
    .0
}

/// Runs `f` without the GIL, asking for signals every 20 ms or so of
/// evaluation (taking the GIL for that moment): a `KeyboardInterrupt` (or
/// any error a signal handler raised) stops the evaluation and is raised in
/// its place.
fn interruptible<T>(py: Python<'_>, f: impl FnOnce() -> T) -> PyResult<T> {
    let raised: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
    let out = off_gil(py, || {
        let hook = || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                raised.borrow_mut().replace(e);
                true
            }
        };
        nnderive::eval::cancel::with_hook(&hook, f)
    });
    match raised.into_inner() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A solved network, kept for the documents and exact values asked later:
/// `solve` computes the values in f64 only (`eval::fast`), and the exact
/// solution, which every document and fraction is made from, is computed
/// the first time one is asked for (each document is then cached by the
/// Python layer).
#[pyclass]
struct Solved {
    /// The file and its checked network, shared with the `Net`'s [`Checked`]
    /// (locked first, then `solution`).
    checked: Guarded<Network>,
    /// The f64 solution, or the exact one when `computed` says so.
    solution: Guarded<RefCell<Solution>>,
    computed: Computed,
    /// The exact solution, once asked for (when `computed` is `Float`).
    exact: Guarded<RefCell<Option<Solution>>>,
}

impl Solved {
    /// `f` of the checked network and the exact solution (solved now if it
    /// was not yet), without the GIL and interruptible. `f` may take the
    /// solution's values apart, but must leave it as it was.
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&Model, &mut Solution) -> R) -> PyResult<R> {
        let out = interruptible(py, || {
            self.checked.with(|net| {
                if self.computed == Computed::Exact {
                    return Ok(self.solution.with(|solution| f(&net.model, &mut solution.borrow_mut())));
                }
                self.exact.with(|cell| {
                    let mut cell = cell.borrow_mut();
                    if cell.is_none() {
                        let solution = nnderive::eval::solve_derived(&net.model, net.derivation().clone())
                            .map_err(|e| raise(&net.source, &e.into()))?;
                        *cell = Some(solution);
                    }
                    let solution = cell.as_mut().ok_or_else(|| argument_error("no exact solution".into()))?;
                    Ok(f(&net.model, solution))
                })
            })
        })?;
        out
    }
}

#[pymethods]
impl Solved {
    /// The solution as `nnderive solve --format json` writes it.
    fn json(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |model, solution| render::json::solution(model, solution, None))
    }

    /// The text document, as `nnderive solve [--round N]` prints it.
    #[pyo3(signature = (round = None))]
    fn text(&self, py: Python<'_>, round: Option<u32>) -> PyResult<String> {
        self.with(py, |model, solution| render::text::solution(model, solution, round))
    }

    /// The Markdown document (`--format markdown`).
    #[pyo3(signature = (round = None))]
    fn markdown(&self, py: Python<'_>, round: Option<u32>) -> PyResult<String> {
        self.with(py, |model, solution| render::markdown::document(model, solution, round))
    }

    /// The LaTeX document (`--format latex`).
    #[pyo3(signature = (round = None))]
    fn latex(&self, py: Python<'_>, round: Option<u32>) -> PyResult<String> {
        self.with(py, |model, solution| render::latex::document(model, solution, round))
    }

    /// The table of every named quantity (`render::quantities::json`), which `compare` reads.
    fn quantities(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |model, solution| {
            render::quantities::json(&render::quantities::Quantities::new(model, solution), solution)
        })
    }

    /// The exact entries of the values numbered `wanted` in the skeleton,
    /// row-major as `"27/20"` strings: `[(i, strings)]` for those that are
    /// exact in the exact solution (`render::json::exact_apart`; its values
    /// are numbered as the f64 solution's skeleton numbers them, since both
    /// solutions have the same quantities).
    fn exact(&self, py: Python<'_>, wanted: Vec<usize>) -> PyResult<Vec<(usize, Vec<String>)>> {
        let float = self.computed == Computed::Float;
        // A value exact in the f64 solution is made of constants alone (the
        // learning rate), the same fractions as the exact solution's: those
        // are answered without solving exactly.
        let own = off_gil(py, || {
            self.checked.with(|net| {
                self.solution.with(|solution| render::json::exact_apart(&net.model, &solution.borrow(), &wanted))
            })
        });
        if own.len() == wanted.len() {
            return Ok(own);
        }
        self.with(py, |model, solution| {
            if !float {
                return render::json::exact_apart(model, solution, &wanted);
            }
            // The f64 solution has none of the values only documents show
            // (`eval::fast`), and its skeleton numbers the values without
            // them: so are the exact solution's numbered here.
            let masks = std::mem::take(&mut solution.masks);
            let time_terms = std::mem::take(&mut solution.time_terms);
            let step_values = std::mem::take(&mut solution.step_values);
            let found = render::json::exact_apart(model, solution, &wanted);
            (solution.masks, solution.time_terms, solution.step_values) = (masks, time_terms, step_values);
            found
        })
    }

    /// The notes of the worked solution, as `--format json` writes them
    /// (from the exact solution: some notes are about exact arithmetic).
    fn notes(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |model, solution| {
            let (skeleton, _) = render::json::solution_apart(model, solution);
            let data: serde_json::Value = serde_json::from_str(&skeleton).unwrap_or_default();
            let notes = data.get("notes").and_then(|n| n.as_array()).cloned().unwrap_or_default();
            notes.iter().filter_map(|n| n.as_str().map(str::to_string)).collect()
        })
    }

    /// `"float"` when the values were computed in f64, `"exact"` when
    /// exactly (values left open, or an operand at a discontinuity).
    fn computed(&self) -> &'static str {
        match self.computed {
            Computed::Float => "float",
            Computed::Exact => "exact",
        }
    }

    /// The file's name, as given.
    fn name(&self, py: Python<'_>) -> String {
        off_gil(py, || self.checked.with(|net| net.source.name.clone()))
    }
}

/// A value handed to NumPy: entries of its own, or entries the kept f64
/// solution lends.
enum Handed {
    Own(render::json::ApartValue),
    /// Dims and the `Data::Float` buffer of a tensor of the solution that
    /// the returned [`Solved`] keeps (its address and length).
    Lent(Vec<usize>, *const f64, usize),
}

impl Handed {
    /// The values found in a kept f64 solution, each tensor's buffer lent
    /// (once: a buffer met again is copied, so that no two arrays share
    /// their entries), the writer's own values and any other data copied.
    fn found(found: Vec<located::Found<'_>>) -> Vec<Handed> {
        let mut lent = std::collections::HashSet::new();
        found
            .into_iter()
            .map(|f| match f {
                located::Found::Fixed(v) => Handed::Own(v.clone()),
                located::Found::Tensor(t) => match t.data() {
                    Data::Float(v) if !v.is_empty() && lent.insert(v.as_ptr()) => {
                        Handed::Lent(t.dims().to_vec(), v.as_ptr(), v.len())
                    }
                    _ => Handed::Own((t.dims().to_vec(), t.float_view().into_owned())),
                },
            })
            .collect()
    }

    /// The value as a float64 NumPy array of its shape, made from its
    /// entries without text in between: its own entries moved into the
    /// array, lent ones seen through it, with `solved` as the array's base.
    fn array<'py>(self, solved: &Bound<'py, Solved>) -> PyResult<Bound<'py, PyAny>> {
        let (dims, flat) = match self {
            Handed::Own((dims, entries)) => (dims, numpy::PyArray1::from_vec(solved.py(), entries)),
            Handed::Lent(dims, at, len) => {
                // SAFETY: `at` and `len` are the buffer of a `Data::Float`
                // tensor of the f64 solution that `solved` holds (moved
                // there whole: a Vec's buffer does not move with it), and
                // `solved`, the array's base, lives as long as the array.
                // That solution is never changed nor its f64 entries read
                // again (`Solved` borrows it mutably only when it is the
                // exact one, and `exact_apart` reads only exact tensors),
                // so the array may also be written to.
                let view = unsafe { numpy::ndarray::ArrayView1::from_shape_ptr(len, at) };
                (dims, unsafe { numpy::PyArray1::borrow_from_array(&view, solved.clone().into_any()) })
            }
        };
        Ok(flat.reshape(dims)?.into_any())
    }
}

/// The worked solution, values only: `(solved, skeleton, arrays)`. The
/// skeleton is `render::json::solution_apart`'s JSON (names, formulas,
/// `{"buffer": i}` for each value) of the f64 solution, `arrays` the values
/// as NumPy arrays in that order, and `solved` makes the documents, the
/// notes and the exact fractions when they are asked for.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new()))]
fn solve<'py>(py: Python<'py>, name: &str, text: &str, given: Vec<Given>) -> PyResult<SolvedArrays<'py>> {
    let checked = off_gil(py, || model(name, text, given))?;
    solve_model(py, Guarded::new(Network::new(checked)))
}

/// What `solve` returns: the solved network, the skeleton, the arrays.
type SolvedArrays<'py> = (Bound<'py, Solved>, Py<PyString>, Vec<Bound<'py, PyAny>>);

/// [`solve`] of a network checked before (a `Net`'s own values), whose
/// derivation is kept from one solve to the next.
#[pyfunction]
fn solve_checked<'py>(py: Python<'py>, checked: &Checked) -> PyResult<SolvedArrays<'py>> {
    solve_model(py, checked.checked.clone())
}

fn solve_model(py: Python<'_>, checked: Guarded<Network>) -> PyResult<SolvedArrays<'_>> {
    let solved = interruptible(py, || {
        checked.with(|net| {
            // The package hands values to NumPy: every one must be a number
            // (the command line's `solve` writes open values as expressions).
            nnderive::eval::require_values(&net.model, "solve in Python (NumPy arrays)")
                .map_err(|e| raise(&net.source, &e.into()))?;
            let (solution, computed) =
                nnderive::eval::fast::solve_float_cached(&net.model, net.derivation(), &net.plan)
                    .map_err(|e| raise(&net.source, &e.into()))?;
            let float = computed == Computed::Float;
            // The skeleton of an f64 solution is the network's: written
            // once, then its values are read from where they are.
            let kept = net.located.get().and_then(Option::as_ref).filter(|_| float);
            if let Some(found) = kept.and_then(|l| l.values(&solution)) {
                // The kept skeleton: its Python string is the network's.
                let handed = Handed::found(found);
                return Ok::<_, PyErr>((solution, computed, None, handed));
            }
            // The entries of an f64 solution's own tensors are not copied
            // but lent to NumPy.
            let lend = float && located::locatable(&solution);
            let places = if lend { located::places(&solution) } else { Default::default() };
            let lent = places.keys().copied().collect();
            let (skeleton, values, addresses) = render::json::solution_apart_lent(&net.model, &solution, lent);
            if !lend {
                return Ok((solution, computed, Some(skeleton), values.into_iter().map(Handed::Own).collect()));
            }
            let l = located::Located::new(&skeleton, &values, &addresses, &places);
            let Some(found) = l.values(&solution) else {
                // Not met (each value was read from the solution just now):
                // then the values are copied, as from any other solution.
                let (skeleton, values, _) = render::json::solution_apart_from(&net.model, &solution);
                return Ok((solution, computed, Some(skeleton), values.into_iter().map(Handed::Own).collect()));
            };
            let handed = Handed::found(found);
            if net.located.get().is_none() {
                let _ = net.located.set(Some(l));
            }
            Ok((solution, computed, Some(skeleton), handed))
        })
    })?;
    let (solution, computed, skeleton, handed) = solved?;
    let skeleton = match skeleton {
        Some(text) => PyString::new(py, &text).unbind(),
        None => checked.with(|net| {
            let kept = net.located.get().and_then(Option::as_ref).map_or("", |l| l.skeleton.as_str());
            net.skeleton_text.get_or_init(|| PyString::new(py, kept).unbind()).clone_ref(py)
        }),
    };
    let exact = Guarded::new(RefCell::new(None));
    let solved = Bound::new(py, Solved { checked, solution: Guarded::new(RefCell::new(solution)), computed, exact })?;
    let arrays = handed.into_iter().map(|h| h.array(&solved)).collect::<PyResult<Vec<_>>>()?;
    Ok((solved, skeleton, arrays))
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
    nnderive::eval::require_values(&model, "grading (numbers to compare with)")
        .map_err(|e| raise(&source, &e.into()))?;
    let solution = nnderive::solve(&model).map_err(|e| raise(&source, &e))?;
    let format = match format {
        "json" => Format::Json,
        "csv" => Format::Csv,
        other => return Err(argument_error(format!("format must be 'json' or 'csv', not {other:?}"))),
    };
    let weights = match weights {
        None => None,
        Some(w) => match serde_json::from_str::<serde_json::Value>(w) {
            Ok(serde_json::Value::Object(map)) => Some(map.into_iter().collect()),
            _ => return Err(argument_error("weights must map names to points, like {\"delta1\": 2}".into())),
        },
    };
    let options = nnderive::grade::Options { places, weights, weights_from_answers: true };
    let graded = nnderive::grade::grade(&model, &solution, &answers::read(answers, format), &options);
    let shown = std::path::Path::new(name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((nnderive::grade::report::json(&graded), nnderive::grade::report::text(&graded, "answers", &shown)))
}

/// Finite-difference check of every derived gradient: `(worst relative error, text report)`.
#[pyfunction]
#[pyo3(signature = (name, text, given, tolerance))]
fn gradcheck(
    py: Python<'_>,
    name: &str,
    text: &str,
    given: Vec<Given>,
    tolerance: &Bound<'_, PyAny>,
) -> PyResult<(f64, String)> {
    // The command line's rule for `--tolerance`; a bool is not a number here.
    let value = match tolerance.is_instance_of::<PyBool>() {
        true => None,
        false => tolerance.extract::<f64>().ok(),
    };
    let tolerance = match value.map(nnderive::eval::check_tolerance) {
        Some(Ok(t)) => t,
        Some(Err(why)) => return Err(argument_error(format!("invalid tolerance {}: {why}", tolerance.repr()?))),
        None => return Err(argument_error(format!("invalid tolerance {}: it is not a number", tolerance.repr()?))),
    };
    let (source, model) = model(name, text, given)?;
    let out = interruptible(py, || {
        nnderive::gradcheck(&model).map(|check| (check.worst(), render::text::gradcheck(&model, &check, tolerance)))
    })?;
    out.map_err(|e| raise(&source, &e))
}

/// The computational graph as DOT text, as `nnderive graph` writes it;
/// with `grad`, the backward flow and each gradient beside its node.
#[pyfunction]
#[pyo3(signature = (name, text, given = Vec::new(), grad = false))]
fn graph(name: &str, text: &str, given: Vec<Given>, grad: bool) -> PyResult<String> {
    let (_, model) = model(name, text, given)?;
    let derivation = nnderive::derive::derive(&model);
    Ok(render::graph::dot::dot(&render::graph::build(&model, &derivation, grad)))
}

/// DOT text drawn as SVG by Graphviz's `dot` (found on the PATH); when it
/// is missing or fails, `NativeError` with the command line's message.
#[pyfunction]
fn graph_svg(dot: &str) -> PyResult<String> {
    render::graph::svg::svg(dot).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default().to_string();
        NativeError::new_err((format!("error: {message}\n"), None::<usize>, None::<usize>, first))
    })
}

/// `text` as one line safe to show (a control or direction character as
/// its picture, ESC as ␛), as the command line shows a file's name.
#[pyfunction]
fn visible_line(text: &str) -> String {
    nnderive::diagnostic::visible_line(text)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_class::<Solved>()?;
    m.add_class::<Checked>()?;
    m.add_function(wrap_pyfunction!(solve_checked, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(derive, m)?)?;
    m.add_function(wrap_pyfunction!(solve, m)?)?;
    m.add_function(wrap_pyfunction!(gradcheck, m)?)?;
    m.add_function(wrap_pyfunction!(graph, m)?)?;
    m.add_function(wrap_pyfunction!(graph_svg, m)?)?;
    m.add_function(wrap_pyfunction!(visible_line, m)?)?;
    m.add_function(wrap_pyfunction!(grade, m)?)?;
    Ok(())
}
