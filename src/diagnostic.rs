//! Errors as data. Every layer's error converts into a [`Diagnostic`]; one
//! renderer (`render::diagnostic`) draws it with the source line and a marker,
//! so no layer formats its own errors.

use crate::span::Span;

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

/// Everything one run found wrong with a file, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// At least one.
    pub diagnostics: Vec<Diagnostic>,
    /// More errors were found than are listed (see `model::MAX_ERRORS`).
    pub left_out: bool,
}

/// What a message shows instead of a character that would act on a
/// terminal or on the order of the text around it rather than show: a
/// control character becomes its picture (ESC is ␛, a line break ␊), and
/// an invisible direction or formatting mark (which can make a line read
/// differently from what it holds) becomes �. `None` for a character that
/// shows as itself. Each picture is one column wide, as the character's
/// place in a line is, so markers under a line still line up.
pub fn picture(c: char) -> Option<char> {
    match c {
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32),
        '\u{7f}' => Some('\u{2421}'),
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}' => Some('\u{fffd}'),
        _ => None,
    }
}

/// May a comment hold `c`? Any character that shows as itself, and a tab;
/// also the zero-width joiner and non-joiner, which join letters (in
/// Persian, in Indic scripts, in emoji) and move nothing. Every other
/// character that [`picture`] replaces is refused: a comment holding ESC
/// can clear a terminal, and one holding U+202E can make its line read
/// backwards in an editor.
pub fn allowed_in_comment(c: char) -> bool {
    matches!(c, '\t' | '\u{200c}' | '\u{200d}') || picture(c).is_none()
}

/// `text` as one line safe to print on a terminal: every character that
/// [`picture`] replaces, line breaks included (for a file name in a message).
pub fn visible_line(text: &str) -> String {
    text.chars().map(|c| picture(c).unwrap_or(c)).collect()
}

/// Names longer than this get no "did you mean": comparing two names costs
/// the product of their lengths, and a 70 000-character name is no typo.
const MAX_SUGGESTED_LEN: usize = 64;

/// The closest name to `name` among `candidates`, if one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let len = name.chars().count();
    if len > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        // Lengths that differ by more than the limit need more edits than it.
        .filter(|c| c.chars().count().abs_diff(len) <= limit && *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Edits between two names (case-insensitive), where swapping two adjacent
/// letters counts as one edit (`inptu` is one edit from `input`). Three rows
/// of the table are kept, not all of it.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    // Rows i − 2, i − 1 and i of the usual table.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
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
        assert_eq!(suggest("W1a", ["W1", "W1abcd"]), Some("W1".into()));
    }

    #[test]
    fn edit_distances_against_the_full_table() {
        // The full (i+1)×(j+1) table of optimal string alignment, written out.
        fn full(a: &str, b: &str) -> usize {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for i in 0..=a.len() {
                for j in 0..=b.len() {
                    d[i][j] = if i == 0 || j == 0 {
                        i + j
                    } else {
                        let mut best = (d[i - 1][j] + 1)
                            .min(d[i][j - 1] + 1)
                            .min(d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]));
                        if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                            best = best.min(d[i - 2][j - 2] + 1);
                        }
                        best
                    };
                }
            }
            d[a.len()][b.len()]
        }
        let words = ["", "a", "ab", "ba", "abc", "acb", "input", "inptu", "target", "W1", "W12", "sigmoid", "sigmod"];
        for a in words {
            for b in words {
                assert_eq!(edit_distance(a, b), full(a, b), "{a} / {b}");
            }
        }
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn long_names_get_no_suggestion_and_cost_nothing() {
        let name = "a".repeat(70_000);
        let other = format!("{}b", "a".repeat(69_999));
        assert_eq!(suggest(&name, [other.as_str()]), None);
    }
}
