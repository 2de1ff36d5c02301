//! The table's shape: `m` buckets (SimplePIR columns) of `C` slots, plus a stash.
//!
//! Slot `r` of bucket `b` is SimplePIR record `r·m + b` (record `i` lives in column `i mod m`,
//! [`Params`]), so a bucket is exactly one column and one query returns all of it. Stash entry
//! `t` has table index `T + t`, `T = m·C`.
//!
//! **Sizing.** With `n` items (records) hashed uniformly into `m` buckets, a bucket's load is
//! Binomial(n, 1/m) ≈ Poisson(λ), `λ = n/m`. We give every bucket `C = ⌈λ' + 3.5·√λ'⌉ + 1`
//! slots for `λ' = (n + n/10 + 8)/m` (10 % room to grow before a rebuild): the Poisson tail
//! beyond `λ + 3.5·√λ` is about `2^-12`, so at 2^20 items a handful of records overflow into the
//! stash ([`super::MAX_STASH`] entries), and a build whose stash would overflow is retried with a
//! new salt and then with 12.5 % larger buckets. Among the powers of two `m` we take the one
//! that minimises the online cost `m + ℓ` words (query plus answer), `ℓ = C·chunks` the rows
//! of the matrix.

use crate::{Params, PirError};

use super::{MAX_SLOTS, entry_len};
use crate::params::MAX_COLS;

/// The shape of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `m`: buckets, the SimplePIR columns.
    pub(crate) buckets: usize,
    /// `C`: slots per bucket.
    pub(crate) capacity: usize,
}

impl Layout {
    /// `T = m·C`.
    pub(crate) fn slots(&self) -> usize {
        self.buckets * self.capacity
    }

    /// Table index of slot `r` of bucket `b`.
    pub(crate) fn index(&self, bucket: usize, r: usize) -> usize {
        r * self.buckets + bucket
    }

    /// The bucket of table index `i < T`.
    pub(crate) fn bucket_of(&self, i: usize) -> usize {
        i % self.buckets
    }

    /// SimplePIR parameters of the table for records of up to `max_record_len` bytes.
    pub(crate) fn params(&self, max_record_len: usize) -> Result<Params, PirError> {
        Params::with_columns(self.slots(), entry_len(max_record_len), self.buckets)
    }

    /// The shape for `items` records of up to `max_record_len` bytes (see the module docs).
    pub(crate) fn choose(items: usize, max_record_len: usize) -> Result<Self, PirError> {
        let target = items.saturating_add(items / 10).saturating_add(8);
        let mut best: Option<(usize, Self)> = None;
        let mut m = 1usize;
        while m <= MAX_COLS {
            let capacity = capacity_for(target, m);
            let layout = Self {
                buckets: m,
                capacity,
            };
            if layout.buckets.saturating_mul(capacity) <= MAX_SLOTS
                && let Ok(p) = layout.params(max_record_len)
            {
                let cost = p.rows().saturating_add(p.cols());
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, layout));
                }
            }
            if m >= target {
                break;
            }
            m <<= 1;
        }
        best.map(|(_, l)| l).ok_or_else(|| {
            PirError::Config(format!(
                "no table shape holds {items} records of {max_record_len} bytes"
            ))
        })
    }

    /// The same number of buckets with 12.5 % more slots each (after repeated stash overflows).
    pub(crate) fn grown(&self) -> Self {
        Self {
            buckets: self.buckets,
            capacity: self.capacity + self.capacity.div_ceil(8),
        }
    }
}

/// `⌈λ + 3.5·√λ⌉ + 1` slots for `target` items in `m` buckets.
fn capacity_for(target: usize, m: usize) -> usize {
    // Both are far below 2^52, so the floating-point values are exact enough for a size.
    #[allow(clippy::cast_precision_loss)]
    let lambda = target as f64 / m as f64;
    let c = (lambda + 3.5 * lambda.sqrt()).ceil();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let c = c as usize;
    c + 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn shape_at_the_target_size() {
        // 2^20 records of 32 bytes: 55-byte entries (49 rows of 9 bits).
        let l = Layout::choose(1 << 20, 32).unwrap();
        let p = l.params(32).unwrap();
        assert_eq!(l.buckets, 8192);
        assert!((180..=200).contains(&l.capacity), "{l:?}");
        assert_eq!(p.rows(), l.capacity * p.chunks_per_record());
        // Record r·m + b sits in column b.
        assert_eq!(l.bucket_of(l.index(77, 3)), 77);
    }

    #[test]
    fn tiny_tables() {
        for items in [0, 1, 2, 10] {
            let l = Layout::choose(items, 4).unwrap();
            assert!(l.slots() >= items + 8, "{items}: {l:?}");
            l.params(4).unwrap();
        }
        let l = Layout::choose(0, 0).unwrap();
        assert!(l.grown().capacity > l.capacity);
    }
}
