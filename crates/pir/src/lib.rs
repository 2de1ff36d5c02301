//! Single-server private information retrieval from LWE: SimplePIR.
//!
//! A. Henzinger, M. M. Hong, H. Corrigan-Gibbs, S. Meiklejohn, V. Vaikuntanathan, "One Server for
//! the Price of Two: Simple and Fast Single-Server Private Information Retrieval", USENIX
//! Security 2023 (eprint 2022/949): §4 (SimplePIR) and its extensions to long records and
//! batched queries. The SimplePIR core here is pure computation, no messages or I/O;
//! `docs/protocols/simplepir.md` has the parameters with their sources (and which section
//! numbers were checked), the costs and measurements. The [`keyword`] module builds the keyword
//! PIR of DESIGN.md §4.3 on it (OPRF → AEAD entries in hash buckets that are SimplePIR
//! columns), with sans-I/O roles, wire messages and `run_*` drivers; see
//! `docs/protocols/keyword-pir.md`.
//!
//! **Notation** (the paper's). The database is `D ∈ Z_p^{ℓ×m}` ([`Database`]); `q = 2^32`,
//! `n = 1024`, `Δ = ⌊q/p⌋`; `A ∈ Z_q^{m×n}` is public, expanded from a 32-byte [`Seed`]
//! ([`PublicMatrix`]); `χ` is the discrete Gaussian of `σ = 6.4` ([`gauss`]).
//!
//! 1. **Setup** (server, once): `H = D·A ∈ Z_q^{ℓ×n}`, the hint ([`Database::build`]). The client
//!    downloads `H` once ([`Params::hint_bytes`]).
//! 2. **Query** (client) for the record in column `j`: `s ← Z_q^n`, `e ← χ^m`,
//!    `qu = A·s + e + Δ·u_j ∈ Z_q^m` ([`Client::query`]).
//! 3. **Answer** (server): `ans = D·qu ∈ Z_q^ℓ`; a batch of `K` queries is one product
//!    `D·[qu_1 … qu_K]` that reads `D` once ([`Server::answer`]).
//! 4. **Recover** (client): `ans − H·s = Δ·D[·][j] + D·e`; rounding each row the record spans to
//!    the nearest multiple of `Δ` and dividing gives `D[·][j]` ([`Client::recover`]).
//!
//! **Records.** A record of `b` bytes is cut into `⌈8b / log p⌉` values of `log p` bits that fill
//! consecutive rows of one column, as the paper's long-record extension does.
//!
//! **What each party learns** (semi-honest). The server sees `qu`, which under LWE with secret
//! `s` (`n = 1024`, `q = 2^32`, `σ = 6.4`, at most `2^21` samples) is indistinguishable from
//! uniform, so it learns nothing about the indices beyond their number; each query uses a fresh
//! `s`. The client learns the whole column `j` of every query (all `ℓ` rows, i.e. every record
//! in that column) plus the hint: SimplePIR does not protect the database from the client;
//! the keyword-PIR layer does, by encrypting each record under a key only its owner's OPRF
//! output gives. The paper claims about 128-bit security for these LWE parameters by the lattice
//! estimator (§4); we claim no more.
//!
//! **Deviations from the paper.** `p` is a power of two (the largest below the paper's bound, so
//! the bound still holds); the Gaussian is sampled from a fixed-point CDT instead of the
//! artifact's floating-point rejection sampler ([`gauss`]); matrix entries are stored unpacked as
//! `i16` (the artifact packs three entries per `u32`).

mod client;
mod db;
mod error;
pub mod gauss;
pub mod keyword;
mod matrix;
pub mod msgs;
pub mod params;

pub use client::{Client, QueryState};
pub use db::{Database, Hint, Server};
pub use error::PirError;
#[doc(hidden)]
pub use matrix::bench;
pub use matrix::kernel_name;
pub use matrix::{PublicMatrix, Seed};
pub use msgs::{Answer, Answers, Query};
pub use params::Params;

/// Largest batch of queries one call answers (the server allocates `ℓ` words per query).
pub const MAX_BATCH: usize = 1024;
