//! `run_guest` / `run_host` (training) and `run_predict_guest` / `run_predict_host`
//! (prediction): drive the roles over a [`Channel`].
//!
//! Training: `HELLO → HOST_HELLO`, then per mini-batch both parties send at once and then
//! receive: `TERMS…` (both ways), `GRADIENT` (both ways), `MASKED` (both ways); after each epoch
//! `EPOCH_END` (both ways). Every receive passes the exact length of that step as the channel's
//! maximum.
//!
//! Prediction: `PREDICT_REQUEST → PREDICT_ACK → PARTIAL_SCORES…`. The guest learns the host's
//! partial score `u_B` of every row it asks for; since it learns the score `σ(u_A + u_B)` and
//! knows `u_A`, this is exactly what the output itself reveals (see the protocol document).

use rand_core::CryptoRng;
use unseen_channel::{Channel, Stats};
use unseen_crypto::he::{HePublicKey, HeSecretKey};

use super::fixed;
use super::msgs::{self, GuestHello, HostHello, header, predict_header, step};
use super::train::{LrGuest, LrHost};
use super::{LrConfig, LrError, LrGuestModel, LrHostModel};

/// What a training run did (public to both parties).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: u32,
    /// Whether both parties' weights converged before the epoch limit.
    pub converged: bool,
    /// The shared seed of the mini-batch order (a plaintext run with it gives the same batches).
    pub shuffle_seed: [u8; 32],
    /// Traffic.
    pub stats: Stats,
}

/// The guest's result.
#[derive(Debug)]
pub struct GuestOutput {
    /// The guest's model part.
    pub model: LrGuestModel,
    /// The run.
    pub report: TrainReport,
}

/// The host's result.
#[derive(Debug)]
pub struct HostOutput {
    /// The host's model part.
    pub model: LrHostModel,
    /// The run.
    pub report: TrainReport,
}

/// What a prediction session did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredictReport {
    /// Rows scored.
    pub rows: u64,
    /// Traffic.
    pub stats: Stats,
}

/// The per-batch exchange, the same for both roles (`$role` is an `LrGuest` or `LrHost`).
macro_rules! train_loop {
    ($ch:expr, $role:expr, $rng:expr) => {{
        let (ch, role, rng) = ($ch, $role, $rng);
        loop {
            while !role.epoch_done() {
                let own = role.start_batch()?;
                let own_pk = role.own_key().clone();
                let peer_pk = role.peer_key()?.clone();
                // Both parties send before they receive: at most 2^16 / 4096 = 16 frames per
                // batch, within the TCP channel's send queue (32 frames), so neither blocks.
                for chunk in own.chunks(msgs::TERMS_PER_MESSAGE) {
                    ch.send(
                        header(step::TERMS),
                        msgs::encode_ciphertexts(&own_pk, chunk)?,
                    )?;
                }
                let rows = role.batch_len();
                let ct = peer_pk.ciphertext_len();
                let mut terms = Vec::with_capacity(rows);
                for i in 0..rows.div_ceil(msgs::TERMS_PER_MESSAGE) {
                    let n = msgs::items_in_message(rows, msgs::TERMS_PER_MESSAGE, i);
                    let b = ch.recv(header(step::TERMS), n * ct)?;
                    terms.extend(msgs::decode_ciphertexts(&peer_pk, "terms", &b, n)?);
                }
                let grad = role.on_peer_terms(&terms, rng)?;
                ch.send(
                    header(step::GRADIENT),
                    msgs::encode_ciphertexts(&peer_pk, &grad)?,
                )?;
                let packed = fixed::packed_count(role.peer_features(), own_pk.plaintext_bits());
                let b = ch.recv(header(step::GRADIENT), packed * own_pk.ciphertext_len())?;
                let cts = msgs::decode_ciphertexts(&own_pk, "gradient", &b, packed)?;
                let peer_masked = role.on_peer_gradient(&cts)?;
                ch.send(header(step::MASKED), msgs::encode_masked(&peer_masked))?;
                let d = role.features();
                let b = ch.recv(header(step::MASKED), 16 * d)?;
                role.on_masked(&msgs::decode_masked(&b, d)?)?;
            }
            let flag = role.end_epoch()?;
            ch.send(header(step::EPOCH_END), msgs::encode_flag(flag))?;
            let peer = msgs::decode_flag(&ch.recv(header(step::EPOCH_END), 1)?)?;
            if role.on_peer_flag(peer)? {
                break;
            }
        }
        ch.flush()?;
        Ok::<(), LrError>(())
    }};
}

