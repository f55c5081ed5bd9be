//! One module per operation: everything nnderive knows about an operation
//! (its name, arity, derivative, kernels and notation) in one file, and one
//! table per kind of operation listing them.
//!
//! - [`elementwise`]: the built-ins applied entry by entry (`relu`, `tanh`,
//!   `max`, …), each one `impl` of [`elementwise::ElementwiseOp`].
//! - [`layer`]: the layers that are compositions of the graph's operations
//!   (`dropout`, `batchnorm`, `layernorm`, `rmsnorm`, `attention`), each one
//!   `impl` of [`layer::LayerOp`]; `normalize` holds what the norms share.
//! - [`map`]: the operations over feature maps that are not compositions
//!   (`conv2d`, `maxpool`, `avgpool`), each one `impl` of [`map::MapOp`] holding its forward part
//!   and its backward kernels together.
//!
//! This sits inside `model` because the model's checker looks built-ins up
//! by name and builds their derivatives with the model's expression builder;
//! `derive`, `eval` and `render` read it, it reads nothing after `model`.

pub mod elementwise;
pub mod layer;
pub mod map;
mod normalize;
