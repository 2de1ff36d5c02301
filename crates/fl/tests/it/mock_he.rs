//! A test-only stand-in for the homomorphic schemes while they are being written: "ciphertexts"
//! are the plaintexts themselves modulo 2^760 (no security at all), so the protocol logic can be
//! checked fast. The final tests use the real OU scheme.

use unseen_crypto::Error;
use unseen_crypto::he::{HePublicKey, HeScheme, HeSecretKey, Plaintext};

const LIMBS: usize = 12;
const TOP_MASK: u64 = (1 << 56) - 1; // 760 = 11·64 + 56

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockCt([u64; LIMBS]);

#[derive(Clone, Debug)]
pub struct MockPk;

#[derive(Debug)]
pub struct MockSk(MockPk);

fn from_pt(m: &Plaintext) -> MockCt {
    let mut v = [0u64; LIMBS];
    for (i, &l) in m.magnitude_limbs().iter().enumerate().take(LIMBS) {
        v[i] = l;
    }
    let mut c = MockCt(v);
    if m.is_negative() {
        // two's complement
        for l in &mut c.0 {
            *l = !*l;
        }
        add_small(&mut c, 1);
    }
    c.0[LIMBS - 1] &= TOP_MASK;
    c
}

fn add_small(c: &mut MockCt, x: u64) {
    let mut carry = x;
    for l in &mut c.0 {
        let (s, o) = l.overflowing_add(carry);
        *l = s;
        carry = u64::from(o);
        if carry == 0 {
            break;
        }
    }
}

fn add(a: &mut MockCt, b: &MockCt) {
    let mut carry = 0u64;
    for i in 0..LIMBS {
        let (s1, o1) = a.0[i].overflowing_add(b.0[i]);
        let (s2, o2) = s1.overflowing_add(carry);
        a.0[i] = s2;
        carry = u64::from(o1) + u64::from(o2);
    }
    a.0[LIMBS - 1] &= TOP_MASK;
}

fn mul(a: &MockCt, k: &MockCt) -> MockCt {
    let mut out = [0u64; LIMBS];
    for i in 0..LIMBS {
        let mut carry = 0u128;
        for j in 0..LIMBS - i {
            let t = u128::from(out[i + j]) + u128::from(a.0[i]) * u128::from(k.0[j]) + carry;
            out[i + j] = t as u64;
            carry = t >> 64;
        }
    }
    out[LIMBS - 1] &= TOP_MASK;
    MockCt(out)
}

impl HePublicKey for MockPk {
    type Ciphertext = MockCt;
    fn scheme(&self) -> HeScheme {
        HeScheme::OkamotoUchiyama
    }
    fn modulus_bits(&self) -> u32 {
        2048
    }
    fn plaintext_bits(&self) -> u32 {
        680
    }
    fn encrypt(&self, m: &Plaintext) -> Result<MockCt, Error> {
        Ok(from_pt(m))
    }
    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<MockCt>, Error> {
        ms.iter().map(|m| self.encrypt(m)).collect()
    }
    fn add(&self, a: &MockCt, b: &MockCt) -> MockCt {
        let mut c = a.clone();
        add(&mut c, b);
        c
    }
    fn add_assign(&self, a: &mut MockCt, b: &MockCt) {
        add(a, b);
    }
    fn mul_plain(&self, a: &MockCt, k: &Plaintext) -> Result<MockCt, Error> {
        Ok(mul(a, &from_pt(k)))
    }
    fn zero(&self) -> MockCt {
        MockCt([0; LIMBS])
    }
    fn rerandomize(&self, _a: &mut MockCt) -> Result<(), Error> {
        Ok(())
    }
    fn ciphertext_len(&self) -> usize {
        LIMBS * 8
    }
    fn write_ciphertext(&self, c: &MockCt, out: &mut Vec<u8>) -> Result<(), Error> {
        for l in &c.0 {
            out.extend_from_slice(&l.to_le_bytes());
        }
        Ok(())
    }
    fn read_ciphertext(&self, bytes: &[u8]) -> Result<MockCt, Error> {
        if bytes.len() != LIMBS * 8 {
            return Err(Error::InvalidCiphertext {
                scheme: "mock",
                reason: "length",
            });
        }
        let mut v = [0u64; LIMBS];
        for (i, c) in bytes.chunks_exact(8).enumerate() {
            v[i] = u64::from_le_bytes(c.try_into().unwrap());
        }
        if v[LIMBS - 1] > TOP_MASK {
            return Err(Error::InvalidCiphertext {
                scheme: "mock",
                reason: "not below the modulus",
            });
        }
        Ok(MockCt(v))
    }
    fn to_bytes(&self) -> Vec<u8> {
        b"mock".to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes == b"mock" {
            Ok(MockPk)
        } else {
            Err(Error::InvalidCiphertext {
                scheme: "mock",
                reason: "key",
            })
        }
    }
}

impl HeSecretKey for MockSk {
    type Public = MockPk;
    fn generate(_bits: u32) -> Result<Self, Error> {
        Ok(MockSk(MockPk))
    }
    fn generate_from_seed(_bits: u32, _seed: [u8; 32]) -> Result<Self, Error> {
        Ok(MockSk(MockPk))
    }
    fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(b"mock".to_vec())
    }
    fn from_bytes(_bytes: &[u8]) -> Result<Self, Error> {
        Ok(MockSk(MockPk))
    }
    fn public(&self) -> &MockPk {
        &self.0
    }
    fn decrypt(&self, c: &MockCt) -> Plaintext {
        let neg = c.0[LIMBS - 1] >> 55 & 1 == 1;
        if neg {
            let mut x = c.clone();
            for l in &mut x.0 {
                *l = !*l;
            }
            add_small(&mut x, 1);
            x.0[LIMBS - 1] &= TOP_MASK;
            Plaintext::from_limbs(true, x.0.to_vec())
        } else {
            Plaintext::from_limbs(false, c.0.to_vec())
        }
    }
    fn decrypt_batch(&self, cs: &[MockCt]) -> Vec<Plaintext> {
        cs.iter().map(|c| self.decrypt(c)).collect()
    }
}

#[test]
fn mock_is_homomorphic() {
    let sk = MockSk::generate(0).unwrap();
    let pk = sk.public();
    let a = pk.encrypt(&Plaintext::from_i128(-5)).unwrap();
    let b = pk.encrypt(&Plaintext::from_i128(3)).unwrap();
    assert_eq!(sk.decrypt(&pk.add(&a, &b)).to_i128(), Some(-2));
    let s = Plaintext::from_limbs(false, vec![0, 0, 1]);
    let c = pk.mul_plain(&a, &s).unwrap();
    let d = sk.decrypt(&c);
    assert!(d.is_negative());
    assert_eq!(d.magnitude_limbs(), &[0, 0, 5]);
    let off = Plaintext::pack(&[1u128 << 127; 2], 128).unwrap();
    let mut e = pk.add(&c, &b);
    pk.add_assign(&mut e, &pk.encrypt(&off).unwrap());
    let v = sk.decrypt(&e).unpack(128, 2).unwrap();
    assert_eq!(v, vec![(1u128 << 127) + 3, (1u128 << 127) - 5]);
}
