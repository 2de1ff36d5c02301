//! Node tests without sockets: the HTTP API's router, the policy table, registry validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod api;
mod audit;
mod config;
mod pir;
mod policy;
mod util;
