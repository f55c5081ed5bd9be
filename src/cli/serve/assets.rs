//! The page's files and the examples, built into the binary: a request
//! names one of these by its exact path, never a file on disk.

// KaTeX 0.16.47 is vendored in `web/katex` (its MIT licence beside it):
// the script, the stylesheet and the WOFF2 fonts, which every browser that
// runs the page reads (the stylesheet's WOFF and TTF fallbacks are not sent).

macro_rules! font {
    ($name:literal) => {
        (concat!("/katex/fonts/", $name), "font/woff2", include_bytes!(concat!("../../../web/katex/fonts/", $name)))
    };
}

/// Each asset: its path in requests, its content type, its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../../../web/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/app.js")),
    ("/app.css", "text/css; charset=utf-8", include_bytes!("../../../web/app.css")),
    ("/katex/katex.min.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/katex/katex.min.js")),
    ("/katex/katex.min.css", "text/css; charset=utf-8", include_bytes!("../../../web/katex/katex.min.css")),
    font!("KaTeX_AMS-Regular.woff2"),
    font!("KaTeX_Caligraphic-Bold.woff2"),
    font!("KaTeX_Caligraphic-Regular.woff2"),
    font!("KaTeX_Fraktur-Bold.woff2"),
    font!("KaTeX_Fraktur-Regular.woff2"),
    font!("KaTeX_Main-Bold.woff2"),
    font!("KaTeX_Main-BoldItalic.woff2"),
    font!("KaTeX_Main-Italic.woff2"),
    font!("KaTeX_Main-Regular.woff2"),
    font!("KaTeX_Math-BoldItalic.woff2"),
    font!("KaTeX_Math-Italic.woff2"),
    font!("KaTeX_SansSerif-Bold.woff2"),
    font!("KaTeX_SansSerif-Italic.woff2"),
    font!("KaTeX_SansSerif-Regular.woff2"),
    font!("KaTeX_Script-Regular.woff2"),
    font!("KaTeX_Size1-Regular.woff2"),
    font!("KaTeX_Size2-Regular.woff2"),
    font!("KaTeX_Size3-Regular.woff2"),
    font!("KaTeX_Size4-Regular.woff2"),
    font!("KaTeX_Typewriter-Regular.woff2"),
];

/// The asset at `path`, if there is one: its content type and bytes.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|&(_, kind, bytes)| (kind, bytes))
}

macro_rules! example {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../grammar/examples/", $name)))
    };
}

/// The examples of `grammar/examples`, by file name (a test checks that
/// the list names every file there).
pub const EXAMPLES: &[(&str, &str)] = &[
    example!("assignment4.nn"),
    example!("assignment4_adam.nn"),
    example!("assignment4_batch.nn"),
    example!("assignment4_batch_adam.nn"),
    example!("assignment4_batch_momentum.nn"),
    example!("assignment4_momentum.nn"),
    example!("assignment4_open.nn"),
    example!("attention.nn"),
    example!("attention_causal.nn"),
    example!("batch_rows.nn"),
    example!("batchnorm.nn"),
    example!("batchnorm_spatial.nn"),
    example!("cnn.nn"),
    example!("cnn_avgpool.nn"),
    example!("cnn_batched.nn"),
    example!("cnn_batched_net.nn"),
    example!("cnn_nhwc.nn"),
    example!("cnn_stride_pad.nn"),
    example!("cnn_two_conv.nn"),
    example!("conv_nhwc_backward.nn"),
    example!("cs231n_adam_state.nn"),
    example!("cs231n_momentum_state.nn"),
    example!("cs231n_rmsprop_state.nn"),
    example!("custom_fns.nn"),
    example!("dropout.nn"),
    example!("embedding.nn"),
    example!("gru.nn"),
    example!("layernorm.nn"),
    example!("leaky_elu.nn"),
    example!("log_softmax.nn"),
    example!("lstm.nn"),
    example!("lstm_step_slices.nn"),
    example!("pool_batched.nn"),
    example!("pool_ceil.nn"),
    example!("pool_rect.nn"),
    example!("pool_variants.nn"),
    example!("rmsnorm.nn"),
    example!("rnn.nn"),
    example!("rnn_many_to_one.nn"),
    example!("sigmoid_mse.nn"),
    example!("symbolic.nn"),
    example!("tanh_bce.nn"),
    example!("tied_autoencoder.nn"),
    example!("weight_decay.nn"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_built_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/examples");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".nn"))
            .collect();
        on_disk.sort();
        let built_in: Vec<&str> = super::EXAMPLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn every_font_the_stylesheet_names_in_woff2_is_built_in() {
        let css = std::str::from_utf8(super::asset("/katex/katex.min.css").unwrap().1).unwrap();
        let named: Vec<&str> = css
            .split("url(fonts/")
            .skip(1)
            .filter_map(|s| s.split(')').next())
            .filter(|f| f.ends_with(".woff2"))
            .collect();
        assert!(named.len() >= 19, "{named:?}");
        for font in named {
            assert!(super::asset(&format!("/katex/fonts/{font}")).is_some(), "{font} is not built in");
        }
    }
}
