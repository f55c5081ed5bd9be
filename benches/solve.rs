//! Benchmarks (run with `cargo bench`): wall-clock medians of whole
//! pipelines. Timing lives here, never in tests.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../fuzz/large_inputs.rs"]
mod large_inputs;

use std::time::{Duration, Instant};

use nnderive::Source;

/// Runs `f` `runs` times and returns the median duration.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn report(name: &str, d: Duration) {
    println!("{name:<58} {:>10.3} ms", d.as_secs_f64() * 1e3);
}

/// The wide case of docs/performance.md, phase by phase: a 512-512-512-512-10 sigmoid
/// network with one input, solved and printed with `--round 4` and at full
/// precision (the text output, as `nnderive solve` writes it).
fn wide_case(runs: usize) {
    let widths = [512, 512, 512, 512, 10];
    let text = common::random_network(3, 4, &widths, &["sigmoid"], "cross_entropy");
    let source = Source::new("wide.nn", text);
    report("wide 512x4: parse and check (5 MB)", median(runs, || drop(nnderive::load(&source).unwrap())));
    let model = nnderive::load(&source).unwrap();
    report("wide 512x4: derive and evaluate (solve)", median(runs, || drop(nnderive::solve(&model).unwrap())));
    let solution = nnderive::solve(&model).unwrap();
    for round in [Some(4), None] {
        let name = format!("wide 512x4: write the text output, round {round:?}");
        report(&name, median(runs, || drop(nnderive::render::text::solution(&model, &solution, round))));
    }
}

/// Parsing (the AST alone) and parsing with checking, in MB/s of text:
/// the wide network, a 2000×2000 literal written as programs print it
/// (`-0.65, 0.47`: its rows keep no text), the same literal written
/// otherwise (`-65e-2,+0.47`: its rows keep their text), and one line of
/// 20 000 and of 80 000 numbers (linear in a line's length).
fn parse_case(runs: usize) {
    let mb_per_s = |text: &str, d: Duration| text.len() as f64 / 1e6 / d.as_secs_f64();
    let mut rng = common::Lcg(1);
    let matrix = |rng: &mut common::Lcg, rows: usize, cols: usize, odd: bool| {
        let row = |rng: &mut common::Lcg| {
            let numbers: Vec<String> = (0..cols)
                .map(|_| match (odd, rng.decimal()) {
                    (true, d) => format!("{}e-2", d.replace("0.", "")),
                    (false, d) => d,
                })
                .collect();
            format!("[{}]", numbers.join(if odd { "," } else { ", " }))
        };
        let rows: Vec<String> = (0..rows).map(|_| row(rng)).collect();
        format!("param W[{rows_n},{cols}] = [{}]\nloss L = sum(W)\n", rows.join(", "), rows_n = rows.len())
    };
    let widths = [512, 512, 512, 512, 10];
    let cases = [
        ("wide 512x4".to_string(), common::random_network(3, 4, &widths, &["sigmoid"], "cross_entropy")),
        ("2000x2000 literal".to_string(), matrix(&mut rng, 2000, 2000, false)),
        ("2000x2000 literal, 1e-2 forms".to_string(), matrix(&mut rng, 2000, 2000, true)),
        ("one line of 20 000 numbers".to_string(), matrix(&mut rng, 1, 20_000, false)),
        ("one line of 80 000 numbers".to_string(), matrix(&mut rng, 1, 80_000, false)),
    ];
    for (name, text) in cases {
        let source = Source::new("p.nn", text);
        let parse = median(runs, || drop(nnderive::parse(&source).unwrap()));
        let load = median(runs, || drop(nnderive::load(&source).unwrap()));
        let size = source.text.len() as f64 / 1e6;
        report(&format!("{name} ({size:.1} MB): parse, {:.0} MB/s", mb_per_s(&source.text, parse)), parse);
        report(&format!("{name}: parse and check, {:.0} MB/s", mb_per_s(&source.text, load)), load);
    }
}

/// Deriving stays linear in depth: 200 and 1000 layers (4 wide, so that
/// loading the file does not dominate).
fn derive_depth(runs: usize) {
    for depth in [200, 1000] {
        let widths = vec![4; depth + 1];
        let text = common::random_network(9, depth, &widths, &["tanh", "sigmoid"], "cross_entropy");
        let model = nnderive::load(&Source::new("deep.nn", text)).unwrap();
        report(
            &format!("derive {depth}-layer, 4-wide network"),
            median(runs, || {
                nnderive::derive::derive(&model);
            }),
        );
    }
}

/// A batch of 256 examples (the columns of X) through a 10-layer, 512-wide
/// sigmoid network (10 outputs) with biases added to every example and a mean-squared
/// error: parse and check, then solve (derive, the forward and backward
/// passes over the whole batch, one SGD step), f64 after the first layer.
/// `benches/peer.py` times NumPy on the same work.
fn batch_case(runs: usize) {
    let mut widths = vec![512; 10];
    widths.push(10);
    let text = common::batch_network(3, &widths, 256, "sigmoid");
    let source = Source::new("batch.nn", text);
    report("batch 256 x 10 layers x 512: parse and check", median(runs, || drop(nnderive::load(&source).unwrap())));
    let model = nnderive::load(&source).unwrap();
    report(
        "batch 256 x 10 layers x 512: solve (one SGD step)",
        median(runs, || drop(nnderive::solve(&model).unwrap())),
    );
}

