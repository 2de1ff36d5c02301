//! The client: checks the setup, gets the hint, then per batch of keys blinds, finalizes,
//! queries and opens.
//!
//! 1. [`KeywordClient::accept`] checks the [`Setup`] against the client's suite, AEAD, limits
//!    and mode; [`HintReceiver`] collects the hint (all of it, the changed rows on top of the
//!    client's cached copy, or nothing); [`KeywordSession`] exists only after both.
//! 2. [`KeywordSession::blind`]: `blindedElement = blind · HashToGroup(key)` per key (RFC 9497
//!    `Blind`).
//! 3. [`KeywordSession::query`]: `y = Finalize(key, blind, evaluatedElement)`, the record key and
//!    bucket `b(y)`, and one SimplePIR query for column `b(y)` per key — always `K` queries.
//! 4. [`KeywordSession::recover`]: SimplePIR recovery of every fetched column, then for every key
//!    the AEAD opening of each slot of its column and of every stash entry; those that open are
//!    its records (ordered by their duplicate index), none means absent.
//!
//! In the bucket-revealing mode, [`KeywordSession::reveal_buckets`] replaces step 3 (the buckets
//! go to the server in the clear) and [`KeywordSession::open_buckets`] step 4.

use rand_core::CryptoRng;
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{self, Blind, OprfError, OprfSuite};
use zeroize::Zeroize;

use super::derive::{Derived, derive};
use super::msgs::{self, HintPlan, Setup, step};
use super::storage::HintCache;
use super::{MAX_KEYS, MAX_RECORD_LEN, MAX_SLOTS, entry_len, open_entry};
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

    /// Checks the server's setup against our suite, AEAD, limits and mode; the hint receiver is
    /// the only way on. `cache` is the hint we hold (announced in our hello); `min_keys` is
    /// `Some(k)` in the bucket-revealing mode.
    ///
    /// # Errors
    ///
    /// [`PirError::Mismatch`] for another suite or AEAD, [`PirError::BadSetup`] for a table over
    /// our limits, an impossible shape or a hint plan that does not fit our mode,
    /// [`PirError::NoHintToUpdate`] for changed rows or "no hint" without a matching cached
    /// hint, [`PirError::AnonymityTooLow`].
    pub fn accept(
        self,
        setup: Setup,
        cache: Option<HintCache>,
        min_keys: Option<u32>,
    ) -> Result<HintReceiver<S>, PirError> {
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
        if setup.slots() > self.config.max_slots {
            return Err(PirError::BadSetup("more slots than our limit"));
        }
        let params = setup.params()?;
        if params.hint_bytes() > self.config.max_hint_bytes {
            return Err(PirError::BadSetup("hint larger than our limit"));
        }
        if params.query_bytes() > unseen_channel::MAX_FRAME_LEN
            || params.answer_bytes() > unseen_channel::MAX_FRAME_LEN
            || (setup.buckets / setup.reveal_groups)
                .saturating_mul(setup.bucket_capacity * entry_len(setup.max_record_len))
                > unseen_channel::MAX_FRAME_LEN
        {
            return Err(PirError::BadSetup(
                "a query, answer or bucket exceeds the frame limit",
            ));
        }
        let state = if let Some(required) = min_keys {
            if setup.min_group_keys < required {
                return Err(PirError::AnonymityTooLow {
                    min_group_keys: setup.min_group_keys,
                    required,
                });
            }
            if setup.hint != HintPlan::None {
                return Err(PirError::BadSetup(
                    "a hint sent in the bucket-revealing mode",
                ));
            }
            HintState::NotNeeded
        } else {
            let usable = |c: &HintCache| {
                c.suite == S::ID
                    && c.table_id == setup.table_id
                    && c.seed == setup.seed
                    && c.params == params
                    && c.epoch <= setup.epoch
            };
            match setup.hint {
                HintPlan::Full => HintState::Full(Vec::with_capacity(
                    // Grown as hint messages arrive, so a server that announces a large hint
                    // and sends nothing costs us nothing.
                    params.hint_len().min(msgs::HINT_CHUNK_ROWS * LWE_N),
                )),
                HintPlan::None => match cache {
                    Some(c) if usable(&c) && c.epoch == setup.epoch => HintState::Rows {
                        hint: c.hint,
                        rows: 0,
                    },
                    _ => return Err(PirError::NoHintToUpdate),
                },
                HintPlan::Rows(rows) => match cache {
                    Some(c) if usable(&c) && rows <= params.rows() => {
                        HintState::Rows { hint: c.hint, rows }
                    }
                    _ => return Err(PirError::NoHintToUpdate),
                },
            }
        };
        Ok(HintReceiver {
            setup,
            params,
            state,
            received: 0,
            last_row: None,
            _suite: std::marker::PhantomData,
        })
    }
}

