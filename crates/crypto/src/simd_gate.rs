//! The gate of the SIMD differential tests: test support, called only from tests.
//!
//! The AVX-512 IFMA backends (`ristretto::ifma`, `he::mont_ifma`) run only on CPUs that have the
//! instructions, so their differential tests cannot run everywhere. Returning early in silence
//! would let the `unsafe` code run zero tests while CI stays green. Every such test asks
//! [`simd_test_gate`] instead: the skip is printed and counted, and with
//! `UNSEEN_REQUIRE_SIMD=1` (what CI sets on a machine whose `/proc/cpuinfo` shows `avx512ifma`)
//! a skip fails the test, whatever its reason: a CPU without the instructions, `UNSEEN_NO_SIMD`,
//! or a fast path that the backend's detection turned off on a CPU that has them.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

static RAN: AtomicUsize = AtomicUsize::new(0);
static SKIPPED: AtomicUsize = AtomicUsize::new(0);

/// Whether this CPU has what the IFMA backends use (`avx512f`, `avx512ifma`, `avx512vl`), by the
/// standard library's detection: independent of the backends' own choice, which also honours
/// `UNSEEN_NO_SIMD` and may have a bug.
pub fn cpu_has_avx512ifma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512ifma")
            && std::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether `UNSEEN_REQUIRE_SIMD` is `1`.
fn simd_required() -> bool {
    std::env::var_os("UNSEEN_REQUIRE_SIMD").is_some_and(|v| v == "1")
}

/// The gate of the SIMD differential test `name`: `fast_path` says whether the AVX-512 IFMA path
/// under test is on in this process (e.g. `MontMul8::new(..).is_some()`, or a backend name).
///
/// Returns `true` if the test should check the fast path (counted as run). Otherwise prints
/// `skipped <name>: <reason>` to stderr (past the test harness's capture, so the skip shows in
/// every run's output), counts the skip and returns `false`, and the test checks what it can
/// without the fast path. The reason is `this CPU lacks avx512ifma`, `UNSEEN_NO_SIMD is set`, or
/// that the fast path is off although the CPU has the instructions (a detection bug).
///
/// # Panics
///
/// Instead of skipping, if `UNSEEN_REQUIRE_SIMD=1`: failing the calling test is the point.
// The gate fails the calling test on purpose (see # Panics).
#[allow(clippy::panic)]
pub fn simd_test_gate(name: &str, fast_path: bool) -> bool {
    if fast_path {
        RAN.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    let reason = if !cpu_has_avx512ifma() {
        "this CPU lacks avx512ifma"
    } else if std::env::var_os("UNSEEN_NO_SIMD").is_some() {
        "UNSEEN_NO_SIMD is set"
    } else {
        "its AVX-512 IFMA path is off although this CPU has avx512ifma (a detection bug?)"
    };
    if simd_required() {
        panic!("UNSEEN_REQUIRE_SIMD=1, but {name} did not run its AVX-512 IFMA path: {reason}");
    }
    let skipped = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    // One write of the whole line, so that parallel tests do not interleave within it.
    let line = format!("skipped {name}: {reason} ({skipped} SIMD tests skipped so far)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// How many gated tests ran their fast path and how many skipped it, in this process.
pub fn simd_test_counts() -> (usize, usize) {
    (RAN.load(Ordering::Relaxed), SKIPPED.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_gate_runs_and_is_counted() {
        let (ran, skipped) = simd_test_counts();
        assert!(simd_test_gate("simd_gate::tests::an_open_gate", true));
        let (ran2, skipped2) = simd_test_counts();
        assert!(ran2 > ran);
        assert!(skipped2 >= skipped);
    }
}
