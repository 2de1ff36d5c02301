//! Wire messages of logistic regression and their bounded decoders.
//!
//! Training: protocol [`TRAIN_PROTOCOL_ID`], version [`VERSION`].
//!
//! | step | direction | payload |
//! |---|---|---|
//! | [`step::HELLO`] | G → H | [`GuestHello`]: model id, shuffle seed, rows, guest features, hyper-parameters, guest public key |
//! | [`step::HOST_HELLO`] | H → G | [`HostHello`]: host features, host public key |
//! | [`step::TERMS`] | both | the sender's encrypted terms `[[T_i]]` of one batch, at most [`TERMS_PER_MESSAGE`] per message, `ct_len` bytes each |
//! | [`step::GRADIENT`] | both | the sender's masked gradient under the receiver's key, packed: [`crate::lr::fixed::packed_count`] ciphertexts |
//! | [`step::MASKED`] | both | the receiver's masked gradient decrypted and unpacked, `i128` LE per receiver feature |
//! | [`step::EPOCH_END`] | both | one byte: 1 if the sender's weights moved less than `tol` in the epoch |
//!
//! Prediction: protocol [`PREDICT_PROTOCOL_ID`].
//!
//! | step | direction | payload |
//! |---|---|---|
//! | [`step::PREDICT_REQUEST`] | G → H | model id (16), rows (u64 LE) |
//! | [`step::PREDICT_ACK`] | H → G | the host's model id (16); then scores only if the ids match |
//! | [`step::PARTIAL_SCORES`] | H → G | the host's `u_B` per row, `f64` LE, at most [`SCORES_PER_MESSAGE`] per message |
//!
//! Every receiver knows the exact length of the next message and passes it to the channel as the
//! step's maximum; the decoders read through [`unseen_channel::codec::Reader`], which checks the
//! exact length (trailing bytes included) before anything is allocated. A length error names the
//! whole message's expected length, as the channel's step maximum does.

use unseen_channel::Header;
use unseen_channel::codec::{Reader, Writer};
use unseen_crypto::he::HePublicKey;

use super::fixed::MASKED_BITS;
use super::{LrConfig, LrError, MAX_FEATURES, MAX_ROWS, ModelId};

/// Protocol identifier of LR training in frame headers.
pub const TRAIN_PROTOCOL_ID: u16 = 0x0021;
/// Protocol identifier of LR prediction in frame headers.
pub const PREDICT_PROTOCOL_ID: u16 = 0x0022;
/// Version of the message formats.
pub const VERSION: u8 = 1;
/// Largest encoded public key accepted.
pub const MAX_PUBLIC_KEY_LEN: usize = 8192;
/// Encrypted terms per [`step::TERMS`] message.
pub const TERMS_PER_MESSAGE: usize = 4096;
/// Partial scores per [`step::PARTIAL_SCORES`] message.
pub const SCORES_PER_MESSAGE: usize = 1 << 16;

/// Step numbers.
pub mod step {
    /// Guest → host: [`super::GuestHello`].
    pub const HELLO: u8 = 0x01;
    /// Host → guest: [`super::HostHello`].
    pub const HOST_HELLO: u8 = 0x02;
    /// Both: encrypted terms of a batch.
    pub const TERMS: u8 = 0x03;
    /// Both: the sender's masked, encrypted gradient.
    pub const GRADIENT: u8 = 0x04;
    /// Both: the receiver's masked gradient, decrypted.
    pub const MASKED: u8 = 0x05;
    /// Both: the convergence flag of an epoch.
    pub const EPOCH_END: u8 = 0x06;
    /// Guest → host: prediction request.
    pub const PREDICT_REQUEST: u8 = 0x11;
    /// Host → guest: the host's model id.
    pub const PREDICT_ACK: u8 = 0x12;
    /// Host → guest: partial scores.
    pub const PARTIAL_SCORES: u8 = 0x13;
}

/// The training frame header of `step`.
pub const fn header(step: u8) -> Header {
    Header::new(TRAIN_PROTOCOL_ID, VERSION, step)
}

/// The prediction frame header of `step`.
pub const fn predict_header(step: u8) -> Header {
    Header::new(PREDICT_PROTOCOL_ID, VERSION, step)
}