/// Evaluation alone, as NumPy's in-process figure in `benches/peer.py` is
/// timed: the forward pass, the backward pass and one SGD step of a model
/// already parsed, checked and derived, with its given values already read
/// (an exact weight matrix's f64 view, made at its first f64 use, is then
/// kept across runs, as NumPy's arrays are f64 from the start). The wide
/// case (512-512-512-512-10, sigmoid, cross-entropy, one input) and the
/// batch case (256 examples through 10 layers of 512, mean-squared error).
fn eval_only(runs: usize) {
    let wide = common::random_network(3, 4, &[512, 512, 512, 512, 10], &["sigmoid"], "cross_entropy");
    let mut widths = vec![512; 10];
    widths.push(10);
    let batch = common::batch_network(3, &widths, 256, "sigmoid");
    for (name, text) in [("wide 512x4", wide), ("batch 256 x 10 layers x 512", batch)] {
        let model = nnderive::load(&Source::new("eval.nn", text)).unwrap();
        let prepared = nnderive::eval::Prepared::new(&model).unwrap();
        report(
            &format!("{name}: evaluate only (forward, backward, update)"),
            median(runs, || drop(prepared.step().unwrap())),
        );
    }
}

/// The `.nn` files in `$NNDERIVE_BENCH_NETS` (which `python
/// python/bench/notebook.py --write DIR` fills with the notebook's
/// networks), by name, with their text; none when it is not set.
fn bench_nets() -> Vec<(String, String)> {
    let Ok(dir) = std::env::var("NNDERIVE_BENCH_NETS") else { return Vec::new() };
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("NNDERIVE_BENCH_NETS is a folder").flatten().collect();
    files.sort_by_key(|f| f.file_name());
    files
        .into_iter()
        .filter(|f| f.path().extension().is_some_and(|e| e == "nn"))
        .map(|f| (f.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(f.path()).unwrap()))
        .collect()
}

/// The Python package's evaluation (`eval::fast::solve_float`: every value
/// in f64, of a model already parsed, checked and derived), per network,
/// with the share of it spent in the f64 GEMM: the assignment's network,
/// the wide case, and every `.nn` file in `$NNDERIVE_BENCH_NETS` (which
/// `python python/bench/notebook.py --write DIR` fills with its networks).
fn fast_eval(runs: usize) {
    let mut cases = vec![
        ("assignment4.nn".to_string(), std::fs::read_to_string(common::example("assignment4.nn")).unwrap()),
        (
            "wide 512x4".to_string(),
            common::random_network(3, 4, &[512, 512, 512, 512, 10], &["sigmoid"], "cross_entropy"),
        ),
    ];
    cases.extend(bench_nets());
    println!(
        "{:<28} {:>11} {:>7} {:>11} {:>11} {:>7} {:>8}",
        "network (f64 evaluation)", "node ms", "GEMM %", "plan+cmp ms", "plan ms", "GEMM %", "path"
    );
    for (name, text) in cases {
        let model = nnderive::load(&Source::new("fast.nn", text)).unwrap();
        let derivation = nnderive::derive::derive(&model);
        // Node by node, as before the plan.
        let node = || nnderive::eval::fast::solve_unplanned(&model, &derivation).unwrap();
        let node_time = median(runs, || drop(node()));
        // One more run, for the GEMM's share of it.
        let start = Instant::now();
        let (_, node_gemm) = nnderive::eval::fast::gemm_time(node);
        let node_share = 100.0 * node_gemm.as_secs_f64() / start.elapsed().as_secs_f64().max(1e-12);
        // The plan compiled and run (a first solve), then run again (a
        // second solve of a parsed network: the Python package's `again`).
        let first = || nnderive::eval::fast::solve_float(&model, &derivation).unwrap();
        let first_time = median(runs, || drop(first()));
        let plan = std::cell::OnceCell::new();
        let shared = std::sync::Arc::new(derivation.clone());
        let again = || nnderive::eval::fast::solve_float_cached(&model, &shared, &plan).unwrap();
        drop(again());
        let again_time = median(runs, || drop(again()));
        let start = Instant::now();
        let ((_, computed), gemm) = nnderive::eval::fast::gemm_time(again);
        let share = 100.0 * gemm.as_secs_f64() / start.elapsed().as_secs_f64().max(1e-12);
        let path = match (computed, plan.get().and_then(Option::as_ref)) {
            (nnderive::eval::fast::Computed::Exact, _) => "exact".to_string(),
            (_, None) => "f64 node".to_string(),
            (_, Some(p)) => format!("plan {}/{}", p.size().0, p.size().1),
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<28} {:>11.3} {node_share:>6.0}% {:>11.3} {:>11.3} {share:>6.0}% {path:>8}",
            ms(node_time),
            ms(first_time),
            ms(again_time)
        );
    }
}

