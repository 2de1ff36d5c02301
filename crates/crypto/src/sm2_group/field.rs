//! Arithmetic in GF(p) for the SM2 prime `p = 2^256 - 2^224 - 2^96 + 2^64 - 1`
//! (GB/T 32918.5-2017 §3), as RFC 9380's simplified SWU map needs it.
//!
//! `sm2` keeps its field element type private, so this is a thin newtype over crypto-bigint's
//! Montgomery form (`ConstMontyForm`), reached through `sm2::elliptic_curve::bigint` so that no
//! dependency is added. Every operation is constant time: crypto-bigint's add/sub/mul and its
//! safegcd inversion are, and square roots are fixed-exponent powers (`pow` is constant time in
//! its base).

use sm2::elliptic_curve::bigint::{U256, const_monty_params, modular::ConstMontyForm};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

const_monty_params!(
    SmPrime,
    U256,
    "fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff",
    "The SM2 field prime p of GB/T 32918.5-2017."
);

type Monty = ConstMontyForm<SmPrime, { U256::LIMBS }>;

/// `2^256 mod p`, to fold the high part of a 384-bit integer.
const TWO_POW_256: U256 =
    U256::from_be_hex("0000000100000000000000000000000000000000ffffffff0000000000000001");

/// An element of GF(p), SM2's base field.
#[derive(Clone, Copy)]
pub(super) struct Fe(Monty);

impl Fe {
    pub(super) const ZERO: Self = Self(Monty::ZERO);
    pub(super) const ONE: Self = Self(Monty::ONE);

    /// The element with big-endian hex representation `hex` (64 digits), reduced mod p.
    pub(super) const fn from_be_hex(hex: &str) -> Self {
        Self(Monty::new(&U256::from_be_hex(hex)))
    }

    /// `OS2IP(bytes) mod p` for 256-bit inputs (any value; reduced by the Montgomery mapping).
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Self {
        // The slice is a `[u8; 32]`, exactly `U256`'s size, so `from_be_slice` cannot panic.
        Self(Monty::new(&U256::from_be_slice(bytes)))
    }

    /// `OS2IP(bytes) mod p` for the 48-byte (L = 48) strings of RFC 9380 §5.2 `hash_to_field`:
    /// `hi·2^256 + lo` with `hi` the first 16 bytes and `lo` the last 32.
    pub(super) fn from_be_bytes_wide(bytes: &[u8; 48]) -> Self {
        let mut hi = [0u8; 32];
        hi[16..].copy_from_slice(&bytes[..16]);
        let mut lo = [0u8; 32];
        lo.copy_from_slice(&bytes[16..]);
        let hi = Self::from_be_bytes(&hi);
        let lo = Self::from_be_bytes(&lo);
        hi.mul(&Self(Monty::new(&TWO_POW_256))).add(&lo)
    }

    /// Canonical big-endian encoding (`I2OSP(x, 32)` of the integer in `[0, p)`).
    pub(super) fn to_be_bytes(self) -> [u8; 32] {
        self.0.retrieve().to_be_bytes().into()
    }

    pub(super) const fn add(&self, rhs: &Self) -> Self {
        Self(self.0.add(&rhs.0))
    }

    pub(super) const fn mul(&self, rhs: &Self) -> Self {
        Self(self.0.mul(&rhs.0))
    }

    pub(super) const fn square(&self) -> Self {
        Self(self.0.square())
    }

    pub(super) const fn neg(&self) -> Self {
        Self(self.0.neg())
    }

    /// `self^exp`, constant time in `self` (the exponents used here are public constants).
    pub(super) const fn pow(&self, exp: &U256) -> Self {
        Self(self.0.pow(exp))
    }

    /// RFC 9380 §4 `inv0`: the inverse, and 0 for 0. Constant-time safegcd (Bernstein–Yang),
    /// several times faster than the Fermat power `x^(p-2)`, which the tests use as the oracle.
    pub(super) fn inv0(&self) -> Self {
        Self(self.0.invert().unwrap_or(Monty::ZERO))
    }

