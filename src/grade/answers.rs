//! A student's answers as read from a file: JSON (`{"Z1": [...], "delta1":
//! [...], "weights": {...}}`, nested lists by shape) or CSV (`name,row,col,value`,
//! 1-based). Reading never fails: whatever cannot be read becomes a
//! problem to report (about the file, or about one entry of one answer).

use serde_json::Value as Json;

/// One entry as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Number(f64),
    /// Not a number (`"abc"`, `null`, `true`, an object): what was written.
    Unreadable(String),
}

/// The value given for one name.
#[derive(Clone, Debug, PartialEq)]
pub enum Given {
    /// Nested lists (or one number): the dims their nesting gives, and the
    /// entries row-major.
    Nested { dims: Vec<usize>, entries: Vec<Entry> },
    /// CSV rows: each entry at its 1-based index (as many indices as were
    /// written, empty ones left out), with its line number.
    Indexed(Vec<Indexed>),
    /// Not a tensor at all (lists of different lengths, an object): why.
    Unreadable(String),
}

/// One CSV row of a [`Given::Indexed`].
#[derive(Clone, Debug, PartialEq)]
pub struct Indexed {
    pub index: Vec<usize>,
    pub entry: Entry,
    pub line: usize,
}

/// One named answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// As written in the file.
    pub name: String,
    pub value: Given,
}

/// Everything read from an answers file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers {
    pub answers: Vec<Answer>,
    /// A `weights` section: name → points, in the order written.
    pub weights: Option<Vec<(String, Json)>>,
    /// What could not be read, about the file as a whole.
    pub problems: Vec<String>,
}

/// The two formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// By the file's extension, else by its first character (`{` is JSON).
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// Reads the answers in `text`, in `format`.
pub fn read(text: &str, format: Format) -> Answers {
    match format {
        Format::Json => read_json(text),
        Format::Csv => read_csv(text),
    }
}

/// Reads a JSON object of answers.
pub fn read_json(text: &str) -> Answers {
    let mut out = Answers::default();
    let root: Json = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.problems.push(format!(
                "the answers are not valid JSON: {} (line {}, column {})",
                describe_json_error(&e),
                e.line(),
                e.column()
            ));
            return out;
        }
    };
    let Json::Object(map) = root else {
        out.problems.push(format!(
            "the answers must be a JSON object of names and values, like {{\"Z1\": [0.5, 1.2]}}, not {}",
            kind_of(&root)
        ));
        return out;
    };
    for (name, value) in map {
        match (name.as_str(), value) {
            ("weights", Json::Object(weights)) => out.weights = Some(weights.into_iter().collect()),
            (_, value) => out.answers.push(Answer { name, value: nested(&value) }),
        }
    }
    out
}

/// serde_json's message without its own " at line … column …" suffix.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "true or false",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// A JSON value as a tensor: a number, or lists nested one level per
/// dimension, all of the same length at each level. Walked level by level,
/// not recursively (serde_json has already bounded the depth).
fn nested(value: &Json) -> Given {
    let mut dims = Vec::new();
    let mut level: Vec<&Json> = vec![value];
    loop {
        let lists = level.iter().filter(|v| matches!(v, Json::Array(_))).count();
        if lists == 0 {
            break;
        }
        if lists < level.len() {
            return Given::Unreadable("it mixes numbers and lists at the same level".into());
        }
        let lengths: Vec<usize> = level.iter().map(|v| v.as_array().map_or(0, Vec::len)).collect();
        if lengths.iter().any(|&n| n != lengths[0]) {
            let (short, long) =
                (lengths.iter().min().copied().unwrap_or(0), lengths.iter().max().copied().unwrap_or(0));
            return Given::Unreadable(format!(
                "its rows have different lengths ({short} and {long} entries at depth {})",
                dims.len() + 1
            ));
        }
        if lengths[0] == 0 {
            return Given::Unreadable("it is an empty list".into());
        }
        dims.push(lengths[0]);
        level = level.into_iter().flat_map(|v| v.as_array().into_iter().flatten()).collect();
    }
    Given::Nested { dims, entries: level.into_iter().map(entry).collect() }
}

/// One JSON entry: a number, or a string that reads as one (`"0.25"`).
fn entry(v: &Json) -> Entry {
    match v {
        Json::Number(n) => n.as_f64().filter(|x| x.is_finite()).map_or(Entry::Unreadable(n.to_string()), Entry::Number),
        Json::String(s) => number(s).map_or_else(|| Entry::Unreadable(format!("\"{s}\"")), Entry::Number),
        Json::Null => Entry::Unreadable("null".into()),
        Json::Bool(b) => Entry::Unreadable(b.to_string()),
        Json::Object(_) => Entry::Unreadable("an object".into()),
        Json::Array(_) => Entry::Unreadable("a list".into()),
    }
}