enum HintState {
    /// Bucket-revealing mode.
    NotNeeded,
    /// The whole hint, as it arrives.
    Full(Vec<u32>),
    /// Our cached hint, `rows` of which arrive changed.
    Rows { hint: Hint, rows: usize },
}

/// A client that accepted the setup and is receiving the hint.
pub struct HintReceiver<S: OprfSuite> {
    setup: Setup,
    params: Params,
    state: HintState,
    received: usize,
    last_row: Option<usize>,
    _suite: std::marker::PhantomData<S>,
}

impl<S: OprfSuite> std::fmt::Debug for HintReceiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HintReceiver")
            .field("params", &self.params)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl<S: OprfSuite> HintReceiver<S> {
    /// Hint messages still expected.
    pub fn remaining(&self) -> usize {
        let total = match &self.state {
            HintState::NotNeeded => 0,
            HintState::Full(_) => msgs::hint_messages(&self.params),
            HintState::Rows { rows, .. } => msgs::hint_rows_messages(*rows),
        };
        total - self.received
    }

    /// Step of the next hint message.
    pub fn next_step(&self) -> u8 {
        match self.state {
            HintState::Rows { .. } => step::HINT_ROWS,
            _ => step::HINT,
        }
    }

    /// Exact length of the next hint message.
    pub fn next_len(&self) -> usize {
        match &self.state {
            HintState::NotNeeded => 0,
            HintState::Full(_) => msgs::hint_message_len(&self.params, self.received),
            HintState::Rows { rows, .. } => msgs::hint_rows_message_len(*rows, self.received),
        }
    }

    /// Takes the next hint message.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length or a message beyond the last,
    /// [`PirError::BadHintRow`] for a changed row out of range or order.
    pub fn on_hint(&mut self, b: &[u8]) -> Result<(), PirError> {
        if self.remaining() == 0 {
            return Err(PirError::BadMessage {
                what: "hint chunk",
                len: b.len(),
                expected: 0,
            });
        }
        let i = self.received;
        match &mut self.state {
            HintState::NotNeeded => {}
            HintState::Full(words) => msgs::decode_hint_chunk(&self.params, i, b, words)?,
            HintState::Rows { hint, rows } => {
                let count = msgs::hint_rows_message_len(*rows, i) / (4 + LWE_N * 4);
                self.last_row =
                    msgs::decode_hint_rows(b, count, self.params.rows(), self.last_row, |r, w| {
                        hint.set_row(r, w)
                    })?;
            }
        }
        self.received += 1;
        Ok(())
    }

    /// The session, once every hint message arrived; expands `A` from the seed.
    ///
    /// # Errors
    ///
    /// [`PirError::BadLength`] if the hint is incomplete.
    pub fn finish(self) -> Result<KeywordSession<S>, PirError> {
        if self.remaining() != 0 {
            return Err(PirError::BadLength {
                what: "hint",
                len: self.received,
                expected: self.received + self.remaining(),
            });
        }
        let hint = match self.state {
            HintState::NotNeeded => None,
            HintState::Full(words) => Some(Hint::from_words(&self.params, words)?),
            HintState::Rows { hint, .. } => Some(hint),
        };
        let pir = hint
            .as_ref()
            .map(|_| Client::new(&self.params, &self.setup.seed));
        Ok(KeywordSession {
            setup: self.setup,
            params: self.params,
            pir,
            hint,
            _suite: std::marker::PhantomData,
        })
    }
}

