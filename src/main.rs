//! The `nnderive` command line: arguments in, a library call, a renderer out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use nnderive::render;
use nnderive::{Error, Source};

#[path = "cli/output.rs"]
mod output;
#[path = "cli/grade.rs"]
mod grade;
#[path = "cli/variants.rs"]
mod variants;

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
    after_help = "Examples:\n  nnderive solve grammar/examples/assignment4.nn --round 4\n  nnderive derive grammar/examples/assignment4.nn\n  nnderive solve net.nn --format latex -o answer.tex\n  nnderive gradcheck net.nn\n  nnderive vary net.nn --count 30 --seed 7 -o variants\n  nnderive grade variants submissions -o gradebook.csv\n\nExit status: 0 success, 1 a problem with the input file, 2 a usage error."
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
        /// Write to this file instead of standard output (written whole, or not at all).
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
    /// Formulas in `.nn` syntax.
    Nn,
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
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("it must be a positive, finite number such as 1e-6".into()),
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
            emit(&render::text::check_summary(&model))
        }
        Command::Fmt { file, check } => {
            let source = read(&file)?;
            let ast = nnderive::parse(&source).map_err(|e| report(&source, &e))?;
            let formatted = nnderive::syntax::format(&ast);
            if check {
                if formatted == source.text {
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(format!(
                    "{} is not formatted; run `nnderive fmt {}` to see the canonical layout\n",
                    source.name, source.name
                )
                .into());
            }
            emit(&formatted)
        }
        Command::Derive { file, format } => {
            let source = read(&file)?;
            let model = load(&source)?;
            let derivation = nnderive::derive::derive(&model);
            let text = match format {
                DeriveFormat::Text => render::text::derivation(&model, &derivation),
                DeriveFormat::Nn => render::nn::derivation(&model, &derivation),
            };
            emit(&text)
        }
        Command::Solve { file, round, format, output, given, cases } => {
            // Check where the output goes before doing the work.
            let target = output.as_deref().map(|path| Target::check(path, &file)).transpose()?;
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
            let solved =
                nnderive::solve(&model).and_then(|solution| Ok((solution, cases.map(|c| c.solve()).transpose()?)));
            let (solution, cases) = match solved {
                Ok(solved) => solved,
                Err(e) if json => {
                    output::to_stdout(&as_json(&e))?;
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(report(&source, &e).into()),
            };
            let text = match format {
                SolveFormat::Text => render::text::solution(&model, &solution, round),
                SolveFormat::Json => render::json::solution(&model, &solution, round),
                SolveFormat::Latex => render::latex::document(&model, &solution, round),
                SolveFormat::Markdown => render::markdown::document(&model, &solution, round),
            };
            let text = match &cases {
                None => text,
                Some(cases) => match format {
                    SolveFormat::Text => text + &render::cases::text(&model, cases, round),
                    SolveFormat::Json => render::cases::json(&text, &model, cases, round),
                    SolveFormat::Latex => render::cases::latex(&model, &solution, cases, round),
                    SolveFormat::Markdown => render::cases::markdown(&model, &solution, cases, round),
                },
            };
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
        let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read {}: {e}\n", path.display()))?;
        (path.display().to_string(), bytes)
    };
    Source::decode_owned(name, bytes).map_err(|failed| report(&failed.1, &failed.0))
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

/// Writes `text` to standard output.
fn emit(text: &str) -> Result<ExitCode, Exit> {
    output::to_stdout(text)?;
    Ok(ExitCode::SUCCESS)
}
