//! Degenerate shapes print cleanly: scalars flattened, maps of one entry,
//! softmax of one class, sums along an axis of length 1, one time step.
//! Over many small generated networks of such pieces, no writer (text,
//! nn, JSON, LaTeX, Markdown; derivation and solution) emits an empty
//! argument list or subscript, and a reshape that changes nothing is not
//! shown.

mod common;

use nnderive::Source;

/// One piece of a network: declarations and equations using the suffix
/// `k`, and a scalar term for the loss.
fn piece(kind: usize, k: usize) -> (String, String) {
    let (decls, term) = match kind {
        // A scalar flattened to a column of one entry.
        0 => (format!("param w{k} = 0.5\nf{k} = flatten(w{k})\n"), format!("sum(f{k} * f{k})")),
        // A map of one entry through a 1×1 convolution, a 1×1 pool and flatten.
        1 => (
            format!(
                "param M{k}[1,1,1] = [[[0.5]]]\nparam K{k}[1,1,1,1] = [[[[0.25]]]]\n\
                 C{k} = relu(conv2d(M{k}, K{k}))\nP{k} = maxpool(C{k}, 1)\nF{k} = flatten(P{k})\n"
            ),
            format!("sum(F{k})"),
        ),
        // softmax of a single class.
        2 => (format!("param v{k}[1] = [0.3]\ns{k} = softmax(v{k})\n"), format!("sum(s{k} * v{k})")),
        // A 1×1 matrix applied to a vector of one entry.
        3 => (
            format!("param A{k}[1,1] = [[0.2]]\ninput x{k}[1] = [0.7]\nz{k} = A{k} @ x{k}\n"),
            format!("sum(tanh(z{k}))"),
        ),
        // Sums along an axis of length 1.
        4 => (
            format!("param B{k}[1,3] = [[0.1, 0.2, 0.3]]\nr{k} = sum(B{k}, axis = 0)\nc{k} = mean(B{k}, axis = 1)\n"),
            format!("sum(r{k} * r{k}) + sum(c{k})"),
        ),
        // Scalar built-ins of one and two arguments.
        5 => (
            format!("param u{k} = -0.4\n"),
            format!("elu(u{k}) + softsign(u{k}) + max(u{k}, 0.1) + leaky_relu(u{k}, 0.1)"),
        ),
        // A custom function of a one-entry vector.
        6 => (format!("fn g{k}(t) = t * sigmoid(t)\nparam q{k}[1] = [0.5]\n"), format!("sum(g{k}(q{k}))")),
        // A 1×1 matrix times its transpose.
        7 => (format!("param m{k}[1,1] = [[0.5]]\n"), format!("sum(m{k}.T @ m{k})")),
        // An average pool down to one entry, flattened.
        8 => (
            format!("param D{k}[1,2,2] = [[[0.1, 0.2], [0.3, 0.4]]]\nE{k} = avgpool(D{k}, 2)\nG{k} = flatten(E{k})\n"),
            format!("sum(G{k})"),
        ),
        // A 1×1 kernel over a 1×2 map with a bias of one channel.
        _ => (
            format!(
                "param X{k}[1,1,2] = [[[0.5, -0.5]]]\nparam H{k}[1,1,1,1] = [[[[2]]]]\nparam c{k}[1] = [0.1]\n\
                 Y{k} = conv2d(X{k}, H{k}) + c{k}\n"
            ),
            format!("mean(sigmoid(Y{k}))"),
        ),
    };
    (decls, term)
}

/// The loss closing a network: a built-in loss of one entry, or none.
fn closing(kind: usize) -> (&'static str, &'static str) {
    match kind {
        0 => ("param pz[1] = [0.2]\ntarget ty[1] = [1]\npy = softmax(pz)\n", " + cross_entropy(ty, py)"),
        1 => ("param bz = 0.3\ntarget by = 1\nbp = sigmoid(bz)\n", " + bce(by, bp)"),
        2 => ("param mp[1] = [0.3]\ntarget my[1] = [1]\n", " + mse(my, mp)"),
        _ => ("", ""),
    }
}

/// A recurrent piece over one or two time steps (`steps t = 1..T`).
fn recurrent(steps: u32) -> String {
    let rows = vec!["[0.5]"; steps as usize].join(", ");
    format!(
        "steps t = 1..{steps}\ninput x[t][1] = [{rows}]\nconst h[0][1] = [0]\nparam W[1,1] = [[0.3]]\n\
         param U[1,1] = [[0.2]]\nh[t] = tanh(W @ h[t-1] + U @ x[t])\nloss L = sum(h[t] for t)\ntrain sgd(lr = 0.1)\n"
    )
}

