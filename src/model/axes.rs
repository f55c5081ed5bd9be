//! Named axes: what each axis of a tensor holds (the examples of a batch,
//! the channels, height and width of a feature map, the steps of a
//! sequence, the features), where the file says it.
//!
//! The checker names the axes once, for every declared tensor and every
//! equation (see `check/axes.rs`): from the operations that read or make a
//! tensor in a known layout (`conv2d`, `maxpool`, `avgpool` and their
//! `layout` keyword, `batchnorm` and `layernorm`, `attention`, a batched
//! `cross_entropy`, an embedding lookup `W[ids]`) and from a bias added to
//! every example of a batch, carried through the operations that keep an
//! axis (elementwise operations, products, transposes, slices, flatten).
//! An axis that nothing names stays unnamed, and the operations that need
//! one keep their rule by shape there.

use std::fmt::Write;

use super::func::MapLayout;
use crate::diagnostic::Diagnostic;
use crate::syntax::Span;

/// What one axis of a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AxisName {
    /// The examples of a batch (N).
    Batch,
    /// The channels of a feature map (C), or a conv layer's filters.
    Channel,
    /// The rows of a feature map (H).
    Height,
    /// The columns of a feature map (W).
    Width,
    /// The positions of a sequence (T): attention's queries and keys.
    Time,
    /// The features of an example (F): a layer's units, the classes.
    Features,
}

impl AxisName {
    /// The letter the summary and the JSON write (`N`, `C`, `H`, `W`, `T`, `F`).
    pub fn letter(self) -> &'static str {
        match self {
            AxisName::Batch => "N",
            AxisName::Channel => "C",
            AxisName::Height => "H",
            AxisName::Width => "W",
            AxisName::Time => "T",
            AxisName::Features => "F",
        }
    }

    /// The words an error message uses ("the channels").
    pub fn words(self) -> &'static str {
        match self {
            AxisName::Batch => "the examples (N)",
            AxisName::Channel => "the channels (C)",
            AxisName::Height => "the height (H)",
            AxisName::Width => "the width (W)",
            AxisName::Time => "the steps (T)",
            AxisName::Features => "the features (F)",
        }
    }
}

/// The named axes of one tensor: a name per axis, `None` where nothing
/// names it. A scalar has none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Axes(Vec<Option<AxisName>>);

impl Axes {
    /// No axes: a scalar's, or a tensor's the checker did not see.
    pub const NONE: Axes = Axes(Vec::new());

    /// A name (or none) per axis, in order.
    pub fn new(names: Vec<Option<AxisName>>) -> Axes {
        Axes(names)
    }

    /// `rank` axes, none named.
    pub fn unnamed(rank: usize) -> Axes {
        Axes(vec![None; rank])
    }

    /// A feature map `[C, H, W]` or a batch of maps `[N, C, H, W]` as
    /// `layout` keeps them (`[H, W, C]`, `[N, H, W, C]` channels last);
    /// `None` for another rank.
    pub fn of_map(layout: MapLayout, rank: usize) -> Option<Axes> {
        use AxisName::*;
        let mut names = match layout {
            MapLayout::Nchw => vec![Channel, Height, Width],
            MapLayout::Nhwc => vec![Height, Width, Channel],
        };
        match rank {
            3 => {}
            4 => names.insert(0, Batch),
            _ => return None,
        }
        Some(Axes(names.into_iter().map(Some).collect()))
    }

    /// The axis holding `name`, if one is named so.
    pub fn position(&self, name: AxisName) -> Option<usize> {
        self.0.iter().position(|&n| n == Some(name))
    }

    /// The name of axis `axis`, if it has one.
    pub fn name(&self, axis: usize) -> Option<AxisName> {
        self.0.get(axis).copied().flatten()
    }

    /// Whether any axis is named.
    pub fn is_named(&self) -> bool {
        self.0.iter().any(Option::is_some)
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The names in order, `None` where unnamed.
    pub fn names(&self) -> &[Option<AxisName>] {
        &self.0
    }

    /// A shape with its names, `[N=2, C=3, H=5, W=5]`; an unnamed axis is
    /// its length alone (`[N=4, 3]`).
    pub fn show(&self, dims: &[usize]) -> String {
        let mut out = String::from("[");
        for (i, d) in dims.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match self.name(i) {
                Some(name) => {
                    let _ = write!(out, "{}={d}", name.letter());
                }
                None => {
                    let _ = write!(out, "{d}");
                }
            }
        }
        out.push(']');
        out
    }
}

