//! End-to-end tests of the coffee shop live in `tests/*.rs` of this package.