/// A client ready to look up keys: the setup and, in the private mode, the hint and the
/// expanded `A`.
pub struct KeywordSession<S: OprfSuite> {
    setup: Setup,
    params: Params,
    pir: Option<Client>,
    hint: Option<Hint>,
    _suite: std::marker::PhantomData<S>,
}

impl<S: OprfSuite> std::fmt::Debug for KeywordSession<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordSession")
            .field("suite", &S::IDENTIFIER)
            .field("params", &self.params)
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

/// The client's state between [`KeywordSession::query`] (or
/// [`KeywordSession::reveal_buckets`]) and the recovery: the derived record keys and buckets per
/// key, and the SimplePIR secrets.
pub struct PirState {
    derived: Vec<Derived>,
    pir: Option<QueryState>,
}

impl std::fmt::Debug for PirState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PirState({} keys, <redacted>)", self.derived.len())
    }
}

impl PirState {
    /// Keys in the batch.
    pub fn len(&self) -> usize {
        self.derived.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.derived.is_empty()
    }
}

impl<S: OprfSuite> KeywordSession<S> {
    /// The setup.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The SimplePIR parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether this session reveals buckets (no hint, no PIR).
    pub fn reveals_buckets(&self) -> bool {
        self.hint.is_none()
    }

    /// A copy of the hint as a cache for the next session (`None` in the bucket-revealing
    /// mode).
    pub fn hint_cache(&self) -> Option<HintCache> {
        self.hint.as_ref().map(|h| self.cache_of(h.clone()))
    }

    /// The hint as a cache for the next session, without copying it.
    pub fn into_hint_cache(mut self) -> Option<HintCache> {
        let hint = self.hint.take()?;
        Some(self.cache_of(hint))
    }

    fn cache_of(&self, hint: Hint) -> HintCache {
        HintCache {
            suite: S::ID,
            table_id: self.setup.table_id,
            epoch: self.setup.epoch,
            seed: self.setup.seed,
            params: self.params.clone(),
            hint,
        }
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

    /// `Finalize` and derive the record key and bucket of every key.
    fn finalize(&self, state: BlindState<S>, evaluated: &[u8]) -> Result<Vec<Derived>, PirError> {
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
        let m = self.setup.buckets;
        let key_len = self.setup.aead.key_len();
        let derived = ys
            .iter()
            .map(|y| derive::<S::Hash>(y, &self.setup.salt, m, key_len))
            .collect();
        // y gives the record keys.
        ys.iter_mut().for_each(|y| y.as_mut_slice().zeroize());
        Ok(derived)
    }

    /// Step 3: finalizes the evaluated elements (`K · Ne` bytes) into `y`, derives the buckets
    /// and makes one SimplePIR query per key, for the column of its bucket.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length; [`PirError::InvalidElement`] for an element
    /// that does not decode; [`PirError::Config`] in the bucket-revealing mode.
    pub fn query<R: CryptoRng + ?Sized>(
        &self,
        state: BlindState<S>,
        evaluated: &[u8],
        rng: &mut R,
    ) -> Result<(PirState, Vec<Query>), PirError> {
        let Some(pir) = &self.pir else {
            return Err(PirError::Config(
                "a PIR query in a session that reveals buckets".into(),
            ));
        };
        let derived = self.finalize(state, evaluated)?;
        // Record b sits in column b.
        let mut columns: Vec<usize> = derived.iter().map(|d| d.bucket).collect();
        let result = pir.query(&columns, rng);
        columns.zeroize();
        let (qs, queries) = result?;
        Ok((
            PirState {
                derived,
                pir: Some(qs),
            },
            queries,
        ))
    }

    /// Step 4: recovers the fetched columns and opens their slots; returns, per key in batch
    /// order, its records (empty: the key is not in the table).
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
        let (Some(pir), Some(hint)) = (&self.pir, &self.hint) else {
            return Err(PirError::Config(
                "a PIR answer in a session that reveals buckets".into(),
            ));
        };
        let PirState { derived, pir: qs } = state;
        let Some(qs) = qs else {
            return Err(PirError::Config("state of a bucket-revealing batch".into()));
        };
        let columns = pir.recover_columns(qs, hint, answers)?;
        derived
            .iter()
            .zip(&columns)
            .map(|(der, column)| self.open(der, column))
            .collect()
    }

