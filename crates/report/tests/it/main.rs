//! Integration tests of `unseen-report` (one binary for the crate): metrics against brute-force
//! oracles, the rendered page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod html;
mod metrics;
mod rng;