fn bad(what: &'static str, len: usize, expected: usize) -> LrError {
    LrError::BadMessage {
        what,
        len,
        expected,
    }
}

/// A reader over all of `b`, which must be exactly `expected` bytes ([`LrError::BadMessage`]
/// otherwise): its fields then read without a length error.
fn exact<'a>(b: &'a [u8], what: &'static str, expected: usize) -> Result<Reader<'a>, LrError> {
    let b = Reader::read_all(b, what, |r| r.take(expected))?;
    Ok(Reader::new(b, what))
}

/// The guest's first message. Public (no data, no secret).
#[derive(Clone, Debug, PartialEq)]
pub struct GuestHello {
    /// Id of the model being trained.
    pub model_id: ModelId,
    /// Seed of the mini-batch order.
    pub shuffle_seed: [u8; 32],
    /// Rows of the training set.
    pub rows: u64,
    /// The guest's features (intercept included).
    pub features: u32,
    /// Hyper-parameters.
    pub config: LrConfig,
    /// The guest's encoded public key.
    pub public_key: Vec<u8>,
}

impl GuestHello {
    /// Bytes before the public key.
    pub const FIXED_LEN: usize = 16 + 32 + 8 + 4 + 4 + 4 + 8 + 8 + 8 + 1 + 4;
    /// Largest encoding.
    pub const MAX_LEN: usize = Self::FIXED_LEN + MAX_PUBLIC_KEY_LEN;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::FIXED_LEN + self.public_key.len());
        // The key has at most MAX_PUBLIC_KEY_LEN bytes (our own key).
        w.bytes(&self.model_id.0)
            .bytes(&self.shuffle_seed)
            .u64(self.rows)
            .u32(self.features)
            .u32(self.config.epochs)
            .u32(self.config.batch_size)
            .f64(self.config.learning_rate)
            .f64(self.config.l2)
            .f64(self.config.tol)
            .u8(u8::from(self.config.fit_intercept))
            .bytes_u32(&self.public_key);
        w.into_vec()
    }

    /// Decodes and checks the ranges (not yet the agreement with the host's own settings).
    ///
    /// # Errors
    ///
    /// [`LrError::BadMessage`] for a wrong length, [`LrError::BadHello`] for a value out of
    /// range.
    pub fn decode(b: &[u8]) -> Result<Self, LrError> {
        let mut r = Reader::new(b, "guest hello");
        // The fixed part as a whole first: a short hello is reported against all of it.
        let mut f = r.sub(Self::FIXED_LEN, "guest hello")?;
        let model_id = f.array::<16>()?;
        let shuffle_seed = f.array::<32>()?;
        let (rows, features, epochs, batch_size) = (f.u64()?, f.u32()?, f.u32()?, f.u32()?);
        let (learning_rate, l2, tol) = (f.f64()?, f.f64()?, f.f64()?);
        let fit_intercept = match f.u8()? {
            0 => false,
            1 => true,
            _ => return Err(LrError::BadHello("intercept flag other than 0 or 1")),
        };
        let key_len = f.u32()? as usize;
        if key_len > MAX_PUBLIC_KEY_LEN {
            return Err(LrError::BadHello("public key longer than 8192 bytes"));
        }
        let public_key = r.take(key_len)?;
        r.expect_empty()?;
        if rows == 0 || rows > MAX_ROWS as u64 {
            return Err(LrError::BadHello("row count outside 1..=2^28"));
        }
        if features == 0 || features as usize > MAX_FEATURES {
            return Err(LrError::BadHello("feature count outside 1..=4096"));
        }
        let config = LrConfig {
            learning_rate,
            epochs,
            batch_size,
            l2,
            tol,
            fit_intercept,
        };
        config
            .validate()
            .map_err(|_| LrError::BadHello("hyper-parameters out of range"))?;
        Ok(Self {
            model_id: ModelId(model_id),
            shuffle_seed,
            rows,
            features,
            config,
            public_key: public_key.to_vec(),
        })
    }
}

/// The host's answer to the hello. Public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostHello {
    /// The host's features.
    pub features: u32,
    /// The host's encoded public key.
    pub public_key: Vec<u8>,
}