/// Two uses of one tensor that name one of its axes differently: `conv2d`
/// reading `X` channels first and `maxpool` reading it channels last, or a
/// vector beside a map whose first and last axes both fit it while nothing
/// names the map's channels.
#[derive(Clone, Debug, PartialEq)]
pub enum AxesError {
    /// `Z1 = conv2d(X, K)` then `P = maxpool(X, 2, layout = nhwc)`: X's axis
    /// 1 is the channels for the one and the height for the other.
    Conflict {
        tensor: String,
        axis: usize,
        /// The tensor the second use reads, when it is another with
        /// `tensor`'s axes (`A = relu(X)`).
        via: Option<String>,
        first: Reading,
        second: Reading,
        /// The equation of the first use (the error sits at the second's).
        first_span: Span,
    },
    /// `input X[2,3,4,3]` and `Y = X + b` with `b[3]`: b could go with axis 1
    /// or axis 3, both of 3 entries, and no layer says which holds the
    /// channels.
    AmbiguousVector { vector: String, map: String, dims: Vec<usize>, channels_last: bool },
}

/// How one use reads an axis: the name it gives and what the use is.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub name: AxisName,
    pub by: String,
}

impl AxesError {
    /// The located message, for [`Error::diagnostic`].
    pub fn diagnostic(&self, span: Option<Span>) -> Diagnostic {
        match self {
            AxesError::Conflict { tensor, axis, via, first, second, first_span } => Diagnostic::new(
                format!(
                    "{tensor} is read two ways: axis {axis} holds {} for {} but {} for {}",
                    first.name.words(),
                    first.by,
                    second.name.words(),
                    second.by
                ),
                span,
            )
            .with_label(match via {
                Some(via) => {
                    format!("{} reads axis {axis} of {tensor} (through {via}) as {}", second.by, second.name.words())
                }
                None => format!("{} reads axis {axis} of {tensor} as {}", second.by, second.name.words()),
            })
            .with_related(*first_span, format!("{} reads it as {}", first.by, first.name.words()))
            .with_help(
                "give both uses the same `layout` (nchw: channels first, nhwc: channels last), or use two tensors",
            ),
            AxesError::AmbiguousVector { vector, map, dims, channels_last } => {
                let shape = dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
                let (first, last) = (dims.len().saturating_sub(3), dims.len().saturating_sub(1));
                let why = match channels_last {
                    true => format!("and {map} holds its channels along axis {last}"),
                    false => "and nothing says which holds the channels".to_string(),
                };
                Diagnostic::new(
                    format!(
                        "the vector {vector} beside {map} [{shape}] could go with axis {first} or axis {last}, which both have {} entries, {why}",
                        dims[last]
                    ),
                    span,
                )
                .with_label("which axis?")
                .with_help(format!(
                    "let a layer name the axes of {map} (conv2d, maxpool or avgpool with its `layout`, or batchnorm), or declare the vector as [{}{}] to add it along the last axis",
                    "1, ".repeat(dims.len().saturating_sub(1)),
                    dims[last]
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_maps_channels_first_and_last() {
        let first = Axes::of_map(MapLayout::Nchw, 4).unwrap();
        assert_eq!(first.position(AxisName::Channel), Some(1));
        assert_eq!(first.show(&[2, 3, 5, 5]), "[N=2, C=3, H=5, W=5]");
        let last = Axes::of_map(MapLayout::Nhwc, 4).unwrap();
        assert_eq!(last.position(AxisName::Channel), Some(3));
        assert_eq!(Axes::of_map(MapLayout::Nhwc, 3).unwrap().position(AxisName::Channel), Some(2));
        assert_eq!(Axes::of_map(MapLayout::Nchw, 2), None);
    }

    #[test]
    fn unnamed_axes_show_their_length() {
        let axes = Axes::new(vec![Some(AxisName::Batch), None]);
        assert_eq!(axes.show(&[4, 3]), "[N=4, 3]");
        assert!(axes.is_named());
        assert!(!Axes::unnamed(2).is_named());
        assert_eq!(axes.position(AxisName::Features), None);
    }
}
