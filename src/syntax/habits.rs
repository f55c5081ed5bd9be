//! Spellings students bring from NumPy, PyTorch, Python and textbooks, and
//! what nnderive writes instead: one table, read by the parser (`np.dot(W, x)`,
//! `W.dot(x)`, `W**2`, `ŷ`) and by the checker (`ln(z)`, `transpose(W)`).
//! Every built-in a form names is checked to exist (`tests/mistakes.rs`).

/// Foreign function names and the nnderive form of a call to them; `{0}`,
/// `{1}` are the arguments as written (a method's receiver is `{0}`).
pub const FORMS: [(&str, usize, &str); 25] = [
    ("dot", 2, "{0} @ {1}"),
    ("matmul", 2, "{0} @ {1}"),
    ("mm", 2, "{0} @ {1}"),
    ("mv", 2, "{0} @ {1}"),
    ("outer", 2, "{0} @ {1}.T"),
    ("multiply", 2, "{0} * {1}"),
    ("mul", 2, "{0} * {1}"),
    ("add", 2, "{0} + {1}"),
    ("subtract", 2, "{0} - {1}"),
    ("sub", 2, "{0} - {1}"),
    ("divide", 2, "{0} / {1}"),
    ("div", 2, "{0} / {1}"),
    ("transpose", 1, "{0}.T"),
    ("t", 1, "{0}.T"),
    ("square", 1, "{0}^2"),
    ("power", 2, "{0}^{1}"),
    ("pow", 2, "{0}^{1}"),
    ("ln", 1, "log({0})"),
    ("maximum", 2, "max({0}, {1})"),
    ("minimum", 2, "min({0}, {1})"),
    ("clip", 3, "max(min({0}, {2}), {1})"),
    ("expit", 1, "sigmoid({0})"),
    ("logistic", 1, "sigmoid({0})"),
    // PyTorch's losses take (prediction, target); nnderive's (target, prediction).
    ("mse_loss", 2, "mse({1}, {0})"),
    ("binary_cross_entropy", 2, "bce({1}, {0})"),
];

/// Activations students expect that are not built in, each as a `fn` of
/// built-ins (the help for an unknown function offers it).
pub const DEFINITIONS: [(&str, &str); 6] = [
    ("swish", "fn swish(t) = t * sigmoid(t)"),
    ("mish", "fn mish(t) = t * tanh(softplus(t))"),
    ("hardtanh", "fn hardtanh(t) = max(min(t, 1), -1)"),
    ("hard_tanh", "fn hard_tanh(t) = max(min(t, 1), -1)"),
    ("relu6", "fn relu6(t) = min(relu(t), 6)"),
    ("hard_sigmoid", "fn hard_sigmoid(t) = max(min(t / 6 + 0.5, 1), 0)"),
];

/// The nnderive form of `name(args)` for a foreign name in [`FORMS`].
pub fn form(name: &str, args: &[String]) -> Option<String> {
    let (_, arity, template) = FORMS.iter().find(|(n, arity, _)| *n == name && *arity == args.len())?;
    let mut out = template.to_string();
    for (i, a) in args.iter().enumerate().take(*arity) {
        let slot = format!("{{{i}}}");
        // An argument inside a call's brackets stands as written; an operand
        // of an operator is bracketed unless it is a single term.
        let in_call = template.contains(&format!("({slot}")) || template.contains(&format!(" {slot})"));
        let single = !(a.contains(' ') || a.starts_with('-')) || bracketed(a);
        let shown = if in_call || single { a.clone() } else { format!("({a})") };
        out = out.replace(&slot, &shown);
    }
    Some(out)
}

/// Is `text` one bracketed group, as `(a + b)` (but not `(a) + (b)`)?
fn bracketed(text: &str) -> bool {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 < text.len() {
                    return false;
                }
            }
            _ if depth == 0 => return false,
            _ => {}
        }
    }
    depth == 0 && text.starts_with('(')
}

/// The library a module name belongs to (`np` is NumPy), if it is one.
pub fn library(module: &str) -> Option<&'static str> {
    Some(match module {
        "np" | "numpy" | "jnp" => "NumPy",
        "torch" | "F" | "nn" => "PyTorch",
        "tf" => "TensorFlow",
        "math" => "Python's math module",
        "scipy" | "special" => "SciPy",
        _ => return None,
    })
}

/// An ASCII name for a word written with other letters: Greek letters by
/// their names (σ is `sigma`, λ is `lam`, since `lambda` is awkward in
/// Python), a letter with a hat or bar by its base (`ŷ` is `yhat`).
pub fn ascii_name(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        let greek = match c {
            'α' => "alpha",
            'β' => "beta",
            'γ' => "gamma",
            'δ' | 'Δ' => "delta",
            'ε' | 'ϵ' => "eps",
            'ζ' => "zeta",
            'η' => "eta",
            'θ' => "theta",
            'κ' => "kappa",
            'λ' => "lam",
            'μ' => "mu",
            'ν' => "nu",
            'ξ' => "xi",
            'π' => "pi",
            'ρ' => "rho",
            'σ' => "sigma",
            'Σ' => "Sigma",
            'τ' => "tau",
            'φ' | 'ϕ' => "phi",
            'χ' => "chi",
            'ψ' => "psi",
            'ω' => "omega",
            'Ω' => "Omega",
            '\u{0302}' => "hat",
            '\u{0304}' | '\u{0305}' => "bar",
            '\u{0303}' => "tilde",
            '\u{2032}' | '\'' => "_prime",
            'ŷ' => "yhat",
            'ᵀ' => ".T",
            '²' => "^2",
            '³' => "^3",
            'â' => "ahat",
            'ô' => "ohat",
            'ĥ' => "hhat",
            'ȳ' => "ybar",
            '₀'..='₉' => {
                out.push(char::from(b'0' + (c as u32 - '₀' as u32) as u8));
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(greek);
    }
    out
}

/// Letters, digits and combining marks that may continue a word someone
/// meant as a name (`ŷ`, `y₁`, `x̂`).
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || ('\u{0300}'..='\u{036f}').contains(&c) || ('₀'..='₉').contains(&c)
}
