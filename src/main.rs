//! The `nnderive` command line: arguments in, a library call, a renderer out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use nnderive::render;
use nnderive::{Error, Source};

#[path = "cli/output.rs"]
mod output;
#[path = "cli/snapshot.rs"]
mod snapshot;
#[path = "cli/grade.rs"]
mod grade;
#[path = "cli/variants.rs"]
mod variants;
#[path = "cli/serve/mod.rs"]
mod serve;

use output::Target;

/// Derives and computes neural-network gradients the way a textbook writes them.
///
/// Describe a network in a `.nn` file (tensors, scalar functions, forward
/// equations, a loss and a training step); nnderive checks it, derives every
/// gradient in matrix-calculus form with error terms δk, evaluates it exactly
/// where the arithmetic allows, and applies the training step.
#[derive(Parser)]
#[command(name = "nnderive", version, about, long_about)]
#[command(
    after_help = "Examples:\n  nnderive solve grammar/examples/assignment4.nn --round 4\n  nnderive derive grammar/examples/assignment4.nn\n  nnderive solve net.nn --format latex -o answer.tex\n  nnderive key net.nn --hide values --round 4 --format latex -o handout.tex\n  nnderive test problems/\n  nnderive vary net.nn --count 30 --seed 7 -o variants\n  nnderive grade variants submissions -o gradebook.csv\n  nnderive graph net.nn -o net.svg\n  nnderive gradcheck net.nn\n  nnderive serve net.nn\n\nExit status: 0 success, 1 a problem with the input file, 2 a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check a file, then list each tensor with its role and shape.
    Check {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print a file in the canonical layout (comments kept, meaning unchanged).
    Fmt {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// Print nothing; exit 1 if the file is not already formatted.
        #[arg(long)]
        check: bool,
    },
    /// Derive the gradients symbolically: forward equations, the derivative of
    /// each custom function, every error term δ with its steps, every parameter
    /// gradient. Needs no numbers.
    Derive {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// Output notation.
        #[arg(long, value_enum, default_value_t = DeriveFormat::Text)]
        format: DeriveFormat,
        /// The title of a LaTeX or Markdown document.
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
        /// Write to this file instead of standard output (written whole, or not at all).
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Solve the network: forward values, loss, every δ and gradient with
    /// formula and value, and the parameters after the training step.
    Solve {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// Round every printed value to N decimals (half away from zero,
        /// decided on the exact value). Without it, values are printed at
        /// full precision.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=30))]
        round: Option<u32>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SolveFormat::Text)]
        format: SolveFormat,
        /// Write to this file instead of standard output: a file is written
        /// whole or not at all (a new file renamed over it); a device such
        /// as /dev/null or a terminal, or /dev/stdout, is written in place.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Give a declared tensor a value, in the file's literal syntax
        /// (`--given 'y=[0, 1]'`); repeatable. It fills a value the file
        /// leaves open or replaces the file's. A value left open stays a
        /// symbol: what depends on it is written as an expression in it.
        #[arg(long, value_name = "NAME=VALUE")]
        given: Vec<String>,
        /// Solve once for each one-hot value of a target (`--cases y=onehot`)
        /// and show the answers side by side, after the answer in general
        /// form (with the target left open).
        #[arg(long, value_name = "NAME=onehot")]
        cases: Option<String>,
        /// With `--format numpy`: leave out the values nnderive computed and
        /// the check against them (the file is then only the computation).
        #[arg(long)]
        bare: bool,
        /// The title of a LaTeX or Markdown document.
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
        /// Draw the computational graph after the forward pass (LaTeX and
        /// Markdown). LaTeX draws it with TikZ (pdflatex alone, no
        /// Graphviz); Markdown embeds an SVG drawn by Graphviz's `dot`, or,
        /// with `--graph=FILE.svg`, writes that file and links it (GitHub
        /// shows linked images, not embedded ones).
        #[arg(long, value_name = "SVG", num_args = 0..=1, require_equals = true, default_missing_value = "")]
        graph: Option<String>,
    },
    /// The worked solution as an answer key or a handout: parts numbered
    /// as a problem set numbers them (1. forward pass, 2. loss, 3. error
    /// terms, 4. gradients, 5. update), each quantity lettered (a), (b)…;
    /// `--hide values` leaves a blank per entry, `--hide formulas` a blank
    /// for each derived formula.
    Key {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// What to leave blank for the student to fill in.
        #[arg(long, value_enum, default_value_t = HideArg::None)]
        hide: HideArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = KeyFormat::Text)]
        format: KeyFormat,
        /// Round every computed value to N decimals (as `solve --round`);
        /// a blank is as wide as such a value.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=30))]
        round: Option<u32>,
        /// The document's title (default: "Answer key", or "Exercise: …" for a handout).
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
        /// Give a declared tensor a value, as for `solve` (repeatable).
        #[arg(long, value_name = "NAME=VALUE")]
        given: Vec<String>,
        /// Write to this file instead of standard output (written whole, or not at all).
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Snapshot-test files: each file's derivation and worked solution (as
    /// `derive` and `solve --round N` print them) against the snapshot kept
    /// beside it in `__snapshots__/NAME.snap`. A difference is shown as a
    /// unified diff and its new text written to `NAME.snap.new`; a file
    /// without a snapshot gets a `.snap.new` too. Exit 1 unless every
    /// snapshot matches (or, with --accept, is accepted).
    Test {
        /// `.nn` files, or directories whose `.nn` files are tested (in order of name).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Accept the new texts: write each as the snapshot and remove any `.snap.new`.
        #[arg(long)]
        accept: bool,
        /// Round the solution's values to N decimals. Default: the rounding
        /// the snapshot was written at, and 4 for a new one.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=30))]
        round: Option<u32>,
    },
    /// Draw the computational graph: one node per tensor (name and shape),
    /// one per operation, inputs, targets, parameters and the loss styled
    /// apart; a recurrence as one step with its loop. DOT text by default;
    /// SVG through Graphviz's `dot`.
    Graph {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// Output format: DOT text, or SVG drawn by Graphviz's `dot` (on the
        /// PATH). Without it: SVG when `-o` names a `.svg` file, else DOT.
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
        /// Write to this file instead of standard output (written whole, or not at all).
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Draw the backward flow too: each edge that carries a gradient,
        /// reversed, and each error term and gradient beside its node.
        #[arg(long)]
        grad: bool,
    },
    /// Serve a local web page: an editor for the file on the left, its
    /// derivation, worked solution, graph and values on the right, derived
    /// again at each edit. Listens on 127.0.0.1 only; works offline.
    Serve {
        /// The `.nn` file to edit and save (created on the first save if it
        /// does not exist). Without it the page opens an example and cannot save.
        file: Option<PathBuf>,
        /// The port to listen on (0: any free port, printed at start).
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
    /// Check every derived gradient against central finite differences; exit 1
    /// if any relative error is above the tolerance.
    #[command(allow_negative_numbers = true)]
    Gradcheck {
        /// The `.nn` file, or `-` for standard input.
        file: PathBuf,
        /// The largest acceptable relative error (a positive number).
        #[arg(long, default_value_t = 1e-6, value_parser = positive_finite)]
        tolerance: f64,
        /// Check every entry of every parameter; by default at most
        /// 64 entries of each, spread evenly over it (each entry costs two
        /// forward passes).
        #[arg(long)]
        all: bool,
        /// Give a declared tensor a value, as for `solve` (repeatable).
        #[arg(long, value_name = "NAME=VALUE")]
        given: Vec<String>,
    },
    /// Grade a student's numbers, part by part (every forward value, the
    /// loss, each δ, each gradient, each updated parameter), with credit
    /// for error carried forward. ANSWERS is JSON (`{"Z1": [...], "delta1":
    /// [...]}`, nested lists by shape, optional `"weights": {...}`) or CSV
    /// (`name,row,col,value`, counting from 1); a folder of them gives a CSV
    /// gradebook, one row per file.
    Grade {
        /// The problem: a `.nn` file, or a folder of variants (`NAME-01.nn`
        /// …), each submission graded against the variant its file name
        /// starts with (`NAME-01.json`, `NAME-01.alice.csv`).
        file: PathBuf,
        /// The answers: a JSON or CSV file, or a folder of them.
        answers: PathBuf,
        /// Output format: text or json for one submission; a folder gives
        /// a CSV gradebook (or, with json, a list of grades).
        #[arg(long, value_enum, default_value_t = GradeFormat::Text)]
        format: GradeFormat,
        /// The decimal places the answers are asked to: each entry may be off
        /// by half a unit of the last one.
        #[arg(long, value_name = "N", default_value_t = nnderive::grade::DEFAULT_PLACES, value_parser = clap::value_parser!(u32).range(0..=12))]
        round: u32,
        /// Points per part, a JSON object (`{"delta1": 2, "dW1": 1}`): only
        /// the parts it names are graded. Without it, a `weights` section of
        /// a single answers file counts, else every part is worth 1.
        #[arg(long, value_name = "FILE")]
        weights: Option<PathBuf>,
        /// Write to this file instead of standard output (written whole, or not at all).
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Make variants of a problem: each a complete `.nn` file with the same
    /// structure and new numbers, with its answer key beside it
    /// (`NAME-01.nn`, `NAME-01.key.md`, `NAME-01.key.json`, and
    /// `NAME-01.key.pdf` when pdflatex is on the PATH). Reproducible from the
    /// seed, pairwise distinct, and well-posed at the asked precision.
    Vary {
        /// The `.nn` file.
        file: PathBuf,
        /// How many variants.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=nnderive::vary::MAX_COUNT as u64))]
        count: u64,
        /// The seed: the same file, count and seed give the same variants.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// The folder to write to (made if missing).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// The decimal places the answers are asked to: keys are rounded to
        /// it and every variant has one clear answer at it.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=12))]
        round: u32,
        /// How far every kink argument (relu at 0, a tie of max) and every
        /// gap in a max-pool window must stay from its hazard (default: 100
        /// units of the asked place, 0.01 at 4 decimals).
        #[arg(long, value_name = "M", value_parser = margin)]
        margin: Option<num_rational::BigRational>,
        /// Replace another set of variants of the same file in the folder.
        #[arg(long)]
        force: bool,
        /// Write no PDF keys, even when pdflatex is on the PATH.
        #[arg(long)]
        no_pdf: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DeriveFormat {
    /// Unicode mathematics (ŷ, ⊙, δ2).
    Text,
    /// A `.nn` file that checks: the declarations (shapes only), the
    /// forward pass, and each derived quantity as an equation.
    Nn,
    /// The formulas as JSON, in text, `.nn` and LaTeX notation.
    Json,
    /// A standalone LaTeX document of the formulas.
    Latex,
    /// A Markdown document of the formulas (math for KaTeX or MathJax).
    Markdown,
}

/// What `key --hide` leaves blank.
#[derive(Clone, Copy, ValueEnum)]
enum HideArg {
    /// Nothing: the answer key.
    None,
    /// Every computed value (a blank per entry, in the value's shape).
    Values,
    /// Every derived formula (the values stay).
    Formulas,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT text, written by nnderive.
    Dot,
    /// SVG, drawn from the DOT text by Graphviz's `dot`.
    Svg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GradeFormat {
    Text,
    Json,
    /// A gradebook: one row per submission, one column per part.
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum SolveFormat {
    Text,
    Json,
    Latex,
    Markdown,
    /// A Python file (NumPy only) that computes every value by the derived
    /// formulas, prints them as JSON and checks them against nnderive's.
    Numpy,
}

/// The formats of an answer key or handout: the documents and the data.
#[derive(Clone, Copy, ValueEnum)]
enum KeyFormat {
    Text,
    Json,
    Latex,
    Markdown,
}

/// The options that go with `--format numpy` only, or not with it: usage
/// errors (exit 2) found before any work is done.
fn numpy_options(format: SolveFormat, round: Option<u32>, cases: Option<&str>, bare: bool) -> Result<(), Exit> {
    let numpy = matches!(format, SolveFormat::Numpy);
    let problem = match (numpy, round.is_some(), cases.is_some(), bare) {
        (false, _, _, true) => "--bare goes with --format numpy only (it leaves out the values the Python file checks against)",
        (true, true, _, _) => "--round does not go with --format numpy: the Python file computes in float64 and checks every value at full precision",
        (true, _, true, _) => "--cases does not go with --format numpy: the Python file computes one solution (give the target with --given instead)",
        _ => return Ok(()),
    };
    Err(Exit { message: format!("error: {problem}\n"), code: 2 })
}

/// A non-negative decimal (for `--margin`), read exactly as a file reads it.
fn margin(text: &str) -> Result<num_rational::BigRational, String> {
    match nnderive::syntax::parse_given(&format!("m={text}")) {
        Ok((_, nnderive::syntax::ast::Literal::Number(n))) if !num_traits::Signed::is_negative(&n.value) => Ok(n.value),
        _ => Err("write a number of 0 or more, such as 0.01".into()),
    }
}

/// A positive, finite number (for `--tolerance`).
fn positive_finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) => nnderive::eval::check_tolerance(x).map_err(String::from),
        Err(e) => Err(format!("{e}; write a number such as 1e-6")),
    }
}

fn main() -> ExitCode {
    output::guard_standard_streams();
    let cli = Cli::parse();
    output::remove_temporary_file_on_interrupt();
    match run(cli.command) {
        Ok(code) => code,
        Err(Exit { message, code }) => {
            let _ = std::io::stderr().write_all(message.as_bytes());
            ExitCode::from(code)
        }
    }
}

/// Why a command stopped: the rendered message for standard error and the
/// exit status (1 for the input file, 2 for an option's value).
struct Exit {
    message: String,
    code: u8,
}

impl From<String> for Exit {
    fn from(message: String) -> Exit {
        Exit { message, code: 1 }
    }
}

/// Runs a command; `Err` carries the rendered error and the exit status.
fn run(command: Command) -> Result<ExitCode, Exit> {
    match command {
        Command::Check { file } => {
            let source = read(&file)?;
            let model = load(&source)?;
            emit(&render::summary::check_summary(&model))
        }
        Command::Fmt { file, check } => {
            let source = read(&file)?;
            let ast = nnderive::parse(&source).map_err(|e| report(&source, &e))?;
            let formatted = nnderive::syntax::format(&ast);
            if check {
                if formatted == source.text {
                    return Ok(ExitCode::SUCCESS);
                }
                let name = shown(&source.name);
                return Err(format!(
                    "{name} is not formatted; run `nnderive fmt {name}` to see the canonical layout\n"
                )
                .into());
            }
            emit(&formatted)
        }
        Command::Derive { file, format, title, output } => {
            if !matches!(format, DeriveFormat::Latex | DeriveFormat::Markdown) {
                document_title_only(&title)?;
            }
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
            let source = read(&file)?;
            let model = load(&source)?;
            let derivation = nnderive::derive::derive(&model);
            let title = title.as_deref().unwrap_or(render::document::DERIVATION_TITLE);
            let text = match format {
                DeriveFormat::Text => render::text::derivation(&model, &derivation),
                DeriveFormat::Nn => render::nn::derivation(&model, &derivation).map_err(|e| {
                    format!(
                        "error: {} cannot be written as a .nn file: {}\n  = help: `nnderive derive {}` prints the derivation in mathematical notation, and `--format latex` or `--format markdown` as a document\n",
                        source.name,
                        e.message(),
                        source.name
                    )
                })?,
                DeriveFormat::Json => render::json::derivation(&model, &derivation),
                DeriveFormat::Latex => render::latex::write(render::document::derivation(&model, &derivation), title),
                DeriveFormat::Markdown => {
                    render::markdown::write(render::document::derivation(&model, &derivation), title)
                }
            };
            deliver(target, &text)
        }
        Command::Solve { file, round, format, output, given, cases, bare, title, graph } => {
            numpy_options(format, round, cases.as_deref(), bare)?;
            if !matches!(format, SolveFormat::Latex | SolveFormat::Markdown) {
                document_title_only(&title)?;
            }
            // Check where the output goes before doing the work.
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
            let graph_file = graph_option(graph.as_deref().map(Path::new), format, output.as_deref(), &file)?;
            let source = read(&file)?;
            // JSON in, JSON out: the file's errors as data on standard output, exit 1.
            let json = matches!(format, SolveFormat::Json);
            let as_json = |e: &Error| render::json::errors(&e.report(), &source.name, &source.text);
            let model = match nnderive::load(&source) {
                Ok(model) => with_given(model, &given)?,
                Err(e) if json => {
                    output::to_stdout(&as_json(&e))?;
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(report(&source, &e).into()),
            };
            let (model, cases) = match cases {
                Some(argument) => {
                    let cases = nnderive::cases(&model, &argument).map_err(|e| usage(&argument, "--cases", &e))?;
                    (cases.open.clone(), Some(cases))
                }
                None => (model, None),
            };
            // The cases' work is checked before the general answer is solved.
            let solved = cases
                .as_ref()
                .map_or(Ok(()), nnderive::eval::Cases::check_work)
                .map_err(Error::from)
                .and_then(|()| nnderive::solve(&model))
                .and_then(|solution| Ok((solution, cases.map(|c| c.solve()).transpose()?)));
            let (solution, cases) = match solved {
                Ok(solved) => solved,
                Err(e) if json => {
                    output::to_stdout(&as_json(&e))?;
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(report(&source, &e).into()),
            };
            let figure = match graph {
                Some(_) => Some(figure(&model, &solution, format, graph_file, output.as_deref())?),
                None => None,
            };
            // A document: the worked solution (with the graph after the
            // forward pass, when asked), then the cases.
            let blocks = |figure| {
                let mut blocks = render::document::build_with(&model, &solution, round, figure);
                if let Some(cases) = &cases {
                    blocks.extend(render::cases::blocks(&model, cases, round));
                }
                blocks
            };
            let title = title.as_deref().unwrap_or(render::document::SOLUTION_TITLE);
            let text = match format {
                SolveFormat::Text => render::text::solution(&model, &solution, round),
                SolveFormat::Json => render::json::solution(&model, &solution, round),
                SolveFormat::Latex => render::latex::write(blocks(figure), title),
                SolveFormat::Markdown => render::markdown::write(blocks(figure), title),
                SolveFormat::Numpy => render::numpy::export(&model, &solution, &source.name, bare)
                    .map_err(|e| Exit::from(report(&source, &nnderive::Error::from(e))))?,
            };
            // The documents have the cases among their blocks; `numpy_options`
            // refused cases with the NumPy export before any work.
            let text = match (&cases, format) {
                (Some(cases), SolveFormat::Text) => text + &render::cases::text(&model, cases, round),
                (Some(cases), SolveFormat::Json) => render::cases::json(&text, &model, cases, round),
                _ => text,
            };
            deliver(target, &text)
        }
        Command::Key { file, hide, format, round, title, given, output } => {
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
            let source = read(&file)?;
            let model = with_given(load(&source)?, &given)?;
            let solution = nnderive::solve(&model).map_err(|e| report(&source, &e))?;
            let hide = match hide {
                HideArg::None => render::key::Hide::Nothing,
                HideArg::Values => render::key::Hide::Values,
                HideArg::Formulas => render::key::Hide::Formulas,
            };
            let key = render::key::build(&model, &solution, round, hide);
            let title = title.as_deref().unwrap_or(hide.default_title());
            let text = match format {
                KeyFormat::Text => render::key::text(&key, title),
                KeyFormat::Json => render::key::json(&key, title),
                KeyFormat::Latex => render::latex::write(render::key::blocks(&key), title),
                KeyFormat::Markdown => render::markdown::write(render::key::blocks(&key), title),
            };
            deliver(target, &text)
        }
        Command::Test { files, accept, round } => {
            let passed = snapshot::run(&files, accept, round)?;
            Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Graph { file, format, output, grad } => {
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
            let svg_named =
                output.as_deref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")));
            let format = format.unwrap_or(if svg_named { GraphFormat::Svg } else { GraphFormat::Dot });
            let source = read(&file)?;
            let model = load(&source)?;
            let derivation = nnderive::derive::derive(&model);
            let graph = render::graph::build(&model, &derivation, grad);
            let mut text = render::graph::dot::dot(&graph);
            if format == GraphFormat::Svg {
                text = render::graph::svg::svg(&text).map_err(|e| format!("error: {e}\n"))?;
            }
            match target {
                Some(target) => target.write(&text)?,
                None => output::to_stdout(&text)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Grade { file, answers, format, round, weights, output } => {
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
            let text = grade::run(
                &file,
                &answers,
                format == GradeFormat::Json,
                format == GradeFormat::Csv,
                round,
                weights.as_deref(),
            )?;
            match target {
                Some(target) => target.write(&text)?,
                None => output::to_stdout(&text)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Vary { file, count, seed, output, round, margin, force, no_pdf } => {
            vary(&file, count as usize, seed, &output, round, margin, force, no_pdf)
        }
        Command::Serve { file, port } => {
            serve::run(file, port)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gradcheck { file, tolerance, all, given } => {
            let source = read(&file)?;
            let model = with_given(load(&source)?, &given)?;
            let mut progress = output::Progress::new("gradcheck");
            let options = nnderive::GradCheckOptions {
                sample: if all { None } else { Some(64) },
                progress: &mut |done, total| progress.update(done, total),
            };
            let report_ = nnderive::gradcheck_with(&model, options).map_err(|e| report(&source, &e))?;
            progress.finish();
            let text = render::text::gradcheck(&model, &report_, tolerance);
            emit(&text)?;
            Ok(if report_.worst() <= tolerance { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// Checks `--graph[=SVG]` against the format before any work: the graph is
/// for LaTeX and Markdown, and a file of its own only for Markdown. The
/// SVG file's target, when one is named.
fn graph_option(
    graph: Option<&Path>,
    format: SolveFormat,
    output: Option<&Path>,
    input: &Path,
) -> Result<Option<(Target, PathBuf)>, Exit> {
    let Some(path) = graph else { return Ok(None) };
    let wrong = |message: &str| Err(Exit { message: format!("error: {message}\n"), code: 2 });
    match format {
        SolveFormat::Text | SolveFormat::Json => {
            return wrong("--graph draws the graph in a document: use it with --format latex or --format markdown")
        }
        SolveFormat::Latex if !path.as_os_str().is_empty() => return wrong(
            "--graph=FILE is for --format markdown; a LaTeX document draws the graph itself with TikZ: write --graph",
        ),
        _ => {}
    }
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    if output.is_some_and(|o| o == path) {
        return wrong("--graph=FILE names the document's own output file; give the SVG a path of its own");
    }
    Ok(Some((Target::check(path, input)?, path.to_path_buf())))
}

/// The computational graph of a solved model for a document: for
/// Markdown, drawn as SVG by Graphviz and embedded, or written to the
/// `--graph=FILE` and linked from the document's folder.
fn figure(
    model: &nnderive::model::Model,
    solution: &nnderive::eval::Solution,
    format: SolveFormat,
    svg_file: Option<(Target, PathBuf)>,
    document: Option<&Path>,
) -> Result<render::document::Figure, Exit> {
    use render::document::{Figure, SvgImage};
    let graph = render::graph::build(model, &solution.derivation, false);
    let svg = match format {
        SolveFormat::Markdown => {
            let svg = render::graph::svg::svg(&render::graph::dot::dot(&graph)).map_err(|e| format!("error: {e}\n"))?;
            Some(match svg_file {
                None => SvgImage::Embedded(svg),
                Some((target, path)) => {
                    target.write(&svg)?;
                    SvgImage::Linked(output::address_from(document, &path))
                }
            })
        }
        _ => None,
    };
    Ok(Figure { graph, svg })
}

/// `nnderive vary`: the variants, their keys, written as one set.
#[allow(clippy::too_many_arguments)]
fn vary(
    file: &Path,
    count: usize,
    seed: u64,
    dir: &Path,
    round: u32,
    margin: Option<num_rational::BigRational>,
    force: bool,
    no_pdf: bool,
) -> Result<ExitCode, Exit> {
    let source = read(file)?;
    let options = nnderive::vary::Options { count, seed, places: round, margin };
    let set = nnderive::vary::vary(&source, &options)
        .map_err(|e| render::diagnostic::report(&e.report(), &source.name, &source.text))?;
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "variant".into());
    let width = count.to_string().len().max(2);
    let pdf = !no_pdf && variants::on_path("pdflatex");
    let mut files = Vec::new();
    for v in &set.variants {
        let name = format!("{stem}-{:0width$}", v.number);
        let place = Some(round);
        files.push(variants::File { name: format!("{name}.nn"), bytes: v.text.clone().into_bytes() });
        let markdown = render::markdown::document(&v.model, &v.solution, place);
        files.push(variants::File { name: format!("{name}.key.md"), bytes: markdown.into_bytes() });
        let json = render::json::solution(&v.model, &v.solution, place);
        files.push(variants::File { name: format!("{name}.key.json"), bytes: json.into_bytes() });
        if pdf {
            let latex = render::latex::document(&v.model, &v.solution, place);
            if let Some(bytes) = variants::pdf(&latex, &name)? {
                files.push(variants::File { name: format!("{name}.key.pdf"), bytes });
            }
        }
    }
    let outcome = variants::write(dir, &stem, &files, force)?;
    let last = format!("{stem}-{:0width$}", count);
    let first = format!("{stem}-{:0width$}", 1);
    let range = if count == 1 { format!("{first}.nn") } else { format!("{first}.nn … {last}.nn") };
    let kinds = if pdf { ".key.md, .key.json, .key.pdf" } else { ".key.md, .key.json" };
    let what = match outcome {
        variants::Outcome::Written => "wrote".to_string(),
        variants::Outcome::Same => "wrote again (the same variants were there)".to_string(),
        variants::Outcome::Replaced { removed: 0 } => "replaced the variants there with".to_string(),
        variants::Outcome::Replaced { removed } => {
            format!("removed {removed} files of the earlier variants and wrote")
        }
    };
    let plural = if count == 1 { "variant" } else { "variants" };
    let mut text = format!(
        "{what} {count} {plural} of {} in {} (seed {seed}): {range}, each with its key ({kinds})\n",
        file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        dir.display()
    );
    text += &set.summary();
    emit(&text)
}

fn read(path: &Path) -> Result<Source, String> {
    let (name, bytes) = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("error: cannot read standard input: {e}\n"))?;
        ("<stdin>".to_string(), buf)
    } else {
        let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read {}: {e}\n", shown(path)))?;
        (path.display().to_string(), bytes)
    };
    Source::decode_owned(name, bytes).map_err(|failed| report(&failed.1, &failed.0))
}

/// A path or file name as one line safe for a terminal: a control or
/// direction character in it shows as its picture (ESC as ␛), as in the
/// source lines of an error.
fn shown(path: impl AsRef<Path>) -> String {
    nnderive::diagnostic::visible_line(&path.as_ref().display().to_string())
}

fn load(source: &Source) -> Result<nnderive::model::Model, String> {
    nnderive::load(source).map_err(|e| report(source, &e))
}

/// The model with each `--given NAME=VALUE` applied in order.
fn with_given(mut model: nnderive::model::Model, given: &[String]) -> Result<nnderive::model::Model, Exit> {
    for argument in given {
        model = nnderive::given(model, argument).map_err(|e| usage(argument, "--given", &e))?;
    }
    Ok(model)
}

/// An error in an option's value, pointing into it (shown as the source
/// `--given`, line 1).
fn usage(argument: &str, option: &str, error: &Error) -> Exit {
    Exit { message: render::diagnostic::render(&error.diagnostic(), option, argument), code: 2 }
}

/// Every error, in file order, as the terminal shows them.
fn report(source: &Source, error: &Error) -> String {
    render::diagnostic::report(&error.report(), &source.name, &source.text)
}

/// `--title` is for documents: with another format it is a usage error
/// rather than silently ignored.
fn document_title_only(title: &Option<String>) -> Result<(), Exit> {
    match title {
        Some(_) => Err(Exit {
            message: "error: --title names a document: use it with --format latex or --format markdown\n".into(),
            code: 2,
        }),
        None => Ok(()),
    }
}

/// Writes `text` to the `-o` file (whole, or not at all), or else to standard output.
fn deliver(target: Option<Target>, text: &str) -> Result<ExitCode, Exit> {
    match target {
        Some(target) => target.write(text)?,
        None => output::to_stdout(text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to standard output.
fn emit(text: &str) -> Result<ExitCode, Exit> {
    output::to_stdout(text)?;
    Ok(ExitCode::SUCCESS)
}
