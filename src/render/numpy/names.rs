//! Python names for everything the exported file computes: the names of
//! the derivation in `.nn` notation (`W1`, `yhat`, `delta1`, `dL_dW1`,
//! `f_prime`), kept as they are wherever Python allows. A name that is a
//! Python keyword or one the file itself uses (`np`, `relu`, `backprop`)
//! gets a trailing underscore (`lambda_`), as does a second name that would
//! read the same. A sequence (`h[1]`, `h[2]`, …) is one dict by step.

use std::collections::{HashMap, HashSet};

use crate::derive::{Derivation, Wrt};
use crate::model::time::split_step;
use crate::model::{FnId, Func, Model, SymbolId, TensorId};

use super::super::formula::{Names, Notation};

/// Python's keywords and the names the exported file defines or uses.
const RESERVED: &[&str] = &[
    // Python keywords and soft keywords.
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "match",
    "case",
    "type",
    // Modules and built-ins the file calls.
    "np",
    "math",
    "json",
    "sys",
    "sum",
    "range",
    "dict",
    "list",
    "float",
    "int",
    "len",
    "abs",
    "max",
    "min",
    "print",
    "zip",
    "str",
    "isinstance",
    "sorted",
    "any",
    "all",
    "round",
    "enumerate",
    // The file's own functions and module-level names.
    "relu",
    "step",
    "sigmoid",
    "softplus",
    "leaky_relu",
    "elu",
    "gelu",
    "normcdf",
    "normpdf",
    "softsign",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "mse",
    "bce",
    "conv2d",
    "conv2d_kernel_grad",
    "conv2d_input_grad",
    "pool_windows",
    "maxpool",
    "avgpool",
    "maxpool_back",
    "avgpool_back",
    "flatten",
    "reshape",
    "sum_spatial",
    "onehot",
    "per_channel",
    "backprop",
    "backprop_at",
    "train",
    "solve",
    "report",
    "check",
    "as_json",
    "named",
    "to_text",
    "column",
    "main",
    "SHAPES",
    "EXPECTED",
    "PARAMETERS",
    "GIVEN",
];

/// The Python name of each tensor, derived quantity, gradient and function.
pub struct PyNames {
    /// Per tensor: the variable (a sequence's dict) and its step.
    tensors: Vec<(String, Option<u64>)>,
    symbols: HashMap<SymbolId, (String, Option<u64>)>,
    gradients: HashMap<TensorId, (String, Option<u64>)>,
    functions: HashMap<Func, String>,
    params: HashMap<FnId, Vec<String>>,
    /// The time index (`t`), when the file has steps.
    pub index: String,
}

/// Assigns distinct identifiers to the names of the derivation.
struct Namer {
    taken: HashSet<String>,
    given: HashMap<String, String>,
}

impl Namer {
    fn new(extra: &[&str]) -> Namer {
        let taken = RESERVED.iter().chain(extra).map(|s| s.to_string()).collect();
        Namer { taken, given: HashMap::new() }
    }

    /// The identifier for the name `spelled` of a `kind` of thing (the
    /// same one each time it is asked): a tensor and a function spelled
    /// alike get distinct identifiers.
    fn name(&mut self, kind: &str, spelled: &str) -> String {
        let key = format!("{kind} {spelled}");
        if let Some(id) = self.given.get(&key) {
            return id.clone();
        }
        let mut id = identifier(spelled);
        while self.taken.contains(&id) {
            id.push('_');
        }
        self.taken.insert(id.clone());
        self.given.insert(key, id.clone());
        id
    }
}

/// `name` with every character Python does not allow in a name dropped.
fn identifier(name: &str) -> String {
    let mut id: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    id
}

/// A parameter of a scalar function: local to its `def`, so only Python's
/// and the file's own names are avoided.
fn local(name: &str) -> String {
    let mut id = identifier(name);
    while RESERVED.contains(&id.as_str()) {
        id.push('_');
    }
    id
}

/// `base` at step `k`, or at `t + (k − now)` inside a loop over t.
fn at(base: &str, step: Option<u64>, now: Option<u64>, index: &str) -> String {
    match (step, now) {
        (None, _) => base.to_string(),
        (Some(k), None) => format!("{base}[{k}]"),
        (Some(k), Some(now)) => match k as i64 - now as i64 {
            0 => format!("{base}[{index}]"),
            d if d > 0 => format!("{base}[{index} + {d}]"),
            d => format!("{base}[{index} - {}]", d.unsigned_abs()),
        },
    }
}

/// A name as the `.nn` notation writes it, split into its base and step.
fn split(name: &str) -> (&str, Option<u64>) {
    match split_step(name) {
        Some((base, k)) => (base, Some(k)),
        None => (name, None),
    }
}

