//! A test double of the homomorphic-encryption traits with no security at all: the
//! "ciphertext" is the message modulo 2^126. Used only to develop the protocol logic until the
//! real schemes land; never for the final tests.

use unseen_crypto::Error;
use unseen_crypto::he::{HePublicKey, HeScheme, HeSecretKey, Plaintext};

const BITS: u32 = 126;
const MASK: u128 = (1u128 << BITS) - 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FakePk;

#[derive(Debug)]
pub(crate) struct FakeSk(FakePk);

fn to_ring(m: &Plaintext) -> Result<u128, Error> {
    let v = m
        .to_i128()
        .ok_or(Error::InvalidArgument("message too large"))?;
    Ok(v.cast_unsigned() & MASK)
}

impl HePublicKey for FakePk {
    type Ciphertext = u128;
    fn scheme(&self) -> HeScheme {
        HeScheme::Paillier
    }
    fn modulus_bits(&self) -> u32 {
        2048
    }
    fn plaintext_bits(&self) -> u32 {
        BITS - 2
    }
    fn encrypt(&self, m: &Plaintext) -> Result<u128, Error> {
        to_ring(m)
    }
    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<u128>, Error> {
        ms.iter().map(to_ring).collect()
    }
    fn add(&self, a: &u128, b: &u128) -> u128 {
        a.wrapping_add(*b) & MASK
    }
    fn add_assign(&self, a: &mut u128, b: &u128) {
        *a = a.wrapping_add(*b) & MASK;
    }
    fn mul_plain(&self, a: &u128, k: &Plaintext) -> Result<u128, Error> {
        Ok(a.wrapping_mul(to_ring(k)?) & MASK)
    }
    fn zero(&self) -> u128 {
        0
    }
    fn rerandomize(&self, _a: &mut u128) -> Result<(), Error> {
        Ok(())
    }
    fn ciphertext_len(&self) -> usize {
        16
    }
    fn write_ciphertext(&self, c: &u128, out: &mut Vec<u8>) {
        out.extend_from_slice(&c.to_le_bytes());
    }
    fn read_ciphertext(&self, bytes: &[u8]) -> Result<u128, Error> {
        let a: [u8; 16] = bytes.try_into().map_err(|_| Error::InvalidCiphertext {
            scheme: "fake",
            reason: "length",
        })?;
        let v = u128::from_le_bytes(a);
        if v > MASK {
            return Err(Error::InvalidCiphertext {
                scheme: "fake",
                reason: "not below the modulus",
            });
        }
        Ok(v)
    }
    fn to_bytes(&self) -> Vec<u8> {
        b"fake".to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes == b"fake" {
            Ok(FakePk)
        } else {
            Err(Error::InvalidCiphertext {
                scheme: "fake",
                reason: "bad key",
            })
        }
    }
}

impl HeSecretKey for FakeSk {
    type Public = FakePk;
    fn generate(_modulus_bits: u32) -> Result<Self, Error> {
        Ok(FakeSk(FakePk))
    }
    fn public(&self) -> &FakePk {
        &self.0
    }
    fn decrypt(&self, c: &u128) -> Plaintext {
        let v = if c >> (BITS - 1) == 1 {
            (c | !MASK).cast_signed()
        } else {
            c.cast_signed()
        };
        Plaintext::from_i128(v)
    }
    fn decrypt_batch(&self, cs: &[u128]) -> Vec<Plaintext> {
        cs.iter().map(|c| self.decrypt(c)).collect()
    }
}