/// The notebook networks phase by phase, as the Python package's
/// `nnderive.parse(text).solve()` runs them: parse (the AST), parse and
/// check (`load`), derive, and the f64 evaluation, for the assignment's
/// network and every `.nn` file in `$NNDERIVE_BENCH_NETS`; with
/// `load_only`, parse and load alone (for a profile of reading a file).
fn network_phases(runs: usize, load_only: bool) {
    let mut cases =
        vec![("assignment4.nn".to_string(), std::fs::read_to_string(common::example("assignment4.nn")).unwrap())];
    cases.extend(bench_nets());
    let header = ["parse", "load", "derive", "f64 eval", "skeleton"];
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10}  (median ms)",
        "network", header[0], header[1], header[2], header[3], header[4]
    );
    for (name, text) in cases {
        let source = Source::new("net.nn", text);
        let parse = median(runs, || drop(nnderive::parse(&source).unwrap()));
        let load = median(runs, || drop(nnderive::load(&source).unwrap()));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        if load_only {
            println!("{name:<20} {:>10.3} {:>10.3}", ms(parse), ms(load));
            continue;
        }
        let model = nnderive::load(&source).unwrap();
        let derive = median(runs, || drop(nnderive::derive::derive(&model)));
        let derivation = nnderive::derive::derive(&model);
        let eval = median(runs, || drop(nnderive::eval::fast::solve_float(&model, &derivation).unwrap()));
        // The Python package's first solve of a network also writes the
        // skeleton of names and formulas its arrays are filed under.
        let (solution, _) = nnderive::eval::fast::solve_float(&model, &derivation).unwrap();
        let skeleton = median(runs, || drop(nnderive::render::json::solution_apart_from(&model, &solution)));
        println!(
            "{name:<20} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            ms(parse),
            ms(load),
            ms(derive),
            ms(eval),
            ms(skeleton)
        );
    }
}

/// Long gradient sums (the `large` fuzz recipes): case 3, `Hk =
/// fn(H(k-1)) * x`, where ∂L/∂x sums one term from every equation, and case
/// 1, a chain `Hk = fn(H(k-1))`, both through a mix of the fuzz target's
/// functions, phase by phase at n and 2n equations: each phase should take
/// about twice as long at 2n (linear), not four times.
fn long_sums(runs: usize) {
    // The fuzz recipe: case, the size as two bytes, then the functions picked
    // in turn (sin, tanh, relu, sigmoid, abs, softplus, cos, f).
    let recipe = |case: u8, n: usize| {
        // large_input makes size(max) = v * max / 65535 + 1 equations.
        let max = if case == 3 { 20_000 } else { 30_000 };
        let v = ((n - 1) * 65_535).div_ceil(max) as u16;
        let mut r = vec![case, (v >> 8) as u8, v as u8];
        r.extend(0..16u8);
        r
    };
    for case in [3u8, 1] {
        for n in [2_000, 4_000, 8_000, 16_000, 20_000] {
            let text = large_inputs::large_input(&recipe(case, n), 1.0);
            let equations = text.lines().filter(|l| l.starts_with('H')).count() - 1;
            let source = Source::new("long.nn", text);
            let label = |phase: &str| format!("case {case}, {equations} equations: {phase}");
            report(&label("parse and check"), median(runs, || drop(nnderive::load(&source).unwrap())));
            let model = nnderive::load(&source).unwrap();
            report(&label("derive"), median(runs, || drop(nnderive::derive::derive(&model))));
            let derivation = nnderive::derive::derive(&model);
            report(
                &label("print the derivation"),
                median(runs, || drop(nnderive::render::text::derivation(&model, &derivation))),
            );
            report(&label("solve"), median(runs, || drop(nnderive::solve(&model).unwrap())));
            let solution = nnderive::solve(&model).unwrap();
            report(
                &label("print the solution"),
                median(runs, || drop(nnderive::render::text::solution(&model, &solution, None))),
            );
        }
    }
}

/// A decimal in [-0.30, 0.30] with two places, never zero: small enough
/// that a long recurrence's gradients neither explode nor vanish, so the
/// output grows with T and not with the numbers' digits.
fn small_decimal(rng: &mut common::Lcg) -> String {
    let v = (rng.next() % 61) as i64 - 30;
    format!("{:.2}", if v == 0 { 7 } else { v } as f64 / 100.0)
}

/// A `rows`×`cols` literal of [`small_decimal`]s.
fn small_matrix(rng: &mut common::Lcg, rows: usize, cols: usize) -> String {
    let row = |rng: &mut common::Lcg| (0..cols).map(|_| small_decimal(rng)).collect::<Vec<_>>().join(", ");
    format!("[{}]", (0..rows).map(|_| format!("[{}]", row(rng))).collect::<Vec<_>>().join(", "))
}

/// A `n`-vector literal of [`small_decimal`]s.
fn small_vector(rng: &mut common::Lcg, n: usize) -> String {
    format!("[{}]", (0..n).map(|_| small_decimal(rng)).collect::<Vec<_>>().join(", "))
}

