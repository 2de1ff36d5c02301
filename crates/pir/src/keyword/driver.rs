//! `run_server` / `run_client`: drive the roles over a [`Channel`].
//!
//! One session: the client's hello; the setup and the hint (all of it, the rows changed since
//! the client's copy, or none); then batches of at most [`MAX_KEYS`] keys, each
//! `BLINDED → EVALUATED → QUERY… → ANSWER…` (or, revealing buckets, `BUCKETS → BUCKET…`), then a
//! `BLINDED` message with count 0 that ends the session. Every receive passes the exact length
//! this step allows as the channel's maximum.

use rand_core::CryptoRng;
use unseen_channel::{Channel, Stats};
use unseen_crypto::oprf::OprfSuite;

use super::msgs::{self, Hello, HintPlan, Setup, header, step};
use super::storage::HintCache;
use super::{ClientConfig, KeywordClient, KeywordServer, KeywordSession, MAX_KEYS, entry_len};
use crate::{Answer, Answers, PirError, Query};

/// How the client looks keys up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupMode {
    /// PIR: the server learns nothing about the keys but their number.
    Private,
    /// Opt-in, cheaper, **leaks the bucket**: the client sends each key's group of buckets in
    /// the clear and downloads the group; the server learns that the key is one of that group's
    /// keys (the server picks the finest grouping in which every group holds at least
    /// `min_keys` keys; if even the whole table holds fewer, the client refuses) or absent. No
    /// hint, no PIR.
    RevealBucket {
        /// Fewest keys a bucket must hold for the client to go on.
        min_keys: u32,
    },
}

/// Limits the server enforces on a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most keys (OPRF evaluations) the client may look up in this session.
    pub max_keys: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self { max_keys: u64::MAX }
    }
}

/// Which hint went to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintSent {
    /// None (the client's copy was current, or it revealed buckets).
    None,
    /// The whole hint.
    Full,
    /// This many changed rows.
    Rows(usize),
}

impl From<HintPlan> for HintSent {
    fn from(p: HintPlan) -> Self {
        match p {
            HintPlan::None => Self::None,
            HintPlan::Full => Self::Full,
            HintPlan::Rows(n) => Self::Rows(n),
        }
    }
}

/// What the server saw of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerReport {
    /// Batches answered.
    pub batches: u64,
    /// Keys looked up (the server learns how many, never which).
    pub keys: u64,
    /// The client's mode.
    pub mode: LookupMode,
    /// The hint sent.
    pub hint: HintSent,
    /// Traffic.
    pub stats: Stats,
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOutput {
    /// Per key, in input order, its records (empty: not found).
    pub records: Vec<Vec<Vec<u8>>>,
    /// The table's public metadata.
    pub metadata: Vec<u8>,
    /// The hint received.
    pub hint: HintSent,
    /// The hint to keep for the next session (private mode).
    pub cache: Option<HintCache>,
    /// Traffic.
    pub stats: Stats,
}

/// Sends `items` (each already encoded) in messages of `per` items.
fn send_chunked<C: Channel>(
    ch: &mut C,
    s: u8,
    items: impl Iterator<Item = Vec<u8>>,
    per: usize,
) -> Result<(), PirError> {
    let mut buf = Vec::new();
    let mut n = 0;
    for it in items {
        buf.extend_from_slice(&it);
        n += 1;
        if n == per {
            ch.send(header(s), std::mem::take(&mut buf))?;
            n = 0;
        }
    }
    if n > 0 {
        ch.send(header(s), buf)?;
    }
    Ok(())
}