/// A network of 1 to 4 pieces drawn by `seed`, a closing loss, and maybe
/// a training step.
fn network(seed: u64) -> String {
    let mut rng = common::Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(7));
    let mut next = |n: usize| (rng.next() % n as u64) as usize;
    if next(8) == 0 {
        return recurrent(1 + next(2) as u32);
    }
    let pieces = 1 + next(4);
    let mut text = String::new();
    let mut terms = Vec::new();
    for k in 0..pieces {
        let (decls, term) = piece(next(10), k);
        text.push_str(&decls);
        terms.push(term);
    }
    let (decls, loss) = closing(next(4));
    text.push_str(decls);
    text.push_str(&format!("loss L = {}{loss}\n", terms.join(" + ")));
    match next(3) {
        0 => text.push_str("train sgd(lr = 0.1)\n"),
        1 => text.push_str("train adam(lr = 0.01, steps = 3)\n"),
        _ => {}
    }
    text
}

/// Where `text` has an empty argument list or subscript, if anywhere.
fn empty_part(text: &str) -> Option<&'static str> {
    ["()", "(, ", ", )", ",)", "_{}", "^{}", "\\left(\\right)", "\\left( \\right)", "reshape("]
        .into_iter()
        .find(|pattern| text.contains(pattern))
}

/// Every writer's output for one network.
fn outputs(text: &str) -> Vec<(&'static str, String)> {
    let model = nnderive::load(&Source::new("gen.nn", text)).unwrap_or_else(|e| panic!("{text}{:?}", e.diagnostic()));
    let derivation = nnderive::derive::derive(&model);
    let solution = nnderive::solve(&model).unwrap_or_else(|e| panic!("{text}{:?}", e.diagnostic()));
    vec![
        ("derive text", nnderive::render::text::derivation(&model, &derivation)),
        // A network the `.nn` writer refuses (conv, pool or one-hot
        // adjoints) is checked by the other writers.
        ("derive nn", nnderive::render::nn::derivation(&model, &derivation).unwrap_or_default()),
        ("derive json", nnderive::render::json::derivation(&model, &derivation)),
        ("solve text", nnderive::render::text::solution(&model, &solution, Some(4))),
        ("solve text, full", nnderive::render::text::solution(&model, &solution, None)),
        ("solve json", nnderive::render::json::solution(&model, &solution, Some(4))),
        ("solve latex", nnderive::render::latex::document(&model, &solution, Some(4))),
        ("solve markdown", nnderive::render::markdown::document(&model, &solution, Some(4))),
    ]
}

/// The networks' pieces leave every layout of one entry as it was, so no
/// reshape is shown (a reshape that changes something, [4] to [1, 2, 2],
/// is: see tests/conv.rs), and nothing is empty.
#[test]
fn no_writer_emits_an_empty_argument_or_subscript() {
    let mut checked = 0;
    for seed in 0..160 {
        let text = network(seed);
        for (writer, out) in outputs(&text) {
            // The legend of rules defines the notation `reshape(g, C×H×W)`
            // for every flatten, so it names it; formulas must not show it.
            let out: String = out
                .lines()
                .filter(|line| !line.contains("its backward is the reshape back to"))
                .map(|line| format!("{line}\n"))
                .collect();
            if let Some(pattern) = empty_part(&out) {
                let at = out.find(pattern).unwrap_or(0);
                let context = &out[out[..at].rfind('\n').map_or(0, |i| i + 1)..];
                let line = context.lines().next().unwrap_or("");
                panic!("{writer} of seed {seed} has `{pattern}`:\n{line}\n\nfrom\n{text}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 160 * 8);
}

/// The example of the report: `flatten` of a scalar derived
/// ∂L/∂w = reshape(reshape(1, 1), ) and LaTeX `\operatorname{reshape}_{}`.
#[test]
fn the_gradient_through_flatten_of_a_scalar_is_plain() {
    let text = "param w = 2\nflatten_w = flatten(w)\nloss L = sum(flatten_w)\n";
    let model = nnderive::load(&Source::new("f.nn", text)).unwrap();
    let derivation = nnderive::derive::derive(&model);
    let out = nnderive::render::text::derivation(&model, &derivation);
    // The chain that states ∂L/∂w ends at 1 (no [result] line repeats it).
    assert!(out.contains("  ∂L/∂w         = ∂L/∂flatten_w   [d-flatten at flatten_w]\n                = 1               [substitute]\n"), "{out}");
    let text = "param w = 2\nv = flatten(w)\nloss L = sum(v * v)\n";
    let model = nnderive::load(&Source::new("f.nn", text)).unwrap();
    let solution = nnderive::solve(&model).unwrap();
    let latex = nnderive::render::latex::document(&model, &solution, None);
    assert!(latex.contains("\\frac{\\partial L}{\\partial w} &= 2 v \\\\"), "{latex}");
    assert_eq!(solution.gradients[0].to_f64_vec(), [4.0]);
    assert!(empty_part(&latex).is_none());
}