    /// Bytes of one group of buckets in the bucket-revealing mode.
    pub fn group_len(&self) -> usize {
        self.setup.buckets / self.setup.reveal_groups
            * self.setup.bucket_capacity
            * entry_len(self.setup.max_record_len)
    }

    /// Bucket-revealing mode, step 3: finalizes and returns the groups of buckets to send **in
    /// the clear**; the server learns, for each key, the group its bucket is in.
    ///
    /// # Errors
    ///
    /// As [`KeywordSession::query`].
    pub fn reveal_buckets(
        &self,
        state: BlindState<S>,
        evaluated: &[u8],
    ) -> Result<(PirState, Vec<u32>), PirError> {
        let derived = self.finalize(state, evaluated)?;
        let g = self.setup.reveal_groups;
        let groups = derived
            .iter()
            .map(|d| u32::try_from(d.bucket % g).map_err(|_| PirError::Internal("group")))
            .collect::<Result<_, _>>()?;
        Ok((PirState { derived, pir: None }, groups))
    }

    /// Bucket-revealing mode, step 4: opens the slots of each key's group of buckets.
    ///
    /// # Errors
    ///
    /// [`PirError::CountMismatch`], [`PirError::BadMessage`], [`PirError::BadRecord`].
    pub fn open_buckets(
        &self,
        state: PirState,
        buckets: &[Vec<u8>],
    ) -> Result<Vec<Vec<Vec<u8>>>, PirError> {
        if buckets.len() != state.derived.len() {
            return Err(PirError::CountMismatch {
                what: "buckets",
                got: buckets.len(),
                expected: state.derived.len(),
            });
        }
        let expected = self.group_len();
        let g = self.setup.reveal_groups;
        let column = self.setup.bucket_capacity * entry_len(self.setup.max_record_len);
        state
            .derived
            .iter()
            .zip(buckets)
            .map(|(der, b)| {
                if b.len() != expected {
                    return Err(PirError::BadMessage {
                        what: "bucket",
                        len: b.len(),
                        expected,
                    });
                }
                // The group's buckets are b mod g, + g, + 2g, …; ours is among them.
                let j = der.bucket / g;
                let ours = b
                    .get(j * column..(j + 1) * column)
                    .ok_or(PirError::Internal("bucket outside its group"))?;
                self.open(der, ours)
            })
            .collect()
    }

    /// Tries the key's record key on every slot of its bucket (`column`: `C` entries, slot `r`
    /// at table index `r·m + b`) and every stash entry; returns the records that open, by
    /// duplicate index.
    fn open(&self, der: &Derived, column: &[u8]) -> Result<Vec<Vec<u8>>, PirError> {
        let elen = entry_len(self.setup.max_record_len);
        let m = self.setup.buckets as u64;
        let slots = self.setup.slots() as u64;
        let in_bucket = (0u64..)
            .zip(column.chunks_exact(elen))
            .map(|(r, e)| (r * m + der.bucket as u64, e));
        let in_stash = (slots..).zip(self.setup.stash.iter().map(Vec::as_slice));
        let mut found = Vec::new();
        for (index, entry) in in_bucket.chain(in_stash) {
            if let Some(opened) = open_entry(
                self.setup.aead,
                &der.key,
                index,
                entry,
                self.setup.max_record_len,
            ) {
                found.push(opened?);
            }
        }
        found.sort_by_key(|(d, _)| *d);
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }
}