impl HostHello {
    /// Bytes before the public key.
    pub const FIXED_LEN: usize = 8;
    /// Largest encoding.
    pub const MAX_LEN: usize = Self::FIXED_LEN + MAX_PUBLIC_KEY_LEN;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::FIXED_LEN + self.public_key.len());
        // The key has at most MAX_PUBLIC_KEY_LEN bytes (our own key).
        w.u32(self.features).bytes_u32(&self.public_key);
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`LrError::BadMessage`] for a wrong length, [`LrError::BadHello`] for a value out of
    /// range.
    pub fn decode(b: &[u8]) -> Result<Self, LrError> {
        let mut r = Reader::new(b, "host hello");
        let mut f = r.sub(Self::FIXED_LEN, "host hello")?;
        let (features, key_len) = (f.u32()?, f.u32()? as usize);
        if key_len > MAX_PUBLIC_KEY_LEN {
            return Err(LrError::BadHello("public key longer than 8192 bytes"));
        }
        let public_key = r.take(key_len)?;
        r.expect_empty()?;
        if features == 0 || features as usize > MAX_FEATURES {
            return Err(LrError::BadHello("feature count outside 1..=4096"));
        }
        Ok(Self {
            features,
            public_key: public_key.to_vec(),
        })
    }
}

/// Decodes a peer's public key and checks it is large enough.
///
/// # Errors
///
/// [`LrError::PeerCrypto`] if it does not decode, [`LrError::WeakPeerKey`] if it is too small.
pub fn decode_public_key<P: HePublicKey>(b: &[u8]) -> Result<P, LrError> {
    let pk = P::from_bytes(b).map_err(|source| LrError::PeerCrypto {
        what: "public key",
        source,
    })?;
    if pk.modulus_bits() < super::MIN_MODULUS_BITS
        || pk.plaintext_bits() < super::fixed::REQUIRED_PLAINTEXT_BITS
    {
        return Err(LrError::WeakPeerKey {
            modulus_bits: pk.modulus_bits(),
            plaintext_bits: pk.plaintext_bits(),
        });
    }
    Ok(pk)
}

/// Encodes ciphertexts back to back.
///
/// # Errors
///
/// [`LrError::Crypto`] for a ciphertext of another key size than `pk`'s (nothing would be
/// right to send).
pub fn encode_ciphertexts<P: HePublicKey>(
    pk: &P,
    cts: &[P::Ciphertext],
) -> Result<Vec<u8>, LrError> {
    let mut v = Vec::with_capacity(cts.len() * pk.ciphertext_len());
    for c in cts {
        pk.write_ciphertext(c, &mut v)?;
    }
    Ok(v)
}

/// Decodes exactly `count` ciphertexts of `pk` (length first, then each one's range).
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length, [`LrError::PeerCrypto`] for a ciphertext out of
/// range.
pub fn decode_ciphertexts<P: HePublicKey>(
    pk: &P,
    what: &'static str,
    b: &[u8],
    count: usize,
) -> Result<Vec<P::Ciphertext>, LrError> {
    let len = pk.ciphertext_len();
    if len == 0 {
        return Err(bad(what, b.len(), 0));
    }
    let b = Reader::read_all(b, what, |r| r.take_items(count, len))?;
    b.chunks_exact(len)
        .map(|c| {
            pk.read_ciphertext(c)
                .map_err(|source| LrError::PeerCrypto { what, source })
        })
        .collect()
}

/// Encodes masked gradients (`i128` LE each).
pub fn encode_masked(v: &[i128]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes exactly `count` masked gradients, each below `2^`[`MASKED_BITS`] in magnitude.
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length, [`LrError::PeerValueOutOfRange`] for a value out
/// of range.
pub fn decode_masked(b: &[u8], count: usize) -> Result<Vec<i128>, LrError> {
    let b = Reader::read_all(b, "masked gradient", |r| r.take_items(count, 16))?;
    b.chunks_exact(16)
        .map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            let v = i128::from_le_bytes(a);
            if v.unsigned_abs() >> MASKED_BITS == 0 {
                Ok(v)
            } else {
                Err(LrError::PeerValueOutOfRange("masked gradient"))
            }
        })
        .collect()
}

