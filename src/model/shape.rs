//! Tensor shapes and the shape rules of every operation.
//!
//! A shape is a list of dimensions of any rank: `[]` is a scalar, `[n]` a
//! column vector (n×1), `[m, n]` a matrix, and higher ranks are reserved for
//! convolution layers. The rules here are the single source of truth: the
//! checker uses them to infer shapes and the evaluator's tensors follow them.

use std::fmt;

/// The dimensions of a tensor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The shape of a scalar.
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    /// A column vector of length `n`.
    pub fn vector(n: usize) -> Shape {
        Shape(vec![n])
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape as a matrix `(rows, cols)` when it has rank ≤ 2; a vector
    /// `[n]` is n×1 and a scalar 1×1.
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        match self.0.as_slice() {
            [] => Some((1, 1)),
            [n] => Some((*n, 1)),
            [m, n] => Some((*m, *n)),
            _ => None,
        }
    }

    /// Two shapes that denote the same matrix: `[n]` and `[n, 1]` are the same.
    pub fn same_as(&self, other: &Shape) -> bool {
        self == other
            || (self.rank() <= 2
                && other.rank() <= 2
                && self.rank() > 0
                && other.rank() > 0
                && self.as_matrix() == other.as_matrix())
    }

    /// Shape of an elementwise operation: equal shapes, or one side a scalar.
    pub fn broadcast(&self, other: &Shape) -> Option<Shape> {
        if self.is_scalar() {
            Some(other.clone())
        } else if other.is_scalar() || self.same_as(other) {
            Some(self.clone())
        } else {
            None
        }
    }

    /// Shape of `self @ other`: `[m,k] @ [k,p] = [m,p]`, where a vector is a
    /// column, and the result is a vector when `other` is one.
    pub fn matmul(&self, other: &Shape) -> Option<Shape> {
        if self.is_scalar() || other.is_scalar() {
            return None;
        }
        let (m, k) = self.as_matrix()?;
        let (k2, p) = other.as_matrix()?;
        if k != k2 {
            return None;
        }
        Some(if other.rank() == 1 { Shape(vec![m]) } else { Shape(vec![m, p]) })
    }

    /// Shape of the transpose: `[n]ᵀ = [1, n]`, `[1, n]ᵀ = [n]`, `[m, n]ᵀ = [n, m]`.
    pub fn transpose(&self) -> Option<Shape> {
        match self.0.as_slice() {
            [] => Some(Shape::scalar()),
            [n] => Some(Shape(vec![1, *n])),
            [1, n] => Some(Shape(vec![*n])),
            [m, n] => Some(Shape(vec![*n, *m])),
            _ => None,
        }
    }

    /// Is this a vector in the sense of softmax: `[n]`, `[1, n]` or `[n, 1]`.
    pub fn is_vector(&self) -> bool {
        match self.0.as_slice() {
            [_] => true,
            [m, n] => *m == 1 || *n == 1,
            _ => false,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_scalar() {
            return f.write_str("a scalar");
        }
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[usize]) -> Shape {
        Shape(d.to_vec())
    }

    #[test]
    fn matmul_rules() {
        assert_eq!(s(&[3, 4]).matmul(&s(&[4])), Some(s(&[3])));
        assert_eq!(s(&[2]).matmul(&s(&[1, 3])), Some(s(&[2, 3])));
        assert_eq!(s(&[1, 3]).matmul(&s(&[3])), Some(s(&[1])));
        assert_eq!(s(&[3, 4]).matmul(&s(&[3])), None);
        assert_eq!(s(&[]).matmul(&s(&[3])), None);
    }

    #[test]
    fn transpose_rules() {
        assert_eq!(s(&[3]).transpose(), Some(s(&[1, 3])));
        assert_eq!(s(&[1, 3]).transpose(), Some(s(&[3])));
        assert_eq!(s(&[2, 3]).transpose(), Some(s(&[3, 2])));
        assert_eq!(s(&[2, 3, 4]).transpose(), None);
    }

    #[test]
    fn broadcast_rules() {
        assert_eq!(s(&[]).broadcast(&s(&[3])), Some(s(&[3])));
        assert_eq!(s(&[3]).broadcast(&s(&[3, 1])), Some(s(&[3])));
        assert_eq!(s(&[3]).broadcast(&s(&[1, 3])), None);
        assert_eq!(s(&[2, 3]).to_string(), "[2, 3]");
        assert_eq!(s(&[]).to_string(), "a scalar");
    }
}
