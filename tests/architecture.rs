//! The shape of the source tree, checked: the pipeline's stages depend only
//! on the stages before them, no two files depend on each other through any
//! chain of `use`s, and no source file passes 1 500 lines.
//!
//! The dependencies are read from the text of `src/`: every path starting
//! with `crate::`, `super::` or `self::` (in `use` lists, `{…}` groups
//! included, and inline), resolved to the file that defines the item, going
//! through a module file's `pub use child::{…}` re-exports. Test modules
//! (after `#[cfg(test)]`) are left out: a test may load a whole network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages in pipeline order: a file may use its own stage and those
/// listed before it. `nnderive`'s root (`lib.rs`: `load`, `solve`, its
/// `Error`) sits between `eval` and `render`, and is not a module here.
const STAGES: [&str; 12] =
    ["span", "diagnostic", "layout", "rational", "syntax", "model", "derive", "eval", "render", "vary", "grade", "cli"];

/// The most lines a source file may hold.
const MAX_LINES: usize = 1500;

/// A module's path below the crate root: `["model", "expr"]`.
type Module = Vec<String>;

struct Tree {
    /// Each module's file and its text without tests and comments.
    files: BTreeMap<Module, (PathBuf, String)>,
}

impl Tree {
    fn read(root: &Path) -> Tree {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.insert(module_of(root, &path), (path, code(&text)));
                }
            }
        }
        Tree { files }
    }

    /// The module whose file defines what `path` names: the longest prefix
    /// that is a file, then through its re-exports.
    fn resolve(&self, path: &[String], reexports: &BTreeMap<Module, BTreeMap<String, Module>>) -> Option<Module> {
        let n = (0..=path.len()).rev().find(|&n| self.files.contains_key(&path[..n]))?;
        let mut module = path[..n].to_vec();
        let mut rest = &path[n..];
        while let Some(child) = rest.first().and_then(|name| reexports.get(&module)?.get(name)) {
            module = child.clone();
            rest = &rest[1..];
        }
        Some(module)
    }
}

/// `src/model/expr.rs` is `["model", "expr"]`; `mod.rs`, `lib.rs` and
/// `main.rs` are their folder's module.
fn module_of(root: &Path, path: &Path) -> Module {
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts == ["main"] {
        // The binary's root: its modules are `src/cli/*.rs` (`#[path]`).
        return vec!["cli".to_string()];
    }
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// `text` without its test module and its line comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every path the text names from `crate::`, `super::` or `self::`, as
/// module paths from the crate root (`{a, b::c}` groups expanded one level).
/// `self::` is the module itself and `super::` its parent, whether its file
/// is `x.rs` or `x/mod.rs`. In the binary (`cli`), `crate::` is the
/// binary's root and `nnderive::` the library's.
fn paths(module: &Module, text: &str) -> Vec<Vec<String>> {
    let here = module.clone();
    let binary = module.first().is_some_and(|top| top == "cli");
    let prefixes: &[&str] =
        if binary { &["crate::", "super::", "self::", "nnderive::"] } else { &["crate::", "super::", "self::"] };
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start_word =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        let prefix = prefixes.iter().find(|p| text[i..].starts_with(**p));
        let (true, Some(_)) = (start_word, prefix) else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // The path: words and `::` up to anything else.
        let end =
            text[i..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).map_or(text.len(), |n| i + n);
        let mut segments: Vec<&str> = text[i..end].split("::").filter(|s| !s.is_empty()).collect();
        let mut base: Module = match segments.first() {
            Some(&"crate") if binary => vec!["cli".to_string()],
            Some(&"crate" | &"nnderive") => Vec::new(),
            _ => here.clone(),
        };
        if matches!(segments.first(), Some(&"crate" | &"self" | &"nnderive")) {
            segments.remove(0);
        }
        while segments.first() == Some(&"super") {
            segments.remove(0);
            base.pop();
        }
        base.extend(segments.iter().map(|s| s.to_string()));
        if text[end..].starts_with('{') {
            // The group up to its matching brace; nested groups are read
            // flat (`{a::{B, C}, D}` as `a::B`, `C`, `D`), which reaches
            // the same files through the re-exports.
            let mut depth = 0;
            let close = text[end..]
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(text.len(), |(n, _)| end + n);
            for item in text[end + 1..close].split(',') {
                let item = item.split(" as ").next().unwrap_or("").replace(['{', '}'], "");
                let mut path = base.clone();
                path.extend(
                    item.split("::").map(str::trim).filter(|s| !s.is_empty() && *s != "self").map(String::from),
                );
                out.push(path);
            }
            i = close;
        } else {
            out.push(base);
            i = end.max(i + 1);
        }
    }
    out
}

/// Each module file's `pub use child::{A, B}` (or `pub use self::child::A`):
/// the names it re-exports from its own children.
fn reexports(tree: &Tree) -> BTreeMap<Module, BTreeMap<String, Module>> {
    let mut out = BTreeMap::new();
    for (module, (_, text)) in &tree.files {
        let mut names = BTreeMap::new();
        for statement in text.split("pub use ").skip(1) {
            let statement = statement.split(';').next().unwrap_or("");
            let statement = statement.strip_prefix("self::").unwrap_or(statement);
            let Some((child, rest)) = statement.split_once("::") else {
                continue;
            };
            let mut child_module = module.clone();
            child_module.push(child.trim().to_string());
            if !tree.files.contains_key(&child_module) {
                continue;
            }
            for name in rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|s| !s.is_empty()) {
                names.insert(name.to_string(), child_module.clone());
            }
        }
        out.insert(module.clone(), names);
    }
    out
}