/// The setup the server sends for `hello`, and the changed rows if it sends rows.
fn plan<S: OprfSuite>(server: &KeywordServer<S>, hello: &Hello) -> (Setup, Vec<usize>) {
    let (reveal_groups, min_group_keys) = if hello.reveal_bucket {
        server.reveal_groups(hello.min_keys)
    } else {
        (server.layout.buckets, server.min_bucket_keys())
    };
    let (hint, rows) = if hello.reveal_bucket {
        (HintPlan::None, Vec::new())
    } else {
        match hello.cached {
            Some((id, epoch)) if id == server.table_id && epoch <= server.epoch => {
                let rows = server.rows_changed_since(epoch);
                // Rows cost 4 bytes more each than in the full hint: above half, send it all.
                if rows.is_empty() {
                    (HintPlan::None, rows)
                } else if rows.len() * 2 <= server.params().rows() {
                    (HintPlan::Rows(rows.len()), rows)
                } else {
                    (HintPlan::Full, Vec::new())
                }
            }
            _ => (HintPlan::Full, Vec::new()),
        }
    };
    let elen = entry_len(server.config.max_record_len);
    let stash = server
        .stash
        .chunks_exact(elen)
        .map(<[u8]>::to_vec)
        .collect();
    let setup = Setup {
        suite: S::ID,
        aead: server.config.aead,
        duplicates: server.config.duplicates,
        hint,
        max_record_len: server.config.max_record_len,
        buckets: server.layout.buckets,
        bucket_capacity: server.layout.capacity,
        seed: server.seed,
        salt: server.salt,
        table_id: server.table_id,
        epoch: server.epoch,
        reveal_groups,
        // At most 2^28 keys.
        min_group_keys: u32::try_from(min_group_keys).unwrap_or(u32::MAX),
        metadata: server.metadata.clone(),
        stash,
    };
    (setup, rows)
}

/// Runs the server over `ch` until the client ends the session.
///
/// # Errors
///
/// Any [`PirError`] of the channel, the decoders or the roles; [`PirError::QuotaExceeded`] when
/// a batch would take the session beyond `limits.max_keys` (nothing of it is evaluated). The
/// session is then over.
pub fn run_server<S: OprfSuite, C: Channel>(
    ch: &mut C,
    server: &KeywordServer<S>,
    limits: &ServerLimits,
) -> Result<ServerReport, PirError> {
    let params = server.params().clone();
    let hello = Hello::decode(&ch.recv(header(step::HELLO), Hello::LEN)?)?;
    let (setup, rows) = plan(server, &hello);
    let hint = setup.hint;
    let groups_setup = setup.reveal_groups;
    ch.send(header(step::SETUP), setup.encode())?;
    match hint {
        HintPlan::None => {}
        HintPlan::Full => {
            for i in 0..msgs::hint_messages(&params) {
                ch.send(
                    header(step::HINT),
                    msgs::encode_hint_chunk(server.hint().words(), i),
                )?;
            }
        }
        HintPlan::Rows(n) => {
            for i in 0..msgs::hint_rows_messages(n) {
                ch.send(
                    header(step::HINT_ROWS),
                    msgs::encode_hint_rows(server.hint().words(), &rows, i),
                )?;
            }
        }
    }
    let groups = groups_setup;
    let mode = if hello.reveal_bucket {
        LookupMode::RevealBucket {
            min_keys: hello.min_keys,
        }
    } else {
        LookupMode::Private
    };
    let (mut batches, mut keys) = (0u64, 0u64);
    loop {
        let b = ch.recv(header(step::BLINDED), msgs::max_blinded_len(S::ENCODED_LEN))?;
        let (count, blinded) = msgs::decode_blinded(&b, S::ENCODED_LEN)?;
        if count == 0 {
            break;
        }
        let used = keys + count as u64;
        if used > limits.max_keys {
            return Err(PirError::QuotaExceeded {
                used,
                allowed: limits.max_keys,
            });
        }
        ch.send(
            header(step::EVALUATED),
            server.blind_evaluate(count, blinded)?,
        )?;
        if hello.reveal_bucket {
            let b = ch.recv(header(step::BUCKETS), msgs::max_buckets_len())?;
            for group in msgs::decode_buckets(&b, count, groups)? {
                ch.send(header(step::BUCKET), server.group(group, groups)?)?;
            }
        } else {
            let per = msgs::per_message(params.query_bytes());
            let mut queries: Vec<Query> = Vec::with_capacity(count);
            for i in 0..count.div_ceil(per) {
                let n = msgs::items_in_message(count, per, i);
                let b = ch.recv(header(step::QUERY), n * params.query_bytes())?;
                queries.extend(msgs::decode_queries(&params, n, &b)?);
            }
            let answers = server.answer(&queries)?;
            let per = msgs::per_message(params.answer_bytes());
            send_chunked(
                ch,
                step::ANSWER,
                answers.as_slice().iter().map(Answer::to_bytes),
                per,
            )?;
        }
        batches += 1;
        keys = used;
    }
    ch.flush()?;
    Ok(ServerReport {
        batches,
        keys,
        mode,
        hint: hint.into(),
        stats: ch.stats(),
    })
}

