//! Large `.nn` files built from a few bytes: the inputs a byte-level fuzzer
//! never reaches by itself (names of 100 000 characters, chains of thousands
//! of equations, deeply nested functions, long gradient sums, big literals,
//! many comments). Shared by the `large` fuzz target and a property test in
//! `tests/syntax.rs`, which run the whole pipeline on them with a time (and,
//! in the fuzzer, memory) limit per input.

/// The file described by `recipe`; `scale` (at most 1.0) shrinks every size,
/// so that debug-build tests stay quick.
pub fn large_input(recipe: &[u8], scale: f64) -> String {
    let byte = |i: usize| recipe.get(i).copied().unwrap_or(0) as usize;
    let size = |max: usize| (((byte(1) << 8 | byte(2)) * max / 65_535) as f64 * scale) as usize + 1;
    let pick = |i: usize, options: &[&'static str]| options[byte(3 + i) % options.len()];
    const UNARY: [&str; 8] = ["sin", "tanh", "relu", "sigmoid", "abs", "softplus", "cos", "f"];
    let mut s = String::from("param x[2] = [0.5, -1.25]\nfn f(t) = relu(t) + sin(t)\n");
    match byte(0) % 6 {
        // A long name, and a long number: up to one digit more than a
        // number may have (the `0.` counts one), so both sides of the limit.
        0 => {
            let name = "n".repeat(size(100_000));
            let digits = "3".repeat(size(nnderive::syntax::MAX_DIGITS));
            s.push_str(&format!("const c[2] = [1, 0.{digits}]\n{name} = x * c\nloss L = sum({name}^2)\n"));
        }
        // A chain of equations through elementwise functions.
        1 => {
            let n = size(30_000);
            s.push_str("H0 = x\n");
            for k in 1..=n {
                s.push_str(&format!("H{k} = {}(H{})\n", pick(k % 16, &UNARY), k - 1));
            }
            s.push_str(&format!("loss L = sum(H{n})\n"));
        }
        // Nested functions: a chain, a shared pair, or a doubling composition.
        2 => {
            let n = size(5_000);
            let body = pick(0, &["sin(g{p}(t))", "g{p}(t) + g{p}(t) * t", "g{p}(g{p}(t))", "tanh(g{p}(t)) * t"]);
            s.push_str("fn g0(t) = sin(t)\n");
            for k in 1..=n {
                s.push_str(&format!("fn g{k}(t) = {}\n", body.replace("{p}", &(k - 1).to_string())));
            }
            s.push_str(&format!("loss L = sum(g{n}(x))\n"));
        }
        // A gradient that sums one term from each of many equations.
        3 => {
            let n = size(20_000);
            s.push_str("H0 = x\n");
            for k in 1..=n {
                s.push_str(&format!("H{k} = {}(H{}) * x\n", pick(k % 16, &UNARY), k - 1));
            }
            s.push_str(&format!("loss L = sum(H{n})\n"));
        }
        // A big literal and a product with it.
        4 => {
            let (m, n) = (size(400), size(400));
            let row = |i: usize| {
                let v: Vec<String> = (0..n).map(|j| format!("{}.{}", (i + j) % 3, (i * 7 + j) % 10)).collect();
                format!("[{}]", v.join(", "))
            };
            let rows: Vec<String> = (0..m).map(row).collect();
            s.push_str(&format!("param W[{m},{n}] = [{}]\nparam v[{n}]\n", rows.join(",\n  ")));
            s.push_str(&format!("Z = W @ v\nloss L = sum({}(Z)) + sum(x)\n", pick(0, &UNARY)));
        }
        // Many statements, each with a comment.
        _ => {
            let n = size(40_000);
            for k in 0..n {
                s.push_str(&format!("y{k} = x * {k}  # comment {k}\n"));
                if k % 97 == 0 {
                    s.push_str("# a comment line\n\n");
                }
            }
            s.push_str("loss L = sum(x^2)\n");
        }
    }
    s
}
