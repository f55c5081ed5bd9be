//! Any bytes through the whole pipeline: decode, parse, format, check,
//! derive, evaluate and render. Only `Ok` or `Err` may come out, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = nnderive::Source::decode("fuzz.nn", data) else { return };
    if let Ok(file) = nnderive::parse(&source) {
        let _ = nnderive::syntax::format(&file);
    }
    match nnderive::load(&source) {
        Ok(model) => {
            let derivation = nnderive::derive::derive(&model);
            let _ = nnderive::render::text::derivation(&model, &derivation);
            match nnderive::solve(&model) {
                Ok(solution) => {
                    let _ = nnderive::render::latex::document(&model, &solution, Some(4));
                }
                // A checked model must never hit a shape error while computing.
                Err(e) => assert!(!e.is_bug(), "{:?}", e.diagnostic()),
            }
        }
        Err(e) => {
            let _ = nnderive::render::diagnostic::render(&e.diagnostic(), &source.name, &source.text);
        }
    }
});