/// Each file's dependencies on the other files (the crate root left out).
fn dependencies(tree: &Tree) -> BTreeMap<Module, BTreeSet<Module>> {
    let reexports = reexports(tree);
    let mut graph = BTreeMap::new();
    for (module, (_, text)) in &tree.files {
        let mut uses = BTreeSet::new();
        for named in paths(module, text) {
            if let Some(target) = tree.resolve(&named, &reexports) {
                if &target != module && !target.is_empty() {
                    uses.insert(target);
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// The strongly connected components of more than one file (Tarjan's
/// algorithm, iterative over an explicit stack).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let nodes: Vec<&Module> = graph.keys().collect();
    let index_of: BTreeMap<&Module, usize> = nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let edges: Vec<Vec<usize>> =
        nodes.iter().map(|m| graph[*m].iter().filter_map(|t| index_of.get(t).copied()).collect()).collect();
    let n = nodes.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut out, mut counter) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(*next) {
                *next += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(nodes[w].clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    out.push(component);
                }
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn name(module: &Module) -> String {
    match module.is_empty() {
        true => "the crate root".to_string(),
        false => module.join("/"),
    }
}

#[test]
fn no_two_files_depend_on_each_other() {
    let graph = dependencies(&Tree::read(&src()));
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(graph.len() > 80 && edges > 150, "the reader found {} files and {edges} uses", graph.len());
    let found = circles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|component| {
            let inside: Vec<String> = component
                .iter()
                .flat_map(|m| {
                    graph[m].iter().filter(|t| component.contains(t)).map(move |t| format!("{} → {}", name(m), name(t)))
                })
                .collect();
            inside.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "files that depend on each other:\n{}", report.join("\n"));
}

#[test]
fn each_stage_uses_only_the_stages_before_it() {
    let graph = dependencies(&Tree::read(&src()));
    let rank = |m: &Module| m.first().and_then(|top| STAGES.iter().position(|s| s == top));
    let mut upward = Vec::new();
    for (module, uses) in &graph {
        let Some(from) = rank(module) else { continue };
        for target in uses {
            if rank(target).is_some_and(|to| to > from) {
                upward.push(format!("{} uses {}", name(module), name(target)));
            }
        }
    }
    let unknown: Vec<String> = graph.keys().filter(|m| !m.is_empty() && rank(m).is_none()).map(name).collect();
    assert!(unknown.is_empty(), "modules in no stage (add them to STAGES): {unknown:?}");
    assert!(upward.is_empty(), "uses of a later stage:\n{}", upward.join("\n"));
}

/// The reader itself: a circle written on purpose is found, and a use
/// through a module's re-export reaches the file that defines the item.
#[test]
fn the_reader_finds_a_circle_through_re_exports() {
    let dir = std::env::temp_dir().join(format!("nnderive-architecture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "mod x;\nmod y;\npub use x::X;\npub use y::{Y, Z};\n").unwrap();
    std::fs::write(dir.join("a/x.rs"), "use crate::a::Y;\npub struct X;\n").unwrap();
    std::fs::write(dir.join("a/y.rs"), "pub struct Y;\npub fn z() -> super::X { super::X }\n").unwrap();
    let graph = dependencies(&Tree::read(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    let x = vec!["a".to_string(), "x".to_string()];
    let y = vec!["a".to_string(), "y".to_string()];
    assert!(graph[&x].contains(&y), "{graph:?}");
    assert_eq!(circles(&graph), vec![vec![x, y]]);
}

#[test]
fn no_source_file_passes_the_line_limit() {
    let mut long = Vec::new();
    for (path, text) in Tree::read(&src()).files.values().map(|(p, _)| (p, std::fs::read_to_string(p).unwrap())) {
        let lines = text.lines().count();
        if lines > MAX_LINES {
            long.push(format!("{} has {lines} lines", path.display()));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines:\n{}", long.join("\n"));
}

/// Every elementwise built-in, every composed layer and every map operation
/// lives in a file of its own under `src/model/ops/elementwise/`,
/// `src/model/ops/layer/` or `src/model/ops/map/`, holding one `impl` of its
/// kind's trait, and its kind's table (`mod.rs`) lists each such file: a
/// file the table forgets would not be compiled at all, so its operation
/// would be silently missing. (A map operation's table line builds the
/// node's view, `MapNode { op: &conv2d::Conv2d, … }`, rather than naming
/// the `impl` after `=>`.)
#[test]
fn every_operation_is_one_file_in_its_table() {
    let kinds =
        [("elementwise", "ElementwiseOp", 21, "=> &"), ("layer", "LayerOp", 1, "=> &"), ("map", "MapOp", 2, "op: &")];
    for (kind, trait_name, at_least, listing) in kinds {
        let dir = src().join("model/ops").join(kind);
        let table = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if matches!(stem.as_str(), "mod" | "spec") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let impls = text.matches(&format!("impl {trait_name} for ")).count();
            assert_eq!(impls, 1, "{} holds {impls} impls of {trait_name}, not one", path.display());
            let declared = table.lines().any(|l| l.trim() == format!("mod {stem};"));
            let listed = table.contains(&format!("{listing}{stem}::"));
            assert!(declared && listed, "{} is not in the table of {}", path.display(), dir.join("mod.rs").display());
            files += 1;
        }
        assert!(files >= at_least, "only {files} files found in {}", dir.display());
    }
}