/// Encodes a convergence flag.
pub fn encode_flag(converged: bool) -> Vec<u8> {
    vec![u8::from(converged)]
}

/// Decodes a convergence flag.
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length, [`LrError::BadHello`] for a byte other than 0
/// or 1.
pub fn decode_flag(b: &[u8]) -> Result<bool, LrError> {
    match Reader::read_all(b, "convergence flag", |r| r.u8())? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(LrError::BadHello("convergence flag other than 0 or 1")),
    }
}

/// Length of a prediction request.
pub const PREDICT_REQUEST_LEN: usize = 24;

/// Encodes a prediction request.
pub fn encode_predict_request(id: &ModelId, rows: u64) -> Vec<u8> {
    let mut w = Writer::with_capacity(PREDICT_REQUEST_LEN);
    w.bytes(&id.0).u64(rows);
    w.into_vec()
}

/// Decodes a prediction request.
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length, [`LrError::BadHello`] for a row count out of
/// range.
pub fn decode_predict_request(b: &[u8]) -> Result<(ModelId, u64), LrError> {
    let mut r = exact(b, "prediction request", PREDICT_REQUEST_LEN)?;
    let (id, rows) = (r.array::<16>()?, r.u64()?);
    if rows == 0 || rows > MAX_ROWS as u64 {
        return Err(LrError::BadHello("row count outside 1..=2^28"));
    }
    Ok((ModelId(id), rows))
}

/// Decodes a model id (the prediction acknowledgement).
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length.
pub fn decode_model_id(b: &[u8]) -> Result<ModelId, LrError> {
    Ok(ModelId(Reader::read_all(b, "model id", |r| r.array())?))
}

/// Encodes partial scores.
pub fn encode_scores(s: &[f64]) -> Vec<u8> {
    let mut w = Writer::with_capacity(8 * s.len());
    for &x in s {
        w.f64(x);
    }
    w.into_vec()
}

/// Decodes exactly `count` finite partial scores.
///
/// # Errors
///
/// [`LrError::BadMessage`] for a wrong length, [`LrError::PeerValueOutOfRange`] for a value
/// that is not finite.
pub fn decode_scores(b: &[u8], count: usize) -> Result<Vec<f64>, LrError> {
    let b = Reader::read_all(b, "partial scores", |r| r.take_items(count, 8))?;
    b.chunks_exact(8)
        .map(|c| {
            let v = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            if v.is_finite() {
                Ok(v)
            } else {
                Err(LrError::PeerValueOutOfRange("partial score not finite"))
            }
        })
        .collect()
}

/// Items in message `i` when `total` items go `per` to a message.
pub fn items_in_message(total: usize, per: usize, i: usize) -> usize {
    total.saturating_sub(i * per).min(per)
}

/// Fuzzing entry point: runs every decoder of partner bytes on `data` (the first byte selects
/// the decoder; the ciphertext and key decoders use a fixed Paillier-2048 key). Must never
/// panic.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    use std::sync::OnceLock;
    use unseen_crypto::he::{HeSecretKey, PaillierPublicKey, PaillierSecretKey};
    static KEY: OnceLock<Option<PaillierPublicKey>> = OnceLock::new();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let key = || {
        KEY.get_or_init(|| {
            PaillierSecretKey::generate_from_seed(2048, [7; 32])
                .ok()
                .map(|k| k.public().clone())
        })
        .as_ref()
    };
    match sel % 9 {
        0 => drop(GuestHello::decode(rest)),
        1 => drop(HostHello::decode(rest)),
        2 => drop(decode_masked(rest, rest.len() / 16)),
        3 => drop(decode_flag(rest)),
        4 => drop(decode_predict_request(rest)),
        5 => drop(decode_model_id(rest)),
        6 => drop(decode_scores(rest, rest.len() / 8)),
        7 => drop(decode_public_key::<PaillierPublicKey>(rest)),
        _ => {
            if let Some(pk) = key() {
                let n = rest.len() / pk.ciphertext_len().max(1);
                drop(decode_ciphertexts(pk, "terms", rest, n));
            }
        }
    }
}
