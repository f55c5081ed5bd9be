//! The whole pipeline on one text, as the fuzz targets and the property tests
//! run it: decode, parse, format, check, derive, evaluate and render. Only
//! `Ok` or `Err` may come out: a panic, or an error that is nnderive's own
//! fault (`Error::is_bug`), fails.

pub fn whole_pipeline(text: &str) {
    let source = nnderive::Source::new("fuzz.nn", text);
    if let Ok(file) = nnderive::parse(&source) {
        let _ = nnderive::syntax::format(&file);
    }
    match nnderive::load(&source) {
        Ok(model) => {
            let derivation = nnderive::derive::derive(&model);
            let _ = nnderive::render::text::derivation(&model, &derivation);
            match nnderive::solve(&model) {
                Ok(solution) => {
                    let _ = nnderive::render::text::solution(&model, &solution, Some(4));
                    let _ = nnderive::render::latex::document(&model, &solution, Some(4));
                }
                Err(e) => assert!(!e.is_bug(), "{:?}", e.diagnostic()),
            }
        }
        Err(e) => {
            let report = e.report();
            assert!(!report.diagnostics.is_empty());
            let _ = nnderive::render::diagnostic::report(&report, &source.name, &source.text);
            let _ = nnderive::render::json::errors(&report, &source.name, &source.text);
        }
    }
}
