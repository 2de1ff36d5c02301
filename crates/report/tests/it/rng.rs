//! Seeded synthetic data for the tests.

/// SplitMix64: a small deterministic generator for test data (not for secrets).
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` scores on a grid of `levels` values (many ties) and labels correlated with them.
pub(crate) fn tied_data(seed: u64, n: usize, levels: u64) -> (Vec<f64>, Vec<u8>) {
    let mut rng = SplitMix(seed);
    let mut scores = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let level = rng.below(levels);
        scores.push(level as f64 / levels as f64);
        // P(bad) grows with the score: bad when a uniform draw falls below the level.
        labels.push(u8::from(rng.below(levels + 2) < level / 2 + 1));
    }
    (scores, labels)
}
