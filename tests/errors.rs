//! Every kind of error has a fixture and a reviewed snapshot of its rendered
//! message; none of them panics.

mod common;

use nnderive::render::diagnostic::{render, report};
use nnderive::Source;

/// Runs the whole pipeline (parse, check, derive, evaluate) and returns the
/// rendered errors it must produce, as the command line prints them.
fn rendered_error(source: &Source) -> String {
    let result = nnderive::load(source).and_then(|model| nnderive::solve(&model).map(|_| ()));
    match result {
        Ok(()) => panic!("{} should not succeed", source.name),
        Err(e) => report(&e.report(), &source.name, &source.text),
    }
}

#[test]
fn every_error_fixture() {
    common::settings().bind(|| {
        insta::glob!("fixtures/errors", "*.nn", |path| {
            let source = common::source(path);
            insta::assert_snapshot!("error", rendered_error(&source));
        });
    });
}

#[test]
fn not_utf8_points_at_the_byte() {
    let bytes = b"input x[2] = [1, 2]\nparam p = \xff\n";
    let error = Source::decode("bad.nn", bytes).expect_err("not UTF-8");
    let source = Source::lossy("bad.nn", bytes);
    common::settings().bind(|| {
        insta::assert_snapshot!("error_not_utf8", render(&error.diagnostic(), &source.name, &source.text));
    });
}

/// Bytes decoded in place (as the command line reads a file) give the
/// same text or the same located error as decoding a borrowed copy.
#[test]
fn decoding_owned_bytes_is_decoding_borrowed_ones() {
    let cases: [&[u8]; 3] = [
        b"input x[2] = [1, 2]\nparam p = \xff\n",
        b"\xef\xbb\xbfinput x[2] = [1, 2]\r\n",
        b"param p = 2\rloss L = p\n",
    ];
    for bytes in cases {
        match (Source::decode("f.nn", bytes), Source::decode_owned("f.nn", bytes.to_vec())) {
            (Ok(borrowed), Ok(owned)) => assert_eq!(borrowed.text, owned.text),
            (Err(borrowed), Err(failed)) => {
                let (owned, lossy) = *failed;
                assert_eq!(format!("{:?}", borrowed.diagnostic()), format!("{:?}", owned.diagnostic()));
                assert_eq!(lossy.text, Source::lossy("f.nn", bytes).text);
            }
            (a, b) => panic!("{a:?} against {b:?}"),
        }
    }
    assert!(!Source::decode_owned("f.nn", b"\xef\xbb\xbfparam".to_vec()).unwrap().text.starts_with('\u{feff}'));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        format!("param p = 1\nloss L = {}p{}\n", "(".repeat(100_000), ")".repeat(100_000)),
        format!("param p = 1\nloss L = {}p\n", "-".repeat(100_000)),
        format!("param p = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        format!("param p = 1\nloss L = p{}\n", " + p".repeat(100_000)),
        format!("param p = 1\nloss L = p{}\n", "^p".repeat(100_000)),
        format!("param p = 1\nloss L = p{}\n", ".T".repeat(100_000)),
        format!("param p = 1\nloss L = {}p{}\n", "f(".repeat(100_000), ")".repeat(100_000)),
    ] {
        let source = Source::new("deep.nn", text);
        let error = nnderive::load(&source).expect_err("too deep");
        assert!(error.diagnostic().message.contains("nested too deeply"), "{:?}", error.diagnostic());
    }
    let source = Source::new("deep.nn", format!("param p = 1\nloss L = {}p{}\n", "(".repeat(1000), ")".repeat(1000)));
    let rendered = render(&nnderive::load(&source).unwrap_err().diagnostic(), "deep.nn", &source.text);
    common::settings().bind(|| insta::assert_snapshot!("error_too_deep", rendered));
}

/// Nesting within the limit still works.
#[test]
fn moderate_nesting_is_fine() {
    let text = format!("param p = 1\nloss L = {}p{}\n", "(".repeat(30), ")".repeat(30));
    nnderive::load(&Source::new("ok.nn", text)).expect("30 levels are fine");
}

/// A surrogate encoded as if it were a character (as Python's
/// `surrogatepass` writes one) is named, at its place.
#[test]
fn an_encoded_surrogate_is_named_at_its_place() {
    let bytes = b"param w = 1\nloss L = w * w  # caf\xed\xb2\x80 au lait\n";
    let error = Source::decode("surrogate.nn", bytes).expect_err("not UTF-8");
    let source = Source::lossy("surrogate.nn", bytes);
    common::settings().bind(|| {
        insta::assert_snapshot!("error_surrogate", render(&error.diagnostic(), &source.name, &source.text));
    });
}
