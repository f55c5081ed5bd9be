//! Errors as data. Every layer's error converts into a [`Diagnostic`]; one
//! renderer (`render::diagnostic`) draws it with the source line and a marker,
//! so no layer formats its own errors.

use crate::syntax::Span;

/// A located message about the user's file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// One line: what is wrong.
    pub message: String,
    /// Where; `None` for errors about the file as a whole (e.g. not UTF-8).
    pub span: Option<Span>,
    /// A short label printed under the marker.
    pub label: Option<String>,
    /// Other places worth showing (e.g. the first declaration of a duplicate).
    pub related: Vec<(Span, String)>,
    /// What to do about it.
    pub help: Option<String>,
    /// Extra facts.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with only a message and a place.
    pub fn new(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}
