//! The client: checks the setup, then per batch of keys blinds, finalizes, queries and opens.
//!
//! 1. [`KeywordClient::accept`] checks the [`Setup`] against the client's suite, AEAD and
//!    limits; [`HintReceiver`] collects the hint; [`KeywordSession`] exists only after both.
//! 2. [`KeywordSession::blind`]: `blindedElement = blind · HashToGroup(key)` per key (RFC 9497
//!    `Blind`).
//! 3. [`KeywordSession::query`]: `y = Finalize(key, blind, evaluatedElement)`, then for every
//!    `d < duplicates` the `h` positions of `(y, d)`, and one SimplePIR query per position —
//!    always `K · h · duplicates` queries, whatever the keys.
//! 4. [`KeywordSession::recover`]: SimplePIR recovery of every fetched slot, then for every
//!    `(key, d)` the AEAD opening of its `h` slots and of every stash entry with the key and
//!    nonce of `(y, d)`; the one that opens is record `d` of the key, none means it has no
//!    record `d`.

use rand_core::CryptoRng;
use unseen_crypto::aead::{self, AeadAlg};
use unseen_crypto::oprf::{self, Blind, OprfError, OprfSuite};
use zeroize::Zeroize;

use super::derive::{Derived, derive};
use super::msgs::{self, Setup};
use super::{HASHES, MAX_KEYS, MAX_RECORD_LEN, MAX_SLOTS, slot_aad, unpad_record};
use crate::params::LWE_N;
use crate::{Answers, Client, Hint, Params, PirError, Query, QueryState};

/// The client's expectations and limits, checked against the server's setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The AEAD the client expects.
    pub aead: AeadAlg,
    /// Refuse records longer than this.
    pub max_record_len: usize,
    /// Refuse tables with more slots than this.
    pub max_slots: usize,
    /// Refuse a hint larger than this many bytes (the client allocates it).
    pub max_hint_bytes: usize,
}

impl ClientConfig {
    /// Defaults: records up to 65535 bytes, up to 2^28 slots, a hint of at most 1 GiB.
    pub const fn new(aead: AeadAlg) -> Self {
        Self {
            aead,
            max_record_len: MAX_RECORD_LEN,
            max_slots: MAX_SLOTS,
            max_hint_bytes: 1 << 30,
        }
    }
}

/// A client before the setup.
#[derive(Debug)]
pub struct KeywordClient<S: OprfSuite> {
    config: ClientConfig,
    _suite: std::marker::PhantomData<S>,
}

impl<S: OprfSuite> KeywordClient<S> {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            _suite: std::marker::PhantomData,
        }
    }

    /// Largest setup message this client accepts.
    pub fn max_setup_len(&self) -> usize {
        Setup::max_len(self.config.max_record_len)
    }

    /// Checks the server's setup against our suite, AEAD and limits; the hint receiver is the
    /// only way on.
    ///
    /// # Errors
    ///
    /// [`PirError::Mismatch`] for another suite or AEAD, [`PirError::BadSetup`] for a table over
    /// our limits or an impossible shape.
    pub fn accept(self, setup: Setup) -> Result<HintReceiver<S>, PirError> {
        if setup.suite != S::ID {
            return Err(PirError::Mismatch {
                what: "OPRF suite",
                ours: S::IDENTIFIER.to_owned(),
                theirs: setup.suite.to_string(),
            });
        }
        if setup.aead != self.config.aead {
            return Err(PirError::Mismatch {
                what: "AEAD",
                ours: format!("{:?}", self.config.aead),
                theirs: format!("{:?}", setup.aead),
            });
        }
        if setup.max_record_len > self.config.max_record_len {
            return Err(PirError::BadSetup("records longer than our limit"));
        }
        if setup.slots > self.config.max_slots {
            return Err(PirError::BadSetup("more slots than our limit"));
        }
        let params = setup.params()?;
        if params.hint_bytes() > self.config.max_hint_bytes {
            return Err(PirError::BadSetup("hint larger than our limit"));
        }
        if params.query_bytes() > unseen_channel::MAX_FRAME_LEN
            || params.answer_bytes() > unseen_channel::MAX_FRAME_LEN
        {
            return Err(PirError::BadSetup(
                "a query or answer exceeds the frame limit",
            ));
        }
        Ok(HintReceiver {
            // Grown as hint messages arrive, so a server that announces a large hint and sends
            // nothing costs us nothing.
            words: Vec::with_capacity(params.hint_len().min(msgs::HINT_CHUNK_ROWS * LWE_N)),
            received: 0,
            params,
            setup,
            _suite: std::marker::PhantomData,
        })
    }
}