/// A decimal number as written by a person or a program (`-1.5`, `2e-3`,
/// `−0.25` with a Unicode minus); `None` for anything else.
pub fn number(text: &str) -> Option<f64> {
    let t = text.trim().replace('−', "-");
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Reads CSV rows `name,row,col,value` (a header line `name,…` and lines
/// starting with `#` are skipped; a vector's column and a scalar's row and
/// column may be empty or 1; a tensor of rank 3 or more gives one index per
/// dimension between the name and the value).
pub fn read_csv(text: &str) -> Answers {
    let mut out = Answers::default();
    let mut seen_data = false;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_csv(trimmed);
        if !seen_data && fields.first().is_some_and(|f| f.trim().eq_ignore_ascii_case("name")) {
            seen_data = true;
            continue;
        }
        seen_data = true;
        if fields.len() < 2 {
            out.problems.push(format!("line {line}: expected name,row,col,value, found '{trimmed}'"));
            continue;
        }
        let name = fields[0].trim().to_string();
        if name.is_empty() {
            out.problems.push(format!("line {line}: no name before the first comma"));
            continue;
        }
        let value = fields[fields.len() - 1].trim();
        let mut index = Vec::new();
        let mut bad_index = None;
        for f in &fields[1..fields.len() - 1] {
            let f = f.trim();
            if f.is_empty() {
                continue;
            }
            match f.parse::<usize>() {
                Ok(i) if i >= 1 => index.push(i),
                _ => bad_index = Some(f.to_string()),
            }
        }
        if let Some(bad) = bad_index {
            out.problems.push(format!(
                "line {line}: the index '{bad}' of {name} is not a whole number from 1 (rows and columns count from 1)"
            ));
            continue;
        }
        let entry = number(value).map_or_else(|| Entry::Unreadable(format!("'{value}'")), Entry::Number);
        let row = Indexed { index, entry, line };
        match out.answers.iter_mut().find(|a| a.name == name) {
            Some(Answer { value: Given::Indexed(rows), .. }) => rows.push(row),
            _ => out.answers.push(Answer { name, value: Given::Indexed(vec![row]) }),
        }
    }
    out
}

/// The fields of a CSV line; a field in double quotes may hold commas
/// (`""` is a quote).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nesting_gives_dims() {
        let a = read_json(r#"{"W1": [[1, 2, 3], [4, 5, "6"]], "L": 1.5, "x": [[1], [2, 3]], "h": [1, "abc", null]}"#);
        assert!(a.problems.is_empty());
        let n = |e: &[f64]| e.iter().map(|&x| Entry::Number(x)).collect::<Vec<_>>();
        assert_eq!(a.answers[0].value, Given::Nested { dims: vec![2, 3], entries: n(&[1., 2., 3., 4., 5., 6.]) });
        assert_eq!(a.answers[1].value, Given::Nested { dims: vec![], entries: n(&[1.5]) });
        assert!(matches!(&a.answers[2].value, Given::Unreadable(why) if why.contains("different lengths")));
        assert_eq!(
            a.answers[3].value,
            Given::Nested {
                dims: vec![3],
                entries: vec![Entry::Number(1.), Entry::Unreadable("\"abc\"".into()), Entry::Unreadable("null".into())]
            }
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_a_problem() {
        assert!(read_json("[1, 2]").problems[0].contains("must be a JSON object"));
        assert!(read_json("{\"Z1\": [1, 2,]}").problems[0].contains("not valid JSON"));
        let w = read_json(r#"{"weights": {"dW1": 2}, "dW1": [[0]]}"#);
        assert_eq!(w.weights.unwrap()[0].0, "dW1");
    }

    #[test]
    fn csv_rows() {
        let a =
            read_csv("name,row,col,value\nZ1,1,,0.5\nZ1,2,1,-1.25\nL,,,1.5\n# a comment\nW,1,x,2\nW,1,2,abc\n,,,\n");
        assert_eq!(a.problems.len(), 2, "{:?}", a.problems);
        assert!(a.problems[0].starts_with("line 6: the index 'x' of W"));
        assert_eq!(a.problems[1], "line 8: no name before the first comma");
        let Given::Indexed(z) = &a.answers[0].value else { panic!() };
        assert_eq!(z[0], Indexed { index: vec![1], entry: Entry::Number(0.5), line: 2 });
        assert_eq!(z[1], Indexed { index: vec![2, 1], entry: Entry::Number(-1.25), line: 3 });
        let Given::Indexed(l) = &a.answers[1].value else { panic!() };
        assert_eq!(l[0].index, Vec::<usize>::new());
        let Given::Indexed(w) = &a.answers[2].value else { panic!() };
        assert_eq!(w[0].entry, Entry::Unreadable("'abc'".into()));
        assert_eq!(split_csv("a,\"b,c\",\"d\"\"e\""), ["a", "b,c", "d\"e"]);
    }

    #[test]
    fn numbers_as_people_write_them() {
        assert_eq!(number(" −0.25 "), Some(-0.25));
        assert_eq!(number("2e-3"), Some(0.002));
        assert_eq!(number("inf"), None);
        assert_eq!(number("1/2"), None);
        assert_eq!(number(""), None);
    }
}