/// The start of a recurrent network over `steps` steps: the inputs, the
/// two-class targets and the zero initial state(s) named in `states`.
fn recurrent_head(rng: &mut common::Lcg, steps: usize, inputs: usize, width: usize, states: &[&str]) -> String {
    let zeros = vec!["0"; width].join(", ");
    let mut out = format!("steps t = 1..{steps}\n");
    out.push_str(&format!("input x[t][{inputs}] = {}\n", small_matrix(rng, steps, inputs)));
    out.push_str(&format!("target y[t][2] = [{}]\n", vec!["[1, 0]"; steps].join(", ")));
    for s in states {
        out.push_str(&format!("const {s}[0][{width}] = [{zeros}]\n"));
    }
    out
}

/// An LSTM over `steps` steps as grammar/examples/lstm.nn writes it (one
/// weight matrix per gate), with `inputs`-wide inputs, a `width`-wide
/// state and two classes.
fn lstm_network(seed: u64, steps: usize, inputs: usize, width: usize) -> String {
    let mut rng = common::Lcg(seed);
    let mut out = recurrent_head(&mut rng, steps, inputs, width, &["h", "c"]);
    for g in ["i", "f", "o", "g"] {
        out.push_str(&format!("param W{g}[{width},{inputs}] = {}\n", small_matrix(&mut rng, width, inputs)));
        out.push_str(&format!("param U{g}[{width},{width}] = {}\n", small_matrix(&mut rng, width, width)));
        out.push_str(&format!("param b{g}[{width}] = {}\n", small_vector(&mut rng, width)));
    }
    out.push_str(&format!("param Why[2,{width}] = {}\nparam by[2] = [0, 0]\n", small_matrix(&mut rng, 2, width)));
    out.push_str(
        "i[t] = sigmoid(Wi @ x[t] + Ui @ h[t-1] + bi)\n\
         f[t] = sigmoid(Wf @ x[t] + Uf @ h[t-1] + bf)\n\
         o[t] = sigmoid(Wo @ x[t] + Uo @ h[t-1] + bo)\n\
         g[t] = tanh(Wg @ x[t] + Ug @ h[t-1] + bg)\n\
         c[t] = f[t] * c[t-1] + i[t] * g[t]\n\
         h[t] = o[t] * tanh(c[t])\n\
         yhat[t] = softmax(Why @ h[t] + by)\n\
         loss L = sum(cross_entropy(y[t], yhat[t]) for t)\n\
         train sgd(lr = 0.1)\n",
    );
    out
}

/// A vanilla RNN over `steps` steps (`h[t] = tanh(Wx x[t] + Wh h[t-1] +
/// b)`, a softmax output and a loss at every step), with `inputs`-wide
/// inputs, a `width`-wide state and two classes.
fn rnn_network(seed: u64, steps: usize, inputs: usize, width: usize) -> String {
    let mut rng = common::Lcg(seed);
    let mut out = recurrent_head(&mut rng, steps, inputs, width, &["h"]);
    out.push_str(&format!("param Wx[{width},{inputs}] = {}\n", small_matrix(&mut rng, width, inputs)));
    out.push_str(&format!("param Wh[{width},{width}] = {}\n", small_matrix(&mut rng, width, width)));
    out.push_str(&format!("param b[{width}] = {}\n", small_vector(&mut rng, width)));
    out.push_str(&format!("param Why[2,{width}] = {}\nparam by[2] = [0, 0]\n", small_matrix(&mut rng, 2, width)));
    out.push_str(
        "h[t] = tanh(Wx @ x[t] + Wh @ h[t-1] + b)\n\
         yhat[t] = softmax(Why @ h[t] + by)\n\
         loss L = sum(cross_entropy(y[t], yhat[t]) for t)\n\
         train sgd(lr = 0.1)\n",
    );
    out
}

/// The CPU time this thread has run, from the kernel's per-thread clock:
/// unlike the wall clock, it stops while the thread waits for a core, so
/// other processes on a loaded machine move it far less.
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: Linux's clock_gettime writes one timespec (two 64-bit fields on
    // the 64-bit targets this bench runs on) through a valid pointer.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Makes glibc's malloc map fresh pages for every allocation of 128 KiB
/// or more, as a fresh `nnderive solve` process gets them. By default
/// malloc raises that threshold to the size of each large block freed (up
/// to 32 MB), so a writer run again in the same process gets its output's
/// pages back already touched when the output is under 32 MB, and must
/// fault in fresh ones when it is over: the time per MB then steps up
/// between sizes (the LSTM's 13 and 26 MB texts), a cost of the bench's
/// reruns, not of the writer. Outside glibc this does nothing.
fn fresh_memory_for_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets one of malloc's parameters, under
        // malloc's own lock; blocks allocated before stay valid.
        let set = unsafe { mallopt(M_MMAP_THRESHOLD, 128 * 1024) };
        assert_eq!(set, 1, "mallopt(M_MMAP_THRESHOLD)");
    }
}

/// A family of the writers bench: its name, its four sizes (each twice the
/// one before) and the network at a size.
type Family = (&'static str, &'static str, [usize; 4], fn(usize) -> String);

