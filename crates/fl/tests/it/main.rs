//! Integration tests of `unseen-fl` (one binary for the crate).

mod lr;
