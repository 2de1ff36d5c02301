//! `run_server` / `run_client`: drive the roles over a [`Channel`].
//!
//! One session: the setup and the hint (once), then batches of at most [`MAX_KEYS`] keys, each
//! `BLINDED → EVALUATED → QUERY… → ANSWER…`, then a `BLINDED` message with count 0 that ends the
//! session. Every receive passes the exact length this step allows as the channel's maximum.

use rand_core::CryptoRng;
use unseen_channel::{Channel, Stats};
use unseen_crypto::oprf::OprfSuite;

use super::msgs::{self, Setup, header, step};
use super::{ClientConfig, KeywordClient, KeywordServer, KeywordSession, MAX_KEYS};
use crate::{Answer, Answers, PirError, Query};

/// What the server saw of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerReport {
    /// Batches answered.
    pub batches: u64,
    /// Keys looked up (the server learns how many, never which).
    pub keys: u64,
    /// Traffic.
    pub stats: Stats,
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOutput {
    /// Per key, in input order, its records (empty: not found).
    pub records: Vec<Vec<Vec<u8>>>,
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

/// Runs the server over `ch` until the client ends the session.
///
/// # Errors
///
/// Any [`PirError`] of the channel, the decoders or the roles; the session is then over.
pub fn run_server<S: OprfSuite, C: Channel>(
    ch: &mut C,
    server: &KeywordServer<S>,
) -> Result<ServerReport, PirError> {
    let params = server.params().clone();
    ch.send(header(step::SETUP), server.setup().encode())?;
    for i in 0..msgs::hint_messages(&params) {
        ch.send(
            header(step::HINT),
            msgs::encode_hint_chunk(server.hint().words(), i),
        )?;
    }
    let (mut batches, mut keys) = (0u64, 0u64);
    loop {
        let b = ch.recv(header(step::BLINDED), msgs::max_blinded_len(S::ENCODED_LEN))?;
        let (count, blinded) = msgs::decode_blinded(&b, S::ENCODED_LEN)?;
        if count == 0 {
            break;
        }
        ch.send(
            header(step::EVALUATED),
            server.blind_evaluate(count, blinded)?,
        )?;
        let total = count * server.queries_per_key();
        let per = msgs::per_message(params.query_bytes());
        let mut queries: Vec<Query> = Vec::with_capacity(total);
        for i in 0..total.div_ceil(per) {
            let n = msgs::items_in_message(total, per, i);
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
        batches += 1;
        keys += count as u64;
    }
    ch.flush()?;
    Ok(ServerReport {
        batches,
        keys,
        stats: ch.stats(),
    })
}

/// Receives the setup and the hint: the client's one-time download.
///
/// # Errors
///
/// As [`KeywordClient::accept`], the decoders and the channel.
pub fn receive_setup<S: OprfSuite, C: Channel>(
    ch: &mut C,
    config: ClientConfig,
) -> Result<KeywordSession<S>, PirError> {
    let client = KeywordClient::<S>::new(config);
    let b = ch.recv(header(step::SETUP), client.max_setup_len())?;
    let mut hint = client.accept(Setup::decode(&b)?)?;
    while hint.remaining() > 0 {
        let b = ch.recv(header(step::HINT), hint.next_len())?;
        hint.on_hint(&b)?;
    }
    hint.finish()
}

/// Looks up `keys` (normalised byte strings, any number; batches of [`MAX_KEYS`]) in a session
/// that has the hint, then ends the session.
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
    let mut records = Vec::with_capacity(keys.len());
    for batch in keys.chunks(MAX_KEYS) {
        let (state, blinded) = session.blind(batch, rng)?;
        ch.send(
            header(step::BLINDED),
            msgs::encode_blinded(batch.len(), &blinded),
        )?;
        let b = ch.recv(header(step::EVALUATED), batch.len() * S::ENCODED_LEN)?;
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

/// Runs the client over `ch`: receives the setup and hint, looks up `keys`, ends the session.
///
/// # Errors
///
/// Any [`PirError`] of the channel, the decoders or the roles.
pub fn run_client<S: OprfSuite, C: Channel, R: CryptoRng + ?Sized>(
    ch: &mut C,
    config: ClientConfig,
    keys: &[&[u8]],
    rng: &mut R,
) -> Result<ClientOutput, PirError> {
    let session = receive_setup::<S, C>(ch, config)?;
    let records = lookup(ch, &session, keys, rng)?;
    Ok(ClientOutput {
        records,
        stats: ch.stats(),
    })
}
