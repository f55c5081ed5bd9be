//! Any bytes through the whole pipeline: decode, parse, format, check,
//! derive, evaluate and render. Only `Ok` or `Err` may come out, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../whole_pipeline.rs"]
mod whole_pipeline;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = nnderive::Source::decode("fuzz.nn", data) {
        whole_pipeline::whole_pipeline(&source.text);
    }
});
