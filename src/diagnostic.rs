//! Errors as data. Every layer's error converts into a [`Diagnostic`]; one
//! renderer (`render::diagnostic`) draws it with the source line and a marker,
//! so no layer formats its own errors.

use crate::syntax::Span;

/// A located message about the user's file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// One line: what is wrong.
    pub message: String,
    /// Where; `None` for errors about the file as a whole (e.g. not UTF-8).
    pub span: Option<Span>,
    /// A short label printed under the marker.
    pub label: Option<String>,
    /// Other places worth showing (e.g. the first declaration of a duplicate).
    pub related: Vec<(Span, String)>,
    /// What to do about it.
    pub help: Option<String>,
    /// Extra facts.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with only a message and a place.
    pub fn new(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic { message: message.into(), span, label: None, related: Vec::new(), help: None, notes: Vec::new() }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The help, when there is one.
    pub fn with_help_opt(self, help: Option<String>) -> Self {
        match help {
            Some(h) => self.with_help(h),
            None => self,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The closest name to `name` among `candidates`, if one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= limit && *c != name)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Edits between two names (case-insensitive), where swapping two adjacent
/// letters counts as one edit (`inptu` is one edit from `input`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_typos() {
        assert_eq!(suggest("W3", ["W1", "b1", "x"]), Some("W1".into()));
        assert_eq!(suggest("sigmod", ["sigmoid", "tanh"]), Some("sigmoid".into()));
        assert_eq!(suggest("q", ["W1", "b1"]), None);
        assert_eq!(suggest("inptu", ["input", "target"]), Some("input".into()));
    }
}
