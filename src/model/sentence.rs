//! Fixed sentences of words and formulas: the statements of the
//! conventions and of the simplification rules.
//!
//! Each formula is written in both notations, side by side, so that every
//! writer sets it in its own way: the text output joins the text forms, the
//! LaTeX and Markdown documents set the LaTeX forms as mathematics. Nothing
//! is translated from one notation to the other.

/// A piece of a fixed sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Running words, the same in every notation.
    Words(&'static str),
    /// A formula in the text notation and in LaTeX.
    Math { text: &'static str, latex: &'static str },
}

/// A fixed sentence: its parts in reading order.
pub type Sentence = &'static [Part];

/// Running words.
pub const fn w(words: &'static str) -> Part {
    Part::Words(words)
}

/// A formula, in the text notation and in LaTeX.
pub const fn m(text: &'static str, latex: &'static str) -> Part {
    Part::Math { text, latex }
}

/// A formula written the same in both notations (a name, `[C, H, W]`).
pub const fn same(formula: &'static str) -> Part {
    Part::Math { text: formula, latex: formula }
}

/// The sentence in the text notation.
pub fn plain(sentence: Sentence) -> String {
    sentence
        .iter()
        .map(|part| match part {
            Part::Words(w) => *w,
            Part::Math { text, .. } => *text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_joins_words_and_text_formulas() {
        const S: Sentence = &[m("x⁰ = 1", "x^{0} = 1"), w(" for a scalar "), same("x")];
        assert_eq!(plain(S), "x⁰ = 1 for a scalar x");
    }
}
