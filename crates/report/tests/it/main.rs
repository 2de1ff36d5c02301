//! Integration tests of `unseen-report` (one binary for the crate).
