//! Values given from outside the file (a notebook's lists and arrays) that
//! are not even rows of finite numbers: each fault is an error at the
//! tensor's declaration, with a reviewed snapshot of its message.

mod common;

use nnderive::model::{refuse_value, GivenFault};
use nnderive::render::diagnostic::report;
use nnderive::{Error, Source};

const NET: &str = "input x[2] = [1, 2]\nparam W[2,2]\nparam w = 1\nZ = W @ x\nloss L = sum(Z) * w\n";

fn rendered(name: &str, fault: GivenFault) -> String {
    let source = Source::new("net.nn", NET);
    let model = nnderive::load(&source).expect("the network checks");
    let error = Error::from(refuse_value(&model, name, fault));
    report(&error.report(), &source.name, &source.text)
}

#[test]
fn every_fault_of_a_given_value() {
    let cases = [
        ("not_finite_scalar", "w", GivenFault::NotFinite { index: vec![], found: "nan".into() }),
        ("not_finite_entry", "W", GivenFault::NotFinite { index: vec![1, 0], found: "inf".into() }),
        ("not_number", "W", GivenFault::NotNumber { index: vec![0, 1], found: "'abc'".into() }),
        ("exponent", "w", GivenFault::ExponentTooLarge { index: vec![], found: "'1e5000'".into() }),
        ("ragged_lengths", "W", GivenFault::Ragged { index: vec![1], expected: Some(2), found: Some(1) }),
        ("ragged_number", "W", GivenFault::Ragged { index: vec![1], expected: Some(2), found: None }),
        ("ragged_list", "W", GivenFault::Ragged { index: vec![1], expected: None, found: Some(2) }),
        // The name comes first: unknown, or an equation's.
        ("unknown_name", "Q", GivenFault::NotFinite { index: vec![], found: "nan".into() }),
        ("equation", "Z", GivenFault::NotFinite { index: vec![], found: "nan".into() }),
    ];
    common::settings().bind(|| {
        for (case, name, fault) in cases {
            insta::assert_snapshot!(format!("given_fault_{case}"), rendered(name, fault));
        }
    });
}

/// The tolerance rule the command line and the Python package share.
#[test]
fn a_tolerance_is_positive_and_finite() {
    for bad in [f64::NAN, -1.0, -1e-300, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(nnderive::eval::check_tolerance(bad), Err("it must be a positive, finite number such as 1e-6"));
    }
    for good in [1e-6, 1e-300, 1.0, 1e300] {
        assert_eq!(nnderive::eval::check_tolerance(good), Ok(good));
    }
}