    pub(super) fn is_zero(&self) -> Choice {
        self.ct_eq(&Self::ZERO)
    }

    /// RFC 9380 §4.1 `sgn0` for `m = 1`: the parity of the canonical integer.
    pub(super) fn sgn0(&self) -> Choice {
        Choice::from(self.to_be_bytes()[31] & 1)
    }

    /// RFC 9380 §4 `is_square`: `x^((p-1)/2)` is 0 or 1.
    #[cfg(test)]
    pub(super) fn is_square(&self) -> Choice {
        const P_MINUS_1_OVER_2: U256 =
            U256::from_be_hex("7fffffff7fffffffffffffffffffffffffffffff800000007fffffffffffffff");
        let chi = self.pow(&P_MINUS_1_OVER_2);
        chi.is_zero() | chi.ct_eq(&Self::ONE)
    }

    /// A square root for `p ≡ 3 (mod 4)`: `x^((p+1)/4)`, checked by squaring (RFC 9380 I.1).
    #[cfg(test)]
    pub(super) fn sqrt(&self) -> subtle::CtOption<Self> {
        const P_PLUS_1_OVER_4: U256 =
            U256::from_be_hex("3fffffffbfffffffffffffffffffffffffffffffc00000004000000000000000");
        let root = self.pow(&P_PLUS_1_OVER_4);
        subtle::CtOption::new(root, root.square().ct_eq(self))
    }
}

impl ConstantTimeEq for Fe {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl ConditionallySelectable for Fe {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self(Monty::conditional_select(&a.0, &b.0, choice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p − 1 as a field element, i.e. −1.
    const MINUS_ONE: Fe =
        Fe::from_be_hex("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffe");

    #[test]
    fn constants_are_what_they_claim() {
        assert!(bool::from(MINUS_ONE.add(&Fe::ONE).is_zero()));
        // 2^256 mod p: 2^255 · 2 computed in the field.
        let mut two_255 = [0u8; 32];
        two_255[0] = 0x80;
        let two = Fe::ONE.add(&Fe::ONE);
        let t = Fe::from_be_bytes(&two_255).mul(&two);
        assert!(bool::from(t.ct_eq(&Fe(Monty::new(&TWO_POW_256)))));
        // p itself reduces to zero.
        let p = Fe::from_be_hex("fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff");
        assert!(bool::from(p.is_zero()));
    }

    #[test]
    fn inverse_sqrt_and_squares() {
        // Fermat: x^(p-2) = x^-1.
        const P_MINUS_2: U256 =
            U256::from_be_hex("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffd");
        let x = Fe::from_be_hex("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
        assert!(bool::from(x.mul(&x.inv0()).ct_eq(&Fe::ONE)));
        assert!(bool::from(x.inv0().ct_eq(&x.pow(&P_MINUS_2))));
        assert!(bool::from(Fe::ZERO.inv0().is_zero()));
        let sq = x.square();
        assert!(bool::from(sq.is_square()));
        let r = sq.sqrt().unwrap();
        assert!(bool::from(r.square().ct_eq(&sq)));
        // p ≡ 3 (mod 4), so −1 is not a square and −x² is not either.
        assert!(!bool::from(MINUS_ONE.is_square()));
        assert!(bool::from(sq.neg().sqrt().is_none()));
    }

    #[test]
    fn wide_reduction_matches_python() {
        // int("ff"*48, 16) % p, computed with Python big integers.
        let wide = [0xffu8; 48];
        assert_eq!(
            hex::encode(Fe::from_be_bytes_wide(&wide).to_be_bytes()),
            "0000000200000000000000000000000100000001000000000000000100000000"
        );
        assert_eq!(Fe::from_be_bytes_wide(&wide).sgn0().unwrap_u8(), 0);
    }
}
