//! The `nnderive` command line: arguments in, a library call, a renderer out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use nnderive::render;
use nnderive::{Error, Source};

#[path = "cli/output.rs"]
mod output;

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
    after_help = "Examples:\n  nnderive solve grammar/examples/assignment4.nn --round 4\n  nnderive derive grammar/examples/assignment4.nn\n  nnderive solve net.nn --format latex -o answer.tex\n  nnderive gradcheck net.nn\n\nExit status: 0 success, 1 a problem with the input file, 2 a usage error."
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
}

#[derive(Clone, Copy, ValueEnum)]
enum DeriveFormat {
    /// Unicode mathematics (ŷ, ⊙, δ2).
    Text,
    /// Formulas in `.nn` syntax.
    Nn,
}

#[derive(Clone, Copy, ValueEnum)]
enum SolveFormat {
    Text,
    Json,
    Latex,
    Markdown,
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
            // The cases' work is checked before the general answer is solved.
            let solved = cases
                .as_ref()
                .map_or(Ok(()), nnderive::eval::Cases::check_work)
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
