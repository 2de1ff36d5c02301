//! Per-feature quantile bins, computed by each party on its own features only.
//!
//! Method (exact quantiles of the training column, as Chen & Guestrin's `hist` method
//! approximates with a sketch): sort the column's values; for `i = 1 … bins−1` take the value of
//! rank `⌊i·n/bins⌋` as a candidate cut; keep distinct candidates above the minimum. A value `x`
//! falls in bin `#{cuts c : c ≤ x}`, so bin `b` of a split means "`x < cuts[b]` goes left". A
//! column with `k` distinct values gets at most `k` bins; a constant column gets one bin (and is
//! never split). Values must be finite (no missing-value handling yet).

use crate::FlError;

/// Most bins per feature: bin indices are `u8`.
pub const MAX_BINS: usize = 256;

/// Cut points of every feature of one party (raw-value thresholds).
#[derive(Clone, PartialEq)]
pub struct BinCuts {
    cuts: Vec<Vec<f64>>,
}

impl core::fmt::Debug for BinCuts {
    // Cut points are quantiles of private columns: print only their shape.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BinCuts({} features)", self.cuts.len())
    }
}

impl BinCuts {
    /// Fits cut points on `columns` (one vector per feature, all of the same length), at most
    /// `bins` bins per feature (`2..=`[`MAX_BINS`]).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for an out-of-range `bins`, ragged columns or a non-finite value.
    pub fn fit(columns: &[Vec<f64>], bins: usize) -> Result<Self, FlError> {
        if !(2..=MAX_BINS).contains(&bins) {
            return Err(FlError::InvalidInput(format!(
                "bins must be 2..={MAX_BINS}, got {bins}"
            )));
        }
        let n = columns.first().map_or(0, Vec::len);
        let mut cuts = Vec::with_capacity(columns.len());
        for (j, col) in columns.iter().enumerate() {
            if col.len() != n {
                return Err(FlError::InvalidInput(format!(
                    "feature {j} has {} values, feature 0 has {n}",
                    col.len()
                )));
            }
            if col.iter().any(|v| !v.is_finite()) {
                return Err(FlError::InvalidInput(format!(
                    "feature {j} holds a non-finite value"
                )));
            }
            let mut s = col.clone();
            s.sort_by(f64::total_cmp);
            let mut c: Vec<f64> = Vec::with_capacity(bins - 1);
            if let Some(&min) = s.first() {
                for i in 1..bins {
                    let v = s[i * n / bins];
                    if v > min && c.last().is_none_or(|&l| v > l) {
                        c.push(v);
                    }
                }
            }
            cuts.push(c);
        }
        Ok(Self { cuts })
    }

    /// From stored cut points (each feature's strictly increasing, at most [`MAX_BINS`]−1).
    ///
    /// # Errors
    ///
    /// [`FlError::BadModel`] if a feature's cuts are not strictly increasing finite values or
    /// too many.
    pub fn from_cuts(cuts: Vec<Vec<f64>>) -> Result<Self, FlError> {
        for c in &cuts {
            if c.len() >= MAX_BINS
                || c.iter().any(|v| !v.is_finite())
                || c.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(FlError::BadModel("cut points not increasing or too many"));
            }
        }
        Ok(Self { cuts })
    }

    /// Cut points of every feature.
    pub fn cuts(&self) -> &[Vec<f64>] {
        &self.cuts
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.cuts.len()
    }

    /// Bins of feature `f` (`cuts + 1`).
    pub fn bins_of(&self, f: usize) -> usize {
        self.cuts.get(f).map_or(0, |c| c.len() + 1)
    }

    /// The bin of value `x` in feature `f`.
    pub fn bin(&self, f: usize, x: f64) -> u8 {
        let c = &self.cuts[f];
        // partition_point: number of cuts <= x; at most 255 by construction.
        u8::try_from(c.partition_point(|&t| t <= x)).unwrap_or(u8::MAX)
    }

    /// Bins whole columns (column-major, one `Vec<u8>` per feature).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] if the number of columns differs from the fitted features, or a
    /// value is not finite.
    pub fn bin_columns(&self, columns: &[Vec<f64>]) -> Result<Vec<Vec<u8>>, FlError> {
        if columns.len() != self.cuts.len() {
            return Err(FlError::InvalidInput(format!(
                "{} columns, the bins were fitted on {}",
                columns.len(),
                self.cuts.len()
            )));
        }
        columns
            .iter()
            .enumerate()
            .map(|(f, col)| {
                if col.iter().any(|v| !v.is_finite()) {
                    return Err(FlError::InvalidInput(format!(
                        "feature {f} holds a non-finite value"
                    )));
                }
                Ok(col.iter().map(|&x| self.bin(f, x)).collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_cuts_and_bins() {
        let col: Vec<f64> = (0..100).map(f64::from).collect();
        let b = BinCuts::fit(std::slice::from_ref(&col), 4).unwrap();
        assert_eq!(b.cuts()[0], vec![25.0, 50.0, 75.0]);
        assert_eq!(b.bin(0, 24.9), 0);
        assert_eq!(b.bin(0, 25.0), 1);
        assert_eq!(b.bin(0, 99.0), 3);
        let constant = BinCuts::fit(&[vec![1.0; 10]], 32).unwrap();
        assert_eq!(constant.bins_of(0), 1);
        let few = BinCuts::fit(&[vec![0.0, 1.0, 1.0, 2.0]], 32).unwrap();
        assert_eq!(few.cuts()[0], vec![1.0, 2.0]);
    }
}