/// The writers bench's networks: the LSTM (D = 32, H = 32) and the RNN
/// (D = 32, H = 32) at T = 50..400 steps, and a dense tanh/sigmoid network
/// 32 wide with 8..64 layers.
fn writer_families() -> [Family; 3] {
    [
        ("LSTM D=32 H=32, T", "lstm", [50, 100, 200, 400], |t| lstm_network(1, t, 32, 32)),
        ("RNN D=32 H=32, T", "rnn", [50, 100, 200, 400], |t| rnn_network(2, t, 32, 32)),
        ("dense 32 wide, layers", "dense", [8, 16, 32, 64], |n| {
            common::random_network(7, n, &vec![32; n + 1], &["tanh", "sigmoid"], "cross_entropy")
        }),
    ]
}

type Writer = fn(&nnderive::model::Model, &nnderive::eval::Solution) -> String;

/// Each format of `nnderive solve` (the command line's `--format` and
/// `--round 4`) and its writer.
fn writer_formats() -> [(&'static str, Writer); 5] {
    use nnderive::render;
    [
        ("text", |m, s| render::text::solution(m, s, None)),
        ("text --round 4", |m, s| render::text::solution(m, s, Some(4))),
        ("json", |m, s| render::json::solution(m, s, None)),
        ("latex", |m, s| render::latex::document(m, s, None)),
        ("markdown", |m, s| render::markdown::document(m, s, None)),
    ]
}

/// One call of a writer, on its own: callgrind counts inside this function
/// (`solve::write_once`), whatever the writer inlines.
#[inline(never)]
fn write_once(write: Writer, model: &nnderive::model::Model, solution: &nnderive::eval::Solution) -> String {
    write(model, solution)
}

/// `writers count [FAMILY…] [FORMAT…]`: the instructions each writer runs
/// (valgrind's callgrind, counting only inside the writer, on this bench
/// run as `writers once`), which no load moves, at each size, with the
/// ratio to the size before and the verdict (at most ×2.2 a doubling; the
/// text at full precision at most the JSON's). Slow: the LSTM at T = 400
/// takes minutes a format.
fn count_writers(chosen: &[String]) {
    let families: Vec<Family> =
        writer_families().into_iter().filter(|f| chosen.is_empty() || chosen.iter().any(|c| c == f.1)).collect();
    // The formats named, or all of them.
    let all: Vec<&str> = writer_formats().iter().map(|f| f.0).collect();
    let named: Vec<&str> = all.iter().copied().filter(|f| chosen.iter().any(|c| c == f)).collect();
    let formats = if named.is_empty() { all } else { named };
    let me = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for (family, file, sizes, _) in families {
        let mut counts = vec![vec![0u64; sizes.len()]; formats.len()];
        for (k, format) in formats.iter().enumerate() {
            for (s, n) in sizes.iter().enumerate() {
                let run = std::process::Command::new("valgrind")
                    .args(["--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no"])
                    .arg("--toggle-collect=solve::write_once*")
                    .arg(&me)
                    .args(["writers", "once", file, &n.to_string(), format])
                    .output()
                    .expect("valgrind runs (install it for `writers count`)");
                let log = String::from_utf8_lossy(&run.stderr);
                let refs = log.lines().find_map(|l| l.split_once("I   refs:").map(|(_, r)| r.trim().replace(',', "")));
                counts[k][s] = refs.and_then(|r| r.parse().ok()).unwrap_or_else(|| panic!("no count in {log}"));
                let ratio = (s > 0).then(|| counts[k][s] as f64 / counts[k][s - 1] as f64);
                println!(
                    "  {:<44} {:>14} instructions {:>6}",
                    format!("{family} {n}: {format}"),
                    counts[k][s],
                    ratio.map_or(String::new(), |r| format!("x{r:.2}"))
                );
                if let Some(r) = ratio.filter(|&r| r > 2.2) {
                    failures.push(format!("{family} {} → {n}, {format}: x{r:.2} instructions", sizes[s - 1]));
                }
            }
        }
        let (text, json) = (formats.iter().position(|&f| f == "text"), formats.iter().position(|&f| f == "json"));
        if let (Some(text), Some(json)) = (text, json) {
            for (s, n) in sizes.iter().enumerate() {
                let r = counts[text][s] as f64 / counts[json][s] as f64;
                println!("  text / json at {n}: {r:.2} of the instructions");
                if r > 1.0 {
                    failures.push(format!("{family} {n}: text runs {r:.2}× the JSON's instructions"));
                }
            }
        }
    }
    verdict(&failures);
}

/// The bench's last line: PASS, or FAIL and what failed.
fn verdict(failures: &[String]) {
    if failures.is_empty() {
        println!("PASS: every doubling at most x2.2, text no slower than JSON");
    } else {
        println!("FAIL:\n  {}", failures.join("\n  "));
    }
}

/// Each writer of `nnderive solve`, timed alone on a solution already
/// computed: the text at full precision and at `--round 4`, JSON, LaTeX and
/// Markdown, for each family of [`writer_families`] at its four sizes.
///
/// Made to decide on a loaded machine: the runs go round every size and
/// format in turn (a burst of load falls on all of them, not on one
/// size), each is timed by the thread's CPU clock (which stops while the
/// thread waits for a core) and the fastest of `runs` is kept (load only
/// ever adds time). Printed per format: the CPU time at each size, its
/// ratio to the size before, the output's size and the CPU time per MB,
/// then the verdicts: every doubling at most ×2.2 and, at every size, the
/// text at full precision no slower than the JSON.
///
/// `writers write DIR` writes the networks to DIR instead (`lstm-400.nn`,
/// …) for `nnderive solve` to be profiled and compared on;
/// `writers once FAMILY SIZE FORMAT` solves one and writes it once (for
/// `valgrind --tool=callgrind`, whose instruction counts no load moves);
/// `writers count` counts them so (see [`count_writers`]).
fn writers(runs: usize) {
    let args: Vec<String> = std::env::args().collect();
    let after = |word: &str| args.iter().position(|a| a == word).map(|i| &args[i + 1..]);
    if let Some([dir, ..]) = after("write") {
        for (_, file, sizes, make) in writer_families() {
            for n in sizes {
                let path = format!("{dir}/{file}-{n}.nn");
                std::fs::write(&path, make(n)).unwrap_or_else(|e| panic!("{path}: {e}"));
                println!("wrote {path}");
            }
        }
        return;
    }
    if let Some(chosen) = after("count") {
        let chosen: Vec<String> = chosen.iter().filter(|a| !a.starts_with("--")).cloned().collect();
        count_writers(&chosen);
        return;
    }
    if let Some([family, size, format, ..]) = after("once") {
        let (_, _, _, make) =
            writer_families().into_iter().find(|f| f.1 == family).expect("family: lstm, rnn or dense");
        let (_, write) = writer_formats().into_iter().find(|f| f.0 == format).expect("a format of writer_formats");
        let model = nnderive::load(&Source::new("writers.nn", make(size.parse().unwrap()))).unwrap();
        let solution = nnderive::solve(&model).unwrap();
        println!("{} bytes", write_once(write, &model, &solution).len());
        return;
    }
    fresh_memory_for_large_allocations();
    let formats = writer_formats();
    let mut failures = Vec::new();
    for (family, _, sizes, make) in writer_families() {
        let cases: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let model = nnderive::load(&Source::new("writers.nn", make(n))).unwrap();
                let solution = nnderive::solve(&model).unwrap();
                (model, solution)
            })
            .collect();
        // fastest[size][format]: (CPU time, wall time); bytes[size][format].
        let mut fastest = vec![vec![(Duration::MAX, Duration::MAX); formats.len()]; sizes.len()];
        let mut bytes = vec![vec![0usize; formats.len()]; sizes.len()];
        for _ in 0..runs {
            for (s, (model, solution)) in cases.iter().enumerate() {
                for (k, (_, write)) in formats.iter().enumerate() {
                    let (cpu, wall) = (thread_cpu_time(), Instant::now());
                    let out = write(model, solution);
                    let (cpu, wall) = (thread_cpu_time() - cpu, wall.elapsed());
                    bytes[s][k] = out.len();
                    drop(out);
                    fastest[s][k] = (fastest[s][k].0.min(cpu), fastest[s][k].1.min(wall));
                }
            }
        }
        println!("{family} = {sizes:?}: CPU ms (fastest of {runs}), ×the size before, MB, CPU ms per MB, wall ms");
        for (k, (format, _)) in formats.iter().enumerate() {
            for (s, n) in sizes.iter().enumerate() {
                let (cpu, wall) = fastest[s][k];
                let ms = cpu.as_secs_f64() * 1e3;
                let ratio = (s > 0).then(|| cpu.as_secs_f64() / fastest[s - 1][k].0.as_secs_f64());
                let mb = bytes[s][k] as f64 / 1e6;
                println!(
                    "  {:<32} {ms:>10.3} {:>6} {mb:>8.2} {:>8.1} {:>10.3}",
                    format!("{format} at {n}"),
                    ratio.map_or(String::new(), |r| format!("x{r:.2}")),
                    ms / mb,
                    wall.as_secs_f64() * 1e3
                );
                if let Some(r) = ratio.filter(|&r| r > 2.2) {
                    failures.push(format!("{family} {} → {n}, {format}: x{r:.2}", sizes[s - 1]));
                }
            }
        }
        let (text, json) = (0, 2);
        for (s, n) in sizes.iter().enumerate() {
            let r = fastest[s][text].0.as_secs_f64() / fastest[s][json].0.as_secs_f64();
            println!("  text / json at {n}: {r:.2}");
            if r > 1.0 {
                failures.push(format!("{family} {n}: text takes {r:.2}× the JSON's time"));
            }
        }
    }
    verdict(&failures);
}

