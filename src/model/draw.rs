//! How `nnderive vary` draws a declared tensor's numbers: the `~ …` after a
//! declaration, checked. Each rule is one line of [`RULES`], with the
//! arguments it takes; the drawing itself is `vary`'s.

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::error::{Error, ErrorKind};
use super::shape::Shape;
use crate::diagnostic::suggest;
use crate::syntax::ast;

/// A checked draw rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Draw {
    /// Each entry uniformly from `low`, `low + step`, … up to `high`,
    /// written with `places` decimals.
    Uniform { low: BigRational, high: BigRational, step: BigRational, places: u32 },
    /// Each entry uniformly from the values listed (a 0/1 mask: `choice(0, 1)`).
    Choice(Vec<BigRational>),
    /// A one-hot vector with its class drawn uniformly; a matrix is one
    /// one-hot vector per example.
    OneHot,
    /// The file's own value, the same in every variant.
    Fixed,
}

/// A draw rule as the file names it: its name and how it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    /// How it is written, for the help of an error.
    pub usage: &'static str,
}

/// Every draw rule, in the order the documentation lists them.
pub const RULES: [Rule; 4] = [
    Rule { name: "uniform", usage: "uniform(low, high) or uniform(low, high, step = s)" },
    Rule { name: "choice", usage: "choice(a, b, …), e.g. choice(0, 1) for a mask" },
    Rule { name: "onehot", usage: "onehot, for a one-hot target (a vector, or a matrix of one-hot examples)" },
    Rule { name: "fixed", usage: "fixed, to keep the file's value in every variant" },
];

/// The draw rule `draw` for a tensor declared `shape`, which has a value
/// in the file when `has_value`; the errors point into the rule.
pub fn check(draw: &ast::Draw, name: &str, shape: &Shape, has_value: bool) -> Result<Draw, Error> {
    let Some(rule) = RULES.iter().find(|r| r.name == draw.name.name) else {
        let suggestion = suggest(&draw.name.name, RULES.iter().map(|r| r.name));
        let rules = RULES.iter().map(|r| r.usage).collect();
        let kind = ErrorKind::DrawUnknown { found: draw.name.name.clone(), suggestion, rules };
        return Err(Error::new(kind, draw.name.span));
    };
    let wrong = || Error::new(ErrorKind::DrawArguments { rule: rule.name, usage: rule.usage }, draw.span);
    let positional: Vec<&ast::Number> = draw.args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
    let named: Vec<(&ast::Ident, &ast::Number)> =
        draw.args.iter().filter_map(|a| a.name.as_ref().map(|n| (n, &a.value))).collect();
    match rule.name {
        "uniform" => {
            let [low, high] = positional[..] else { return Err(wrong()) };
            let step = match named[..] {
                [] => None,
                [(n, v)] if n.name == "step" => Some(v),
                _ => return Err(wrong()),
            };
            if low.value > high.value {
                let kind = ErrorKind::DrawEmptyRange { low: low.text.clone(), high: high.text.clone() };
                return Err(Error::new(kind, draw.span));
            }
            let places =
                [Some(low), Some(high), step].into_iter().flatten().map(|n| places(&n.text)).max().unwrap_or(0);
            let step_value = match step {
                Some(s) if !s.value.is_positive() => {
                    return Err(Error::new(ErrorKind::DrawStep { step: s.text.clone() }, s.span));
                }
                Some(s) => s.value.clone(),
                None => BigRational::one() / BigRational::from_integer(num_traits::pow(10.into(), places as usize)),
            };
            Ok(Draw::Uniform { low: low.value.clone(), high: high.value.clone(), step: step_value, places })
        }
        "choice" if !positional.is_empty() && named.is_empty() => {
            Ok(Draw::Choice(positional.iter().map(|n| n.value.clone()).collect()))
        }
        "onehot" | "fixed" if !draw.args.is_empty() => Err(wrong()),
        "onehot" if shape.rank() == 0 || shape.rank() > 2 => {
            Err(Error::new(ErrorKind::DrawOneHotShape { name: name.to_string(), shape: shape.clone() }, draw.span))
        }
        "onehot" => Ok(Draw::OneHot),
        "fixed" if !has_value => {
            Err(Error::new(ErrorKind::DrawFixedWithoutValue { name: name.to_string() }, draw.span))
        }
        "fixed" => Ok(Draw::Fixed),
        _ => Err(wrong()),
    }
}

/// The decimal places a number is written with: `0.50` has 2, `1e-3` 3, `2.5e1` 0.
pub fn places(text: &str) -> u32 {
    let text = text.trim_start_matches(['-', '+', ' ', '\t']);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
    (fraction - exponent).clamp(0, 30) as u32
}

/// The fewest decimal places that write `value` exactly (at most 30; a
/// value that needs more, such as 1/3, is written with 30).
pub fn places_of(value: &BigRational) -> u32 {
    let mut scaled = value.abs();
    for k in 0..30 {
        if scaled.is_integer() {
            return k;
        }
        scaled *= BigRational::from_integer(10.into());
    }
    if scaled.is_zero() {
        0
    } else {
        30
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_as_written() {
        assert_eq!(places("0.50"), 2);
        assert_eq!(places("-0.5"), 1);
        assert_eq!(places("2"), 0);
        assert_eq!(places("1e-3"), 3);
        assert_eq!(places("2.5E+1"), 0);
        assert_eq!(places("1.25e-1"), 3);
    }

    #[test]
    fn places_of_values() {
        let r = |n: i64, d: i64| BigRational::new(n.into(), d.into());
        assert_eq!(places_of(&r(1, 2)), 1);
        assert_eq!(places_of(&r(-3, 40)), 3);
        assert_eq!(places_of(&r(7, 1)), 0);
        assert_eq!(places_of(&r(1, 3)), 30);
    }
}
