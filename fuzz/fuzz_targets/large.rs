//! Large generated files (see `large_inputs.rs`) through the whole pipeline.
//! Run by `fuzz/run` (CI), with a time and memory limit per input, or
//! `cargo fuzz run large -- -timeout=20 -rss_limit_mb=2048 -max_len=16`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../large_inputs.rs"]
mod large_inputs;
#[path = "../whole_pipeline.rs"]
mod whole_pipeline;

fuzz_target!(|recipe: &[u8]| {
    whole_pipeline::whole_pipeline(&large_inputs::large_input(recipe, 1.0));
});
