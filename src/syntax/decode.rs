//! Bytes to text: a `.nn` file is UTF-8, and the first byte that is not
//! is an error at its place.

use super::error::{Error, ErrorKind};
use super::Span;

/// Checks that `bytes` are UTF-8, pointing at the first byte that is not.
/// A leading byte-order mark, which some editors write, is dropped. An
/// encoded surrogate (a lone half of a UTF-16 pair, as Python's
/// `surrogateescape` and Java's modified UTF-8 leave them) is named as such.
pub fn decode(bytes: &[u8]) -> Result<&str, Error> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let text = String::from_utf8_lossy(valid);
        let line = text.matches('\n').count() as u32 + 1;
        let column = text.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
        let start = e.valid_up_to();
        let kind = match bytes[start..] {
            // U+D800..=U+DFFF as UTF-8 would be: ED A0..BF 80..BF.
            [0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF, ..] => {
                ErrorKind::Surrogate { code: 0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F) }
            }
            _ => ErrorKind::NotUtf8 { byte: bytes.get(start).copied().unwrap_or(0) },
        };
        let end = if matches!(kind, ErrorKind::Surrogate { .. }) { start + 3 } else { start };
        Error { kind, span: Span { start, end, line, column, end_line: line } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_byte_is_located() {
        let e = decode(b"param w = 1\nloss L = w \xff\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotUtf8 { byte: 0xff });
        assert_eq!((e.span.line, e.span.column, e.span.start), (2, 12, 23));
    }

    #[test]
    fn an_encoded_surrogate_is_named() {
        // U+DC80 and U+D83D encoded as if they were characters.
        let e = decode("# é\n# ".bytes().chain([0xED, 0xB2, 0x80]).collect::<Vec<_>>().as_slice()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Surrogate { code: 0xDC80 });
        assert_eq!((e.span.line, e.span.column), (2, 3));
        let e = decode(&[b'#', 0xED, 0xA0, 0xBD]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Surrogate { code: 0xD83D });
        // A cut-off sequence is a bad byte, not a surrogate.
        assert_eq!(decode(&[b'#', 0xED, 0xA0]).unwrap_err().kind, ErrorKind::NotUtf8 { byte: 0xED });
    }
}