/// A client that accepted the setup and is receiving the hint.
#[derive(Debug)]
pub struct HintReceiver<S: OprfSuite> {
    setup: Setup,
    params: Params,
    words: Vec<u32>,
    received: usize,
    _suite: std::marker::PhantomData<S>,
}

impl<S: OprfSuite> HintReceiver<S> {
    /// Hint messages still expected.
    pub fn remaining(&self) -> usize {
        msgs::hint_messages(&self.params) - self.received
    }

    /// Exact length of the next hint message.
    pub fn next_len(&self) -> usize {
        msgs::hint_message_len(&self.params, self.received)
    }

    /// Takes the next hint message.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length or a message beyond the last.
    pub fn on_hint(&mut self, b: &[u8]) -> Result<(), PirError> {
        if self.remaining() == 0 {
            return Err(PirError::BadMessage {
                what: "hint chunk",
                len: b.len(),
                expected: 0,
            });
        }
        msgs::decode_hint_chunk(&self.params, self.received, b, &mut self.words)?;
        self.received += 1;
        Ok(())
    }

    /// The session, once every hint message arrived; expands `A` from the seed.
    ///
    /// # Errors
    ///
    /// [`PirError::BadLength`] if the hint is incomplete.
    pub fn finish(self) -> Result<KeywordSession<S>, PirError> {
        let hint = Hint::from_words(&self.params, self.words)?;
        let pir = Client::new(&self.params, &self.setup.seed);
        Ok(KeywordSession {
            setup: self.setup,
            pir,
            hint,
            _suite: std::marker::PhantomData,
        })
    }
}

/// A client ready to look up keys: the setup, the hint and the expanded `A`.
pub struct KeywordSession<S: OprfSuite> {
    setup: Setup,
    pir: Client,
    hint: Hint,
    _suite: std::marker::PhantomData<S>,
}

impl<S: OprfSuite> std::fmt::Debug for KeywordSession<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordSession")
            .field("suite", &S::IDENTIFIER)
            .field("params", self.pir.params())
            .finish_non_exhaustive()
    }
}

/// The client's state between [`KeywordSession::blind`] and [`KeywordSession::query`]: the keys
/// and their blinds (secret; blinds wipe themselves).
pub struct BlindState<S: OprfSuite> {
    keys: Vec<zeroize::Zeroizing<Vec<u8>>>,
    blinds: Vec<Blind<S>>,
}

impl<S: OprfSuite> std::fmt::Debug for BlindState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindState({} keys, <redacted>)", self.keys.len())
    }
}

impl<S: OprfSuite> BlindState<S> {
    /// Keys in the batch.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The client's state between [`KeywordSession::query`] and [`KeywordSession::recover`]: the
/// derived record keys, nonces and positions per `(key, d)`, and the SimplePIR secrets.
pub struct PirState {
    keys: usize,
    derived: Vec<Derived>,
    pir: QueryState,
}

impl std::fmt::Debug for PirState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PirState({} keys, <redacted>)", self.keys)
    }
}

impl PirState {
    /// SimplePIR queries (and so answers) in the batch.
    pub fn queries(&self) -> usize {
        self.pir.len()
    }
}

impl<S: OprfSuite> KeywordSession<S> {
    /// The setup.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The SimplePIR parameters.
    pub fn params(&self) -> &Params {
        self.pir.params()
    }

    /// PIR queries per key: `h · duplicates`.
    pub fn queries_per_key(&self) -> usize {
        HASHES * usize::from(self.setup.duplicates)
    }

