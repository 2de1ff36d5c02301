//! The server: the offline table build and the online steps.
//!
//! Offline ([`KeywordServer::build`]):
//!
//! 1. `y_i = OPRF.Evaluate(skS, key_i)` for every key (RFC 9497 §3.3.1), in parallel.
//! 2. Record `d` of a key (the `d`-th time the key occurs, `d < duplicates`) becomes the cuckoo
//!    item `(y, d)`; with a fresh [`Salt`], derive its record key, nonce and positions
//!    ([`derive`]) and place all items ([`cuckoo::place`]); if the stash overflows, retry with a
//!    new salt (at most [`BUILD_ATTEMPTS`] times).
//! 3. Slot `s` holding item `(y, d)` gets `AEAD.Seal(key, nonce, aad = slot_aad(s), pad(record))`;
//!    stash entry `t` the same with `aad = slot_aad(T + t)`; an empty slot gets random bytes of
//!    the same length, so the table shows only how many slots it has.
//! 4. The slots are the records of a SimplePIR database ([`Database::build_with`]) with a fresh
//!    seed for `A`.
//!
//! Online: `evaluatedElement = skS · blindedElement` for each key of a batch
//! ([`KeywordServer::blind_evaluate`]), then SimplePIR answers ([`KeywordServer::answer`]).

use rand_core::CryptoRng;
use rayon::prelude::*;
use unseen_crypto::aead::{self, AeadAlg};
use unseen_crypto::oprf::{OprfError, OprfSuite, ServerKey};
use zeroize::{Zeroize, Zeroizing};

use super::cuckoo::{self, MAX_STASH};
use super::derive::derive;
use super::msgs::Setup;
use super::{
    HASHES, MAX_DUPLICATES, MAX_KEYS, MAX_RECORD_LEN, MAX_SLOTS, Salt, entry_len, pad_record,
    slot_aad,
};
use crate::{Answers, Database, Hint, Params, PirError, Query, Seed, Server};

/// Cuckoo builds tried (each with a fresh salt) before giving up.
pub const BUILD_ATTEMPTS: usize = 8;

/// Keys per parallel OPRF task.
const OPRF_TASK: usize = 256;

/// What the server chooses for its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// AEAD sealing each record (AES-256-GCM by default, SM4-GCM in the 国密 profile).
    pub aead: AeadAlg,
    /// Longest record; every record is padded to it (public).
    pub max_record_len: usize,
    /// Most records per key, `1..=`[`MAX_DUPLICATES`] (public: the client fetches
    /// `h · duplicates` slots per key).
    pub duplicates: u8,
}

impl TableConfig {
    /// Unique keys, records up to `max_record_len` bytes, sealed with `aead`.
    pub const fn new(aead: AeadAlg, max_record_len: usize) -> Self {
        Self {
            aead,
            max_record_len,
            duplicates: 1,
        }
    }
}

/// The keyword-PIR server: the OPRF key, the sealed table as a SimplePIR database, its hint and
/// the stash. Nothing secret is printed.
pub struct KeywordServer<S: OprfSuite> {
    key: ServerKey<S>,
    setup: Setup,
    db: Database,
    hint: Hint,
}

impl<S: OprfSuite> std::fmt::Debug for KeywordServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordServer")
            .field("suite", &S::IDENTIFIER)
            .field("params", self.db.params())
            .finish_non_exhaustive()
    }
}

impl<S: OprfSuite> KeywordServer<S> {
    /// Builds the table of `entries` (`(normalised key, record)` pairs; a key may repeat up to
    /// `config.duplicates` times, its records then come back in input order).
    ///
    /// # Errors
    ///
    /// [`PirError::Config`] for a record longer than the maximum, a key repeated too often, an
    /// unsupported configuration; [`PirError::Oprf`] for a key the OPRF refuses (over 65535
    /// bytes); [`PirError::Internal`] if [`BUILD_ATTEMPTS`] salts all overflow the stash.
    pub fn build<R: CryptoRng + ?Sized>(
        key: ServerKey<S>,
        entries: &[(&[u8], &[u8])],
        config: TableConfig,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        let slots = cuckoo::slots_for(entries.len())
            .filter(|&s| s <= MAX_SLOTS)
            .ok_or_else(|| {
                PirError::Config(format!(
                    "{} entries need more than {MAX_SLOTS} slots",
                    entries.len()
                ))
            })?;
        Self::build_with_slots(key, entries, config, slots, rng)
    }