/// Trains as the guest: `features` (raw, rows × guest columns, aligned with the host's rows),
/// `labels` (`true` = positive), the guest's own key pair.
///
/// # Errors
///
/// Any [`LrError`] of the channel, the decoders or the role.
pub fn run_guest<S: HeSecretKey, C: Channel, R: CryptoRng + ?Sized>(
    ch: &mut C,
    config: LrConfig,
    features: &[Vec<f64>],
    labels: &[bool],
    key: &S,
    rng: &mut R,
) -> Result<GuestOutput, LrError> {
    let mut g = LrGuest::new(config, features, labels, key, rng)?;
    ch.send(header(step::HELLO), g.hello().encode())?;
    let h = HostHello::decode(&ch.recv(header(step::HOST_HELLO), HostHello::MAX_LEN)?)?;
    g.on_host_hello(&h)?;
    train_loop!(&mut *ch, &mut g, &mut *rng)?;
    let report = TrainReport {
        epochs: g.epoch(),
        converged: g.converged(),
        shuffle_seed: g.shuffle_seed(),
        stats: ch.stats(),
    };
    Ok(GuestOutput {
        model: g.into_model()?,
        report,
    })
}

/// Trains as the host: `features` (raw, rows × host columns, aligned with the guest's rows), the
/// host's own key pair; `config` must equal the guest's.
///
/// # Errors
///
/// Any [`LrError`] of the channel, the decoders or the role.
pub fn run_host<S: HeSecretKey, C: Channel, R: CryptoRng + ?Sized>(
    ch: &mut C,
    config: LrConfig,
    features: &[Vec<f64>],
    key: &S,
    rng: &mut R,
) -> Result<HostOutput, LrError> {
    let mut h = LrHost::new(config, features, key)?;
    let hello = GuestHello::decode(&ch.recv(header(step::HELLO), GuestHello::MAX_LEN)?)?;
    let answer = h.on_guest_hello(&hello)?;
    ch.send(header(step::HOST_HELLO), answer.encode())?;
    train_loop!(&mut *ch, &mut h, &mut *rng)?;
    let report = TrainReport {
        epochs: h.epoch(),
        converged: h.converged(),
        shuffle_seed: h.shuffle_seed(),
        stats: ch.stats(),
    };
    Ok(HostOutput {
        model: h.into_model()?,
        report,
    })
}

/// Scores `rows` (raw guest features, aligned with the host's rows; one row for a single
/// prediction) with the host's help: returns `σ(u_A + u_B)` per row.
///
/// # Errors
///
/// [`LrError::ModelMismatch`] if the host's part belongs to another model, and any
/// [`LrError`] of the channel or the decoders.
pub fn run_predict_guest<C: Channel>(
    ch: &mut C,
    model: &LrGuestModel,
    rows: &[Vec<f64>],
) -> Result<Vec<f64>, LrError> {
    if rows.is_empty() || rows.len() > super::MAX_ROWS {
        return Err(LrError::InvalidInput("row count must be in 1..=2^28"));
    }
    let own = rows
        .iter()
        .map(|r| model.partial_score(r))
        .collect::<Result<Vec<_>, _>>()?;
    ch.send(
        predict_header(step::PREDICT_REQUEST),
        msgs::encode_predict_request(&model.model_id, rows.len() as u64),
    )?;
    let theirs = msgs::decode_model_id(&ch.recv(predict_header(step::PREDICT_ACK), 16)?)?;
    if theirs != model.model_id {
        return Err(LrError::ModelMismatch {
            ours: model.model_id,
            theirs,
        });
    }
    let per = msgs::SCORES_PER_MESSAGE;
    let mut host = Vec::with_capacity(rows.len());
    for i in 0..rows.len().div_ceil(per) {
        let n = msgs::items_in_message(rows.len(), per, i);
        let b = ch.recv(predict_header(step::PARTIAL_SCORES), 8 * n)?;
        host.extend(msgs::decode_scores(&b, n)?);
    }
    ch.flush()?;
    Ok(own
        .iter()
        .zip(&host)
        .map(|(a, b)| super::model::sigmoid(a + b))
        .collect())
}

/// Serves one prediction request: sends the host's partial scores of `rows` (raw host features,
/// aligned with the guest's rows) if the guest's model id matches.
///
/// # Errors
///
/// [`LrError::ModelMismatch`], [`LrError::RowCountMismatch`], and any [`LrError`] of the
/// channel or the decoders.
pub fn run_predict_host<C: Channel>(
    ch: &mut C,
    model: &LrHostModel,
    rows: &[Vec<f64>],
) -> Result<PredictReport, LrError> {
    let (theirs, n) = msgs::decode_predict_request(&ch.recv(
        predict_header(step::PREDICT_REQUEST),
        msgs::PREDICT_REQUEST_LEN,
    )?)?;
    ch.send(predict_header(step::PREDICT_ACK), model.model_id.0.to_vec())?;
    if theirs != model.model_id {
        ch.flush()?;
        return Err(LrError::ModelMismatch {
            ours: model.model_id,
            theirs,
        });
    }
    if n != rows.len() as u64 {
        return Err(LrError::RowCountMismatch {
            ours: rows.len() as u64,
            theirs: n,
        });
    }
    let scores = model.partial_scores(rows)?;
    for chunk in scores.chunks(msgs::SCORES_PER_MESSAGE) {
        ch.send(
            predict_header(step::PARTIAL_SCORES),
            msgs::encode_scores(chunk),
        )?;
    }
    ch.flush()?;
    Ok(PredictReport {
        rows: n,
        stats: ch.stats(),
    })
}
