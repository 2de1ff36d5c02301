//! Node tests: the HTTP API's router (without a socket), the policy table, registry validation,
//! and two nodes in one process over mutual TLS on 127.0.0.1 (`partners`, `jobs`, and the job
//! lifecycle in `lifecycle`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod api;
mod audit;
mod config;
mod jobs;
mod lifecycle;
mod partners;
mod pir;
mod policy;
mod psi_jobs;
mod util;