    /// [`KeywordServer::build`] with a given number of slots (tests force the stash with it).
    fn build_with_slots<R: CryptoRng + ?Sized>(
        key: ServerKey<S>,
        entries: &[(&[u8], &[u8])],
        config: TableConfig,
        slots: usize,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        check_config(&config)?;
        if let Some((i, (_, r))) = entries
            .iter()
            .enumerate()
            .find(|(_, (_, r))| r.len() > config.max_record_len)
        {
            return Err(PirError::Config(format!(
                "record {i} is {} bytes, at most {} allowed",
                r.len(),
                config.max_record_len
            )));
        }
        // 1. y_i = Evaluate(skS, key_i).
        let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| *k).collect();
        // The outputs give every record key: wiped when the build ends.
        let ys: Vec<Zeroizing<Vec<u8>>> = keys
            .par_chunks(OPRF_TASK)
            .enumerate()
            .map(|(t, chunk)| {
                key.evaluate_batch(chunk)
                    .map(|v| {
                        v.into_iter()
                            .map(|mut y| {
                                let out = Zeroizing::new(y.to_vec());
                                y.as_mut_slice().zeroize();
                                out
                            })
                            .collect::<Vec<_>>()
                    })
                    .map_err(|e| shift_index(e, t * OPRF_TASK))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        // 2. Duplicate index d of every entry.
        let mut seen = std::collections::HashMap::<&[u8], u8>::with_capacity(entries.len());
        let mut dups = Vec::with_capacity(entries.len());
        for (i, k) in keys.iter().enumerate() {
            let d = seen.entry(k).or_insert(0);
            if *d >= config.duplicates {
                return Err(PirError::Config(format!(
                    "key of entry {i} occurs more than {} times",
                    config.duplicates
                )));
            }
            dups.push(*d);
            *d += 1;
        }
        let slots_u64 = slots as u64;
        let key_len = config.aead.key_len();
        let mut placed = None;
        for _ in 0..BUILD_ATTEMPTS {
            let mut salt = Salt([0; 32]);
            rng.fill_bytes(&mut salt.0);
            let positions: Vec<[u64; HASHES]> = ys
                .par_iter()
                .zip(&dups)
                .map(|(y, &d)| derive::<S::Hash>(y, d, &salt, slots_u64, key_len).positions)
                .collect();
            if let Some(p) = cuckoo::place(&positions, slots, rng) {
                placed = Some((salt, p));
                break;
            }
        }
        let Some((salt, placement)) = placed else {
            return Err(PirError::Internal(
                "cuckoo placement overflowed the stash with every salt",
            ));
        };
        // 3. Seal every placed record; random bytes elsewhere.
        let elen = entry_len(config.max_record_len);
        let seal_item = |item: u32, aad_index: u64| -> Result<Vec<u8>, PirError> {
            let i = item as usize;
            let der = derive::<S::Hash>(&ys[i], dups[i], &salt, slots_u64, key_len);
            let pt = pad_record(entries[i].1, config.max_record_len);
            aead::seal(config.aead, &der.key, &der.nonce, &slot_aad(aad_index), &pt)
                .map_err(|_| PirError::Internal("aead seal failed"))
        };
        let mut table: Vec<Vec<u8>> = placement
            .slots
            .par_iter()
            .enumerate()
            .map(|(s, item)| match item {
                Some(item) => seal_item(*item, s as u64).map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|e| {
                e.unwrap_or_else(|| {
                    let mut r = vec![0u8; elen];
                    rng.fill_bytes(&mut r);
                    r
                })
            })
            .collect();
        let stash = (0u64..)
            .zip(&placement.stash)
            .map(|(t, &item)| seal_item(item, slots_u64 + t))
            .collect::<Result<Vec<_>, _>>()?;
        // 4. The slots as a SimplePIR database.
        let params = Params::new(slots, elen)?;
        let mut seed = Seed([0; 32]);
        rng.fill_bytes(&mut seed.0);
        let rows: Vec<&[u8]> = table.iter().map(Vec::as_slice).collect();
        let (db, hint) = Database::build_with(params.clone(), &seed, &rows)?;
        table.clear();
        let setup = Setup {
            suite: S::ID,
            aead: config.aead,
            max_record_len: config.max_record_len,
            duplicates: config.duplicates,
            slots,
            cols: params.cols(),
            seed,
            salt,
            stash,
        };
        Ok(Self {
            key,
            setup,
            db,
            hint,
        })
    }

    /// The setup message's content (parameters, seed, salt, stash).
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The SimplePIR hint the client downloads once.
    pub fn hint(&self) -> &Hint {
        &self.hint
    }

    /// The SimplePIR parameters of the table.
    pub fn params(&self) -> &Params {
        self.db.params()
    }

    /// PIR queries per key: `h · duplicates`.
    pub fn queries_per_key(&self) -> usize {
        HASHES * usize::from(self.setup.duplicates)
    }

    /// `BlindEvaluate` for a batch of `count` blinded elements in the wire format (`count · Ne`
    /// bytes), `count ≤` [`MAX_KEYS`]; returns the evaluated elements in the same format.
    ///
    /// # Errors
    ///
    /// [`PirError::TooManyKeys`], [`PirError::BadMessage`], or [`PirError::InvalidElement`] for
    /// an element that does not decode (non-canonical, off the curve, the identity).
    pub fn blind_evaluate(&self, count: usize, blinded: &[u8]) -> Result<Vec<u8>, PirError> {
        if count > MAX_KEYS {
            return Err(PirError::TooManyKeys {
                got: count,
                max: MAX_KEYS,
            });
        }
        let expected = count * S::ENCODED_LEN;
        if blinded.len() != expected {
            return Err(PirError::BadMessage {
                what: "blinded elements",
                len: blinded.len(),
                expected,
            });
        }
        let mut out = vec![0u8; expected];
        self.key
            .blind_evaluate_batch(blinded, &mut out)
            .map_err(|e| match e {
                OprfError::Deserialize { index, reason } => {
                    PirError::InvalidElement { index, reason }
                }
                e => PirError::Oprf(e),
            })?;
        Ok(out)
    }

    /// SimplePIR answers for a batch of queries (the client sends `h · duplicates` per key).
    ///
    /// # Errors
    ///
    /// As [`Server::answer`].
    pub fn answer(&self, queries: &[Query]) -> Result<Answers, PirError> {
        Server::answer(&self.db, queries)
    }
}

fn check_config(c: &TableConfig) -> Result<(), PirError> {
    if c.max_record_len > MAX_RECORD_LEN {
        return Err(PirError::Config(format!(
            "records of up to {} bytes, at most {MAX_RECORD_LEN} supported",
            c.max_record_len
        )));
    }
    if c.duplicates == 0 || usize::from(c.duplicates) > MAX_DUPLICATES {
        return Err(PirError::Config(format!(
            "{} records per key, must be 1..={MAX_DUPLICATES}",
            c.duplicates
        )));
    }
    debug_assert!(MAX_STASH <= u32::MAX as usize);
    Ok(())
}

/// Moves the index of an OPRF error from a task's chunk to the whole batch.
fn shift_index(e: OprfError, by: usize) -> PirError {
    match e {
        OprfError::InputTooLong { index, len } => PirError::Oprf(OprfError::InputTooLong {
            index: index + by,
            len,
        }),
        OprfError::InvalidInput { index } => {
            PirError::Oprf(OprfError::InvalidInput { index: index + by })
        }
        e => PirError::Oprf(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use unseen_crypto::Ristretto255;

    use super::*;
    use crate::keyword::msgs::{encode_hint_chunk, hint_messages};
    use crate::keyword::{ClientConfig, KeywordClient};

    /// 12 entries in 4 slots: at least 8 land in the stash, which the client tries locally.
    /// Also the roles used without a channel, step by step.
    #[test]
    fn stash_entries_are_found() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let data: Vec<(Vec<u8>, Vec<u8>)> = (0u8..12)
            .map(|i| (vec![b'k', i], vec![i; usize::from(i % 5)]))
            .collect();
        let pairs: Vec<(&[u8], &[u8])> = data.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let key = ServerKey::<Ristretto255>::generate(&mut rng);
        let config = TableConfig::new(AeadAlg::Aes256Gcm, 4);
        let server = KeywordServer::build_with_slots(key, &pairs, config, 4, &mut rng).unwrap();
        assert!(server.setup().stash.len() >= 8);

        let mut hint = KeywordClient::<Ristretto255>::new(ClientConfig::new(AeadAlg::Aes256Gcm))
            .accept(server.setup().clone())
            .unwrap();
        for i in 0..hint_messages(server.params()) {
            hint.on_hint(&encode_hint_chunk(server.hint().words(), i))
                .unwrap();
        }
        let session = hint.finish().unwrap();
        let mut keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| *k).collect();
        keys.push(b"absent");
        let (state, blinded) = session.blind(&keys, &mut rng).unwrap();
        assert_eq!(format!("{state:?}"), "BlindState(13 keys, <redacted>)");
        let evaluated = server.blind_evaluate(keys.len(), &blinded).unwrap();
        let (state, queries) = session.query(state, &evaluated, &mut rng).unwrap();
        assert_eq!(queries.len(), keys.len() * HASHES);
        let answers = server.answer(&queries).unwrap();
        // Nothing secret is printed: no key, no position, no blind.
        for dbg in [
            format!("{state:?}"),
            format!("{session:?}"),
            format!("{server:?}"),
        ] {
            // Keys are [107, i] (b"k", i): their bytes never appear.
            assert!(!dbg.contains("107, ") && dbg.len() < 300, "{dbg}");
        }
        assert_eq!(format!("{state:?}"), "PirState(13 keys, <redacted>)");
        let got = session.recover(state, &answers).unwrap();
        let mut expected: Vec<Vec<Vec<u8>>> = data.iter().map(|(_, v)| vec![v.clone()]).collect();
        expected.push(vec![]);
        assert_eq!(got, expected);
    }

    #[test]
    fn refuses_bad_configurations() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"12345")];
        let build = |config: TableConfig, rng: &mut ChaCha20Rng| {
            let key = ServerKey::<Ristretto255>::generate(rng);
            KeywordServer::build(key, &pairs, config, rng)
        };
        let short = TableConfig::new(AeadAlg::Aes256Gcm, 4);
        assert!(matches!(build(short, &mut rng), Err(PirError::Config(_))));
        let mut zero = TableConfig::new(AeadAlg::Sm4Gcm, 8);
        zero.duplicates = 0;
        assert!(matches!(build(zero, &mut rng), Err(PirError::Config(_))));
        zero.duplicates = 5;
        assert!(matches!(build(zero, &mut rng), Err(PirError::Config(_))));
        let huge = TableConfig::new(AeadAlg::Sm4Gcm, MAX_RECORD_LEN + 1);
        assert!(matches!(build(huge, &mut rng), Err(PirError::Config(_))));
        let long_key = vec![0u8; 70_000];
        let key = ServerKey::<Ristretto255>::generate(&mut rng);
        let e = KeywordServer::build(key, &[(&long_key[..], b"")], short, &mut rng).unwrap_err();
        assert!(
            matches!(e, PirError::Oprf(OprfError::InputTooLong { index: 0, .. })),
            "{e:?}"
        );
    }
}
