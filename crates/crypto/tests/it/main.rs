//! Integration tests of `unseen-crypto`: official vectors with their sources, then properties.
//!
//! One test binary for the crate (STYLE.md §6): each file below is a module of it.

// Tests may unwrap (STYLE.md §8); clippy's allow-*-in-tests covers only #[test] bodies, not the
// helpers of the modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aead;
mod expand;
mod he;
mod he_buckets;
mod he_enc_batch;
mod mont_ifma;
mod oprf;
mod properties;
mod ristretto_ifma;
mod ristretto_vectors;
mod sm2_fast;
mod sm2_sign;
mod sm2_vectors;
