//! Column layout for aligned text, shared by the formatter and the text
//! renderer. Padding is written out by hand: Rust's `{:width$}` takes widths
//! only up to 65 535 and panics past them, and a name may be longer than that.

/// The width of `s` on a terminal: characters, without combining marks (ŷ is one).
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    // Counted on the bytes (this runs for every printed entry with a `−`):
    // each character has one byte that is not a continuation byte
    // (0b10xx_xxxx), and a combining mark U+0300..=U+036F is encoded as
    // 0xCC 0x80..=0xBF or 0xCD 0x80..=0xAF.
    let b = s.as_bytes();
    let chars = b.iter().filter(|&&x| x & 0xC0 != 0x80).count();
    let marks = b
        .iter()
        .enumerate()
        .filter(|&(i, &x)| x == 0xCC || (x == 0xCD && b.get(i + 1).is_some_and(|&y| y <= 0xAF)))
        .count();
    chars - marks
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

/// The Unicode superscript of a digit or a minus sign (`²`, `⁻`).
pub fn superscript_char(c: char) -> Option<char> {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    match c {
        '-' | '−' => Some('⁻'),
        _ => c.to_digit(10).map(|d| DIGITS[d as usize]),
    }
}

/// Digits as Unicode subscripts (`12` → `₁₂`), other characters unchanged.
pub fn subscripted(s: &str) -> String {
    s.chars().map(|c| c.to_digit(10).and_then(|d| char::from_u32(0x2080 + d)).unwrap_or(c)).collect()
}

/// Digits and minus signs as Unicode superscripts, other characters unchanged.
pub fn superscripted(s: &str) -> String {
    s.chars().map(|c| superscript_char(c).unwrap_or(c)).collect()
}

/// An entry's index as the formulas count it, from 1: `2,3` for NumPy's
/// `[1, 2]`. The one place an index a person reads is numbered.
pub fn counted_from_one(index: &[usize]) -> String {
    let parts: Vec<String> = index.iter().map(|i| (i + 1).to_string()).collect();
    parts.join(",")
}

/// An entry of `name` (empty for an unnamed tensor) as a person reads it:
/// counted from 1 as the formulas are, with the NumPy index beside it for
/// whoever checks it in Python: `W1[2,3] (NumPy W1[1,2])`.
pub fn entry_index(name: &str, index: &[usize]) -> String {
    if index.is_empty() {
        return name.to_string();
    }
    let numpy: Vec<String> = index.iter().map(usize::to_string).collect();
    format!("{name}[{}] (NumPy {name}[{}])", counted_from_one(index), numpy.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_count_from_one_with_numpy_beside() {
        assert_eq!(counted_from_one(&[0, 0]), "1,1");
        assert_eq!(counted_from_one(&[1, 0, 2]), "2,1,3");
        assert_eq!(entry_index("W1", &[0, 0]), "W1[1,1] (NumPy W1[0,0])");
        assert_eq!(entry_index("y", &[2]), "y[3] (NumPy y[2])");
        assert_eq!(entry_index("", &[1, 0]), "[2,1] (NumPy [1,0])");
        assert_eq!(entry_index("L", &[]), "L");
    }

    #[test]
    fn pads_past_what_format_widths_allow() {
        let long = "a".repeat(70_000);
        assert_eq!(pad_right("x", 70_001).len(), 70_001);
        assert_eq!(pad_left(&long, 3), long);
        assert_eq!(align_width([3, 70_000, 5], 40), 5);
        assert_eq!(pad_right("ŷ", 3), "ŷ  ");
    }

    #[test]
    fn width_counted_on_bytes_is_characters_without_combining_marks() {
        // Against the definition written with chars: every combining mark of
        // the block, its neighbours outside it (U+02FF, U+0370, whose bytes
        // are 0xCB.., 0xCD 0xB0) and 1- to 4-byte characters.
        let by_chars = |s: &str| s.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).count();
        let mut samples: Vec<String> = ('\u{2f0}'..='\u{380}').map(|c| format!("y{c}−1.5")).collect();
        samples.extend(["", "abc", "−0.25", "ŷ", "y\u{302}", "⎡ 1/3 ⎤", "𝑥²", "\u{36f}\u{370}"].map(String::from));
        for s in &samples {
            assert_eq!(display_width(s), by_chars(s), "{s:?}");
        }
        assert_eq!(display_width("y\u{302}\u{303}−2"), 3);
    }
}