/// Sends the hello, receives the setup and the hint: the client's one-time download (or the
/// rows changed since `cache`).
///
/// # Errors
///
/// As [`KeywordClient::accept`], the decoders and the channel.
pub fn receive_setup<S: OprfSuite, C: Channel>(
    ch: &mut C,
    config: ClientConfig,
    mode: LookupMode,
    cache: Option<HintCache>,
) -> Result<KeywordSession<S>, PirError> {
    let (reveal, min_keys) = match mode {
        LookupMode::Private => (false, None),
        LookupMode::RevealBucket { min_keys } => (true, Some(min_keys)),
    };
    let hello = Hello {
        reveal_bucket: reveal,
        min_keys: min_keys.unwrap_or(0),
        cached: if reveal {
            None
        } else {
            cache.as_ref().map(HintCache::version)
        },
    };
    ch.send(header(step::HELLO), hello.encode())?;
    let client = KeywordClient::<S>::new(config);
    let b = ch.recv(header(step::SETUP), client.max_setup_len())?;
    let mut hint = client.accept(Setup::decode(&b)?, cache, min_keys)?;
    while hint.remaining() > 0 {
        let b = ch.recv(header(hint.next_step()), hint.next_len())?;
        hint.on_hint(&b)?;
    }
    hint.finish()
}

/// Looks up `keys` (normalised byte strings, any number; batches of [`MAX_KEYS`]) in a session
/// that has its setup, then ends the session.
///
/// # Errors
///
/// Any [`PirError`] of the channel, the decoders or the roles.
pub fn lookup<S: OprfSuite, C: Channel, R: CryptoRng + ?Sized>(
    ch: &mut C,
    session: &KeywordSession<S>,
    keys: &[&[u8]],
    rng: &mut R,
) -> Result<Vec<Vec<Vec<u8>>>, PirError> {
    let params = session.params().clone();
    let reveal = session.reveals_buckets();
    let bucket_len = session.group_len();
    let mut records = Vec::with_capacity(keys.len());
    for batch in keys.chunks(MAX_KEYS) {
        let (state, blinded) = session.blind(batch, rng)?;
        ch.send(
            header(step::BLINDED),
            msgs::encode_blinded(batch.len(), &blinded),
        )?;
        let b = ch.recv(header(step::EVALUATED), batch.len() * S::ENCODED_LEN)?;
        if reveal {
            let (state, buckets) = session.reveal_buckets(state, &b)?;
            ch.send(header(step::BUCKETS), msgs::encode_buckets(&buckets))?;
            let mut got = Vec::with_capacity(buckets.len());
            for _ in &buckets {
                got.push(ch.recv(header(step::BUCKET), bucket_len)?);
            }
            records.extend(session.open_buckets(state, &got)?);
            continue;
        }
        let (state, queries) = session.query(state, &b, rng)?;
        let per = msgs::per_message(params.query_bytes());
        send_chunked(ch, step::QUERY, queries.iter().map(Query::to_bytes), per)?;
        let total = queries.len();
        let per = msgs::per_message(params.answer_bytes());
        let mut answers = Vec::with_capacity(total);
        for i in 0..total.div_ceil(per) {
            let n = msgs::items_in_message(total, per, i);
            let b = ch.recv(header(step::ANSWER), n * params.answer_bytes())?;
            answers.extend(msgs::decode_answers(&params, n, &b)?);
        }
        records.extend(session.recover(state, &Answers::new(answers))?);
    }
    ch.send(header(step::BLINDED), msgs::encode_blinded(0, &[]))?;
    ch.flush()?;
    Ok(records)
}

/// Runs the client over `ch`: hello, setup and hint (or the rows changed since `cache`), looks
/// up `keys`, ends the session.
///
/// # Errors
///
/// Any [`PirError`] of the channel, the decoders or the roles.
pub fn run_client<S: OprfSuite, C: Channel, R: CryptoRng + ?Sized>(
    ch: &mut C,
    config: ClientConfig,
    mode: LookupMode,
    cache: Option<HintCache>,
    keys: &[&[u8]],
    rng: &mut R,
) -> Result<ClientOutput, PirError> {
    let session = receive_setup::<S, C>(ch, config, mode, cache)?;
    let records = lookup(ch, &session, keys, rng)?;
    let metadata = session.setup().metadata.clone();
    let hint = session.setup().hint.into();
    Ok(ClientOutput {
        records,
        metadata,
        hint,
        cache: session.into_hint_cache(),
        stats: ch.stats(),
    })
}
