//! SM3 helpers (GB/T 32905-2016, the SM3 cryptographic hash algorithm, RustCrypto `sm3`).
//!
//! The 国密 profile uses SM3 wherever a hash is needed: [`crate::Sm2`]'s
//! [`digest`](crate::PsiGroup::digest) and its hash-to-curve expander
//! (`expand_message_xmd` over SM3, see [`crate::sm2_group`]).

use sm3::{Digest, Sm3};

/// SM3 digest of `data` (GB/T 32905-2016 §5), 32 bytes.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32905-2016 Appendix A, example 1: the 3-byte message "abc".
    #[test]
    fn gbt32905_example_1() {
        assert_eq!(
            hex::encode(sm3(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    /// GB/T 32905-2016 Appendix A, example 2: the 64-byte message "abcd" repeated 16 times.
    #[test]
    fn gbt32905_example_2() {
        assert_eq!(
            hex::encode(sm3(&b"abcd".repeat(16))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }
}