/// One file's `nnderive solve`, phase by phase: checking, the exact solve
/// (derivation and evaluation), and each writer alone on the solution (the
/// Python package's first `sol.text` is the exact solve and the text writer).
fn file_case(runs: usize, path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let source = Source::new(path, text);
    report(&format!("{path}: parse and check"), median(runs, || drop(nnderive::load(&source).unwrap())));
    let model = nnderive::load(&source).unwrap();
    report(&format!("{path}: derive and evaluate (solve)"), median(runs, || drop(nnderive::solve(&model).unwrap())));
    let solution = nnderive::solve(&model).unwrap();
    let formats = writer_formats();
    for (format, write) in formats {
        let mut bytes = 0;
        let d = median(runs, || bytes = write(&model, &solution).len());
        println!(
            "{:<58} {:>10.3} ms {:>8.2} MB",
            format!("{path}: write {format}"),
            d.as_secs_f64() * 1e3,
            bytes as f64 / 1e6
        );
    }
}

/// Adam on `w^2` (one parameter) for 1 000 to 8 000 steps: the time per
/// step should stay flat (linear in the steps), where computing β^k afresh
/// as a fraction at each step made it grow with k.
fn adam_steps(runs: usize) {
    for steps in [1_000u32, 2_000, 4_000, 8_000] {
        let text = format!("param w = 3\nloss L = w^2\ntrain adam(lr = 0.01, steps = {steps})\n");
        let model = nnderive::load(&Source::new("adam.nn", text)).unwrap();
        let d = median(runs, || drop(nnderive::solve(&model).unwrap()));
        report(&format!("adam on w^2, {steps} steps"), d);
        println!("{:<58} {:>10.3} us", "  per step", d.as_secs_f64() * 1e6 / f64::from(steps));
    }
}