    /// Step 2: blinds up to [`MAX_KEYS`] keys; returns the state and the elements' encodings
    /// back to back (`K · Ne` bytes).
    ///
    /// # Errors
    ///
    /// [`PirError::TooManyKeys`]; [`PirError::Oprf`] for a key over 65535 bytes.
    pub fn blind<R: CryptoRng + ?Sized>(
        &self,
        keys: &[&[u8]],
        rng: &mut R,
    ) -> Result<(BlindState<S>, Vec<u8>), PirError> {
        if keys.len() > MAX_KEYS {
            return Err(PirError::TooManyKeys {
                got: keys.len(),
                max: MAX_KEYS,
            });
        }
        let (blinds, encoded) = oprf::blind_batch::<S, R>(keys, rng)?;
        let keys = keys
            .iter()
            .map(|k| zeroize::Zeroizing::new(k.to_vec()))
            .collect();
        Ok((BlindState { keys, blinds }, encoded))
    }

    /// Step 3: finalizes the evaluated elements (`K · Ne` bytes) into `y`, derives the
    /// positions and makes the `K · h · duplicates` SimplePIR queries, ordered by key, then
    /// duplicate index, then hash function.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length; [`PirError::InvalidElement`] for an element
    /// that does not decode.
    pub fn query<R: CryptoRng + ?Sized>(
        &self,
        state: BlindState<S>,
        evaluated: &[u8],
        rng: &mut R,
    ) -> Result<(PirState, Vec<Query>), PirError> {
        let expected = state.keys.len() * S::ENCODED_LEN;
        if evaluated.len() != expected {
            return Err(PirError::BadMessage {
                what: "evaluated elements",
                len: evaluated.len(),
                expected,
            });
        }
        let inputs: Vec<&[u8]> = state.keys.iter().map(|k| k.as_slice()).collect();
        let mut ys =
            oprf::finalize_batch::<S>(&inputs, &state.blinds, evaluated).map_err(|e| match e {
                OprfError::Deserialize { index, reason } => {
                    PirError::InvalidElement { index, reason }
                }
                e => PirError::Oprf(e),
            })?;
        let slots = self.setup.slots as u64;
        let key_len = self.setup.aead.key_len();
        let mut derived = Vec::with_capacity(ys.len() * usize::from(self.setup.duplicates));
        let mut indices = Vec::with_capacity(ys.len() * self.queries_per_key());
        for y in &ys {
            for d in 0..self.setup.duplicates {
                let der = derive::<S::Hash>(y, d, &self.setup.salt, slots, key_len);
                // Positions are < slots, itself a usize.
                indices.extend(
                    der.positions
                        .iter()
                        .map(|&p| usize::try_from(p).unwrap_or(0)),
                );
                derived.push(der);
            }
        }
        let keys = ys.len();
        // y gives the record keys; the positions say which slots are asked for.
        ys.iter_mut().for_each(|y| y.as_mut_slice().zeroize());
        let result = self.pir.query(&indices, rng);
        indices.zeroize();
        let (pir, queries) = result?;
        Ok((PirState { keys, derived, pir }, queries))
    }

    /// Step 4: recovers the fetched slots and opens them; returns, per key in batch order, its
    /// records (empty: the key is not in the table).
    ///
    /// # Errors
    ///
    /// [`PirError::CountMismatch`] / [`PirError::BadLength`] for answers of the wrong number or
    /// length; [`PirError::BadRecord`] if an entry opens but its padding is malformed.
    pub fn recover(
        &self,
        state: PirState,
        answers: &Answers,
    ) -> Result<Vec<Vec<Vec<u8>>>, PirError> {
        let PirState { keys, derived, pir } = state;
        let slots = self.pir.recover(pir, &self.hint, answers)?;
        let max = self.setup.max_record_len;
        let dup = usize::from(self.setup.duplicates);
        let mut out = vec![Vec::new(); keys];
        for (i, der) in derived.iter().enumerate() {
            let fetched = &slots[i * HASHES..(i + 1) * HASHES];
            let in_table = der.positions.iter().zip(fetched).map(|(&p, e)| (p, e));
            let stash_base = self.setup.slots as u64;
            let in_stash = (stash_base..).zip(&self.setup.stash);
            let opened = in_table.chain(in_stash).find_map(|(aad_index, entry)| {
                aead::open(
                    self.setup.aead,
                    &der.key,
                    &der.nonce,
                    &slot_aad(aad_index),
                    entry,
                )
                .ok()
            });
            if let Some(pt) = opened {
                let pt = zeroize::Zeroizing::new(pt);
                out[i / dup].push(unpad_record(&pt, max)?);
            }
        }
        Ok(out)
    }
}
