//! Column layout for aligned text, shared by the formatter and the text
//! renderer. Padding is written out by hand: Rust's `{:width$}` takes widths
//! only up to 65 535 and panics past them, and a name may be longer than that.

/// The width of `s` on a terminal: characters, without combining marks (ŷ is one).
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).count()
}

/// The column that cells of these widths align to: the widest that is at
/// most `cap`. A wider cell overhangs instead of pushing every other line
/// out, so one 70 000-character name costs one long line, not thousands.
pub fn align_width(widths: impl IntoIterator<Item = usize>, cap: usize) -> usize {
    widths.into_iter().filter(|&w| w <= cap).max().unwrap_or(0)
}

/// `s` followed by spaces up to `width` columns (nothing when it is wider).
pub fn pad_right(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + width);
    out.push_str(s);
    out.push_str(&" ".repeat(width.saturating_sub(display_width(s))));
    out
}

/// `s` after spaces up to `width` columns (nothing when it is wider).
pub fn pad_left(s: &str, width: usize) -> String {
    let mut out = " ".repeat(width.saturating_sub(display_width(s)));
    out.push_str(s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_past_what_format_widths_allow() {
        let long = "a".repeat(70_000);
        assert_eq!(pad_right("x", 70_001).len(), 70_001);
        assert_eq!(pad_left(&long, 3), long);
        assert_eq!(align_width([3, 70_000, 5], 40), 5);
        assert_eq!(pad_right("ŷ", 3), "ŷ  ");
    }
}