impl PyNames {
    pub fn new(model: &Model, d: &Derivation) -> PyNames {
        let names = Names::new(model, Some(d));
        let index = model.time.as_ref().map(|t| t.index.clone()).unwrap_or_else(|| "t".into());
        let mut namer = Namer::new(&[index.as_str()]);
        let mut functions = HashMap::new();
        let mut params = HashMap::new();
        for (i, f) in model.functions.values().enumerate() {
            let id = FnId(i as u32);
            functions.insert(Func::Custom(id), namer.name("fn", &f.name));
            params.insert(id, f.params.iter().map(|p| local(p)).collect());
        }
        for fd in &d.fn_derivatives {
            let f = Func::Derivative { func: fd.func, wrt: fd.wrt };
            functions.insert(f, namer.name("fn", &names.function(f, Notation::Nn)));
        }
        let tensors = model
            .ids()
            .map(|t| {
                let (base, step) = split(&model.tensor(t).name);
                (namer.name("tensor", base), step)
            })
            .collect();
        let mut symbols = HashMap::new();
        for (i, _) in d.symbols.iter().enumerate() {
            let s = SymbolId(i as u32);
            let name = names.symbol(s, Notation::Nn, &d.graph);
            let (base, step) = split(&name);
            symbols.insert(s, (namer.name("symbol", base), step));
        }
        let mut gradients = HashMap::new();
        for g in &d.gradients {
            let name = names.gradient_of(Wrt::Tensor(g.param), Notation::Nn, &d.graph);
            let (base, step) = split(&name);
            gradients.insert(g.param, (namer.name("gradient", base), step));
        }
        PyNames { tensors, symbols, gradients, functions, params, index }
    }

    /// A tensor's Python expression: `W1`, `h[3]`, or `h[t - 1]` in a loop at step `now`.
    pub fn tensor(&self, t: TensorId, now: Option<u64>) -> String {
        let (base, step) = &self.tensors[t.0 as usize];
        at(base, *step, now, &self.index)
    }

    /// The variable of a tensor (a sequence's dict) and its step.
    pub fn tensor_base(&self, t: TensorId) -> (&str, Option<u64>) {
        let (base, step) = &self.tensors[t.0 as usize];
        (base, *step)
    }

    pub fn symbol(&self, s: SymbolId, now: Option<u64>) -> String {
        match self.symbols.get(&s) {
            Some((base, step)) => at(base, *step, now, &self.index),
            None => format!("s{}", s.0),
        }
    }

    /// The variable of a derived quantity (a sequence's dict) and its step.
    pub fn symbol_base(&self, s: SymbolId) -> (&str, Option<u64>) {
        match self.symbols.get(&s) {
            Some((base, step)) => (base, *step),
            None => ("", None),
        }
    }

    /// The variable holding ∂L/∂P: `dL_dW1`, `dL_db[2]`.
    pub fn gradient(&self, param: TensorId) -> String {
        match self.gradients.get(&param) {
            Some((base, step)) => at(base, *step, None, &self.index),
            None => String::new(),
        }
    }

    pub fn gradient_base(&self, param: TensorId) -> (&str, Option<u64>) {
        match self.gradients.get(&param) {
            Some((base, step)) => (base, *step),
            None => ("", None),
        }
    }

    /// A custom function or one of its derivatives: `f`, `f_prime`, `dg_da`.
    pub fn function(&self, f: Func) -> String {
        self.functions.get(&f).cloned().unwrap_or_default()
    }

    /// The parameters of a custom function, as its `def` names them.
    pub fn params(&self, f: FnId) -> &[String] {
        self.params.get(&f).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_the_files_own_names_get_an_underscore() {
        let mut namer = Namer::new(&["t"]);
        assert_eq!(namer.name("tensor", "lambda"), "lambda_");
        assert_eq!(namer.name("tensor", "np"), "np_");
        assert_eq!(namer.name("tensor", "t"), "t_");
        assert_eq!(namer.name("tensor", "W1"), "W1");
        assert_eq!(namer.name("tensor", "W1"), "W1", "the same name, the same identifier");
        assert_eq!(namer.name("symbol", "W1"), "W1_", "another thing spelled alike");
        assert_eq!(identifier("dL_d(W@x)"), "dL_dWx");
        assert_eq!(local("sum"), "sum_");
    }

    #[test]
    fn steps_print_relative_to_the_loop() {
        assert_eq!(at("h", Some(3), None, "t"), "h[3]");
        assert_eq!(at("h", Some(2), Some(3), "t"), "h[t - 1]");
        assert_eq!(at("delta_h", Some(4), Some(3), "t"), "delta_h[t + 1]");
        assert_eq!(at("W", None, Some(3), "t"), "W");
    }
}
