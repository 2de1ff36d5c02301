//! `expand_message_xmd` of RFC 9380 §5.3.1: a hash with a fixed output size stretched into a
//! uniformly random byte string under a domain-separation tag (DST).
//!
//! Used by both hash-to-group suites of this crate: SHA-512 for ristretto255 (RFC 9380 Appendix B,
//! RFC 9496 §4.3.4) and SM3 for SM2 (`SM2_XMD:SM3_SSWU_RO_`, see [`crate::sm2_group`]).
//!
//! Steps, as numbered in the RFC (`b_in_bytes` = output size of `H`, `s_in_bytes` = its block
//! size, `len_in_bytes` = the requested length):
//!
//! 1. `ell = ceil(len_in_bytes / b_in_bytes)`
//! 2. abort if `ell > 255`, `len_in_bytes > 65535` or `len(DST) > 255`
//! 3. `DST_prime = DST || I2OSP(len(DST), 1)`
//! 4. `Z_pad = I2OSP(0, s_in_bytes)`
//! 5. `l_i_b_str = I2OSP(len_in_bytes, 2)`
//! 6. `msg_prime = Z_pad || msg || l_i_b_str || I2OSP(0, 1) || DST_prime`
//! 7. `b_0 = H(msg_prime)`
//! 8. `b_1 = H(b_0 || I2OSP(1, 1) || DST_prime)`
//! 9. for `i` in `2..=ell`: `b_i = H(strxor(b_0, b_(i-1)) || I2OSP(i, 1) || DST_prime)`
//! 10. `uniform_bytes = b_1 || ... || b_ell`
//! 11. return the first `len_in_bytes` bytes of `uniform_bytes`
//!
//! Deviation: an empty DST is rejected too (RFC 9380 §3.1: "tags MUST have nonzero length").

use sha2::digest::{Digest, common::Block, common::BlockSizeUser};

use crate::Error;

/// Largest DST that §5.3.1 step 2 accepts (its length must fit in one byte).
pub const MAX_DST_LEN: usize = 255;

/// Fills `out` with `expand_message_xmd(msg, dst, out.len())` of RFC 9380 §5.3.1 over hash `H`.
///
/// `H` is any fixed-output hash with a block size, e.g. `sha2::Sha256`, `sha2::Sha512` or
/// `sm3::Sm3`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `dst` is empty or longer than 255 bytes, or if `out` is longer
/// than `255 * H::output_size()` or 65535 bytes (step 2).
pub fn expand_message_xmd<H>(msg: &[u8], dst: &[u8], out: &mut [u8]) -> Result<(), Error>
where
    H: Digest + BlockSizeUser,
{
    let b_in_bytes = <H as Digest>::output_size();

    // Step 1.
    let ell = out.len().div_ceil(b_in_bytes);
    // Step 2.
    if ell > 255 {
        return Err(Error::InvalidArgument(
            "expand_message_xmd: len_in_bytes exceeds 255 hash outputs",
        ));
    }
    let Ok(len_in_bytes) = u16::try_from(out.len()) else {
        return Err(Error::InvalidArgument(
            "expand_message_xmd: len_in_bytes exceeds 65535",
        ));
    };
    let Ok(dst_len) = u8::try_from(dst.len()) else {
        return Err(Error::InvalidArgument(
            "domain-separation tag longer than 255 bytes",
        ));
    };
    if dst_len == 0 {
        return Err(Error::InvalidArgument("domain-separation tag is empty"));
    }

    // Steps 3–7: b_0 = H(Z_pad || msg || l_i_b_str || I2OSP(0, 1) || DST || I2OSP(len(DST), 1)).
    let b_0 = H::new()
        .chain_update(Block::<H>::default())
        .chain_update(msg)
        .chain_update(len_in_bytes.to_be_bytes())
        .chain_update([0u8])
        .chain_update(dst)
        .chain_update([dst_len])
        .finalize();

    // Steps 8–11: b_1 = H(b_0 || 1 || DST_prime); b_i = H((b_0 XOR b_(i-1)) || i || DST_prime).
    let mut b_i = H::new()
        .chain_update(&b_0)
        .chain_update([1u8])
        .chain_update(dst)
        .chain_update([dst_len])
        .finalize();
    let mut chunks = out.chunks_mut(b_in_bytes);
    let mut i: u8 = 1;
    loop {
        let Some(chunk) = chunks.next() else {
            return Ok(());
        };
        chunk.copy_from_slice(&b_i[..chunk.len()]);
        // `ell <= 255` was checked above, so `i` never wraps before the chunks run out.
        i = i.wrapping_add(1);
        let mut xored = b_0.clone();
        for (x, b) in xored.iter_mut().zip(b_i.iter()) {
            *x ^= b;
        }
        b_i = H::new()
            .chain_update(&xored)
            .chain_update([i])
            .chain_update(dst)
            .chain_update([dst_len])
            .finalize();
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Sha256, Sha512};

    use super::*;

    #[test]
    fn rejects_bad_arguments() {
        let mut out = [0u8; 32];
        let long_dst = [b'a'; 256];
        assert!(matches!(
            expand_message_xmd::<Sha256>(b"", &long_dst, &mut out),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            expand_message_xmd::<Sha256>(b"", b"", &mut out),
            Err(Error::InvalidArgument(_))
        ));
        // 255 * 32 = 8160 is the most SHA-256 can give; 255 * 64 = 16320 for SHA-512.
        let mut big = vec![0u8; 8161];
        assert!(matches!(
            expand_message_xmd::<Sha256>(b"", b"d", &mut big),
            Err(Error::InvalidArgument(_))
        ));
        let mut max = vec![0u8; 8160];
        expand_message_xmd::<Sha256>(b"", b"d", &mut max).unwrap();
        let mut big = vec![0u8; 255 * 64 + 1];
        assert!(matches!(
            expand_message_xmd::<Sha512>(b"", b"d", &mut big),
            Err(Error::InvalidArgument(_))
        ));
        expand_message_xmd::<Sha256>(b"", &long_dst[..255], &mut out).unwrap();
    }
}