/// A recurrent network of one unit over 2 500 to 10 000 time steps,
/// checked (the file unrolled) and derived: linear in the steps, where
/// copying the input sequence at each step and scanning every term of a
/// sum over time for each step were quadratic (10 000 steps took 6 s to check).
fn time_steps(runs: usize) {
    for steps in [2_500usize, 5_000, 10_000] {
        let rows: Vec<&str> = (0..steps).map(|t| if t % 2 == 0 { "[1]" } else { "[-1]" }).collect();
        let text = format!(
            "steps t = 1..{steps}\ninput x[t][1] = [{}]\nconst h[0][1] = [0]\nparam w[1,1] = [[0.5]]\n\
             param u[1,1] = [[0.25]]\nh[t] = tanh(w @ h[t-1] + u @ x[t])\nloss L = sum(h[t] for t)\n",
            rows.join(", ")
        );
        let source = Source::new("rnn.nn", text);
        report(
            &format!("{steps} time steps: parse, unroll and check"),
            median(runs, || drop(nnderive::load(&source).unwrap())),
        );
        let model = nnderive::load(&source).unwrap();
        report(&format!("{steps} time steps: derive"), median(runs, || drop(nnderive::derive::derive(&model))));
    }
}

/// The derivation alone (`derive::derive`, which the Python package runs
/// once per loaded network), per network: the assignment's network, the
/// `.nn` files in `$NNDERIVE_BENCH_NETS`, then the RNN (D = 32, H = 64) and
/// the LSTM (D = 32, H = 32) at T = 50, 100, 200 and 400 steps, with the
/// ratio to the step count before (linear: about 2 per doubling).
fn derive_alone(runs: usize) {
    let mut cases =
        vec![("assignment4.nn".to_string(), std::fs::read_to_string(common::example("assignment4.nn")).unwrap())];
    cases.extend(bench_nets());
    for (name, text) in cases {
        let model = nnderive::load(&Source::new("derive.nn", text)).unwrap();
        report(&format!("derive {name}"), median(runs, || drop(nnderive::derive::derive(&model))));
    }
    type Family = (&'static str, fn(usize) -> String);
    let families: [Family; 2] =
        [("RNN D=32 H=64", |t| rnn_network(2, t, 32, 64)), ("LSTM D=32 H=32", |t| lstm_network(1, t, 32, 32))];
    for (family, make) in families {
        let mut before: Option<Duration> = None;
        for steps in [50, 100, 200, 400] {
            let model = nnderive::load(&Source::new("derive.nn", make(steps))).unwrap();
            let d = median(runs, || drop(nnderive::derive::derive(&model)));
            let ratio = before.map_or(String::new(), |b| format!("x{:.2}", d.as_secs_f64() / b.as_secs_f64()));
            println!("{:<58} {:>10.3} ms {ratio:>6}", format!("derive {family}, T = {steps}"), d.as_secs_f64() * 1e3);
            before = Some(d);
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; run directly without it for a quick single pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 7 };
    // `cargo bench -- wide`: only the wide case.
    if std::env::args().any(|a| a == "wide") {
        wide_case(runs);
        return;
    }
    // `cargo bench -- parse`: only parsing and checking.
    if std::env::args().any(|a| a == "parse") {
        parse_case(runs);
        return;
    }
    // `cargo bench -- batch`: only the batch of 256.
    if std::env::args().any(|a| a == "batch") {
        batch_case(runs.min(3));
        return;
    }
    // `cargo bench -- eval`: only the evaluation, for NumPy's in-process figure.
    if std::env::args().any(|a| a == "eval") {
        eval_only(runs.max(5));
        return;
    }
    // `cargo bench -- phases [load]`: the notebook networks phase by phase.
    if std::env::args().any(|a| a == "phases") {
        let runs = std::env::var("NNDERIVE_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(runs.max(11));
        network_phases(runs, std::env::args().any(|a| a == "load"));
        return;
    }
    // `cargo bench -- fast`: only the Python package's f64 evaluation.
    if std::env::args().any(|a| a == "fast") {
        fast_eval(runs.max(5));
        return;
    }
    // `cargo bench -- longsum`: only the long gradient sums.
    if std::env::args().any(|a| a == "longsum") {
        long_sums(runs.min(3));
        return;
    }
    // `cargo bench -- file PATH`: one file's phases and writers.
    if let Some(path) = std::env::args().skip_while(|a| a != "file").nth(1) {
        file_case(runs.min(5), &path);
        return;
    }
    // `cargo bench -- writers`: each output format's writer, at doubling sizes.
    if std::env::args().any(|a| a == "writers") {
        writers(runs);
        return;
    }
    // `cargo bench -- timesteps`: only checking and deriving long recurrences.
    if std::env::args().any(|a| a == "timesteps") {
        time_steps(runs.min(3));
        return;
    }
    // `cargo bench -- adam`: only Adam's time by number of steps.
    if std::env::args().any(|a| a == "adam") {
        adam_steps(runs.min(5));
        return;
    }
    // `cargo bench -- derive`: only the derivation, per network and by T.
    if std::env::args().any(|a| a == "derive") {
        derive_alone(runs.max(5));
        return;
    }
    // `cargo bench -- depth`: only the derivation of deep networks.
    if std::env::args().any(|a| a == "depth") {
        derive_depth(runs);
        return;
    }

    let assignment = std::fs::read_to_string(common::example("assignment4.nn")).expect("example exists");
    report(
        "solve assignment4.nn (parse, check, derive, evaluate, train)",
        median(runs, || {
            let model = nnderive::load(&Source::new("a.nn", assignment.clone())).unwrap();
            nnderive::solve(&model).unwrap();
        }),
    );

    for depth in [25, 50, 100] {
        let widths = vec![64; depth + 1];
        let text = common::random_network(7, depth, &widths, &["tanh", "sigmoid"], "cross_entropy");
        let model = nnderive::load(&Source::new("deep.nn", text)).unwrap();
        report(
            &format!("derive {depth}-layer, 64-wide network"),
            median(runs, || {
                nnderive::derive::derive(&model);
            }),
        );
        report(
            &format!("derive and evaluate {depth}-layer, 64-wide network"),
            median(runs, || {
                nnderive::solve(&model).unwrap();
            }),
        );
    }

    derive_depth(runs);
    adam_steps(runs.min(5));
    time_steps(runs.min(3));
    wide_case(runs);
    batch_case(runs.min(3));

    // Exact throughout: relu keeps rationals exact, so every value is a fraction.
    let widths = vec![64; 101];
    // Random ±1 weights make a 100-layer relu network's values grow without
    // bound, so this one is solved without the training step.
    let text = common::random_network(5, 100, &widths, &["relu"], "mse").replace("train sgd(lr = 0.1)\n", "");
    let model = nnderive::load(&Source::new("exact.nn", text)).unwrap();
    report(
        "derive and evaluate 100-layer, 64-wide relu network, exact",
        median(runs.min(3), || {
            nnderive::solve(&model).unwrap();
        }),
    );

    // A vanilla RNN over 100 steps with a 32-wide state (unrolled: 200
    // equations, a sum of 100 terms per shared weight).
    let text = common::rnn_network(3, 100, 32, 8, 4);
    let model = nnderive::load(&Source::new("rnn.nn", text.clone())).unwrap();
    report(
        "derive 100-step, 32-wide RNN (the recurrence in t)",
        median(runs, || {
            nnderive::derive::derive(&model);
        }),
    );
    report(
        "solve 100-step, 32-wide RNN (parse, check, unroll, train)",
        median(runs.min(5), || {
            let model = nnderive::load(&Source::new("rnn.nn", text.clone())).unwrap();
            nnderive::solve(&model).unwrap();
        }),
    );

    // A CIFAR-sized convolutional network: exact through conv, relu and
    // max-pool, f64 from the softmax on.
    let text = common::cifar_network(11);
    let model = nnderive::load(&Source::new("cifar.nn", text)).unwrap();
    report(
        "solve 3x32x32 conv(16 3x3, pad 1), max-pool 2, dense 10",
        median(runs.min(5), || {
            nnderive::solve(&model).unwrap();
        }),
    );

    // Large enough that the matrix products dominate: values turn f64 after
    // the first sigmoid.
    let widths = [256, 512, 512, 512, 10];
    let text = common::random_network(3, 4, &widths, &["sigmoid"], "cross_entropy");
    let model = nnderive::load(&Source::new("wide.nn", text)).unwrap();
    report(
        "solve 256-512-512-512-10 network (f64 after layer 1)",
        median(runs.min(3), || {
            nnderive::solve(&model).unwrap();
        }),
    );
}
