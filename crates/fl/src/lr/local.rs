//! Both parties in one process (two threads over the in-memory channel): for benchmarks and
//! demos, never for production (one process sees both parties' data).

use std::time::{Duration, Instant};

use rand_core::CryptoRng;
use unseen_channel::{Stats, duplex};
use unseen_crypto::he::HeSecretKey;

use super::reference::auc;
use super::{
    LrConfig, LrError, LrGuestModel, LrHostModel, run_guest, run_host, run_predict_guest,
    run_predict_host,
};

/// Rows of both parties: guest features, labels, host features (aligned).
#[derive(Clone, Copy)]
pub struct Split<'a> {
    /// Guest features, raw, rows × guest columns.
    pub guest: &'a [Vec<f64>],
    /// Labels (`true` = positive).
    pub labels: &'a [bool],
    /// Host features, raw, rows × host columns.
    pub host: &'a [Vec<f64>],
}

/// What a local run measured.
pub struct LocalRun {
    /// The guest's part.
    pub guest: LrGuestModel,
    /// The host's part.
    pub host: LrHostModel,
    /// Epochs run.
    pub epochs: u32,
    /// Whether both parties converged.
    pub converged: bool,
    /// The shared shuffle seed.
    pub shuffle_seed: [u8; 32],
    /// Wall time of training (handshake included, key generation excluded).
    pub train_time: Duration,
    /// The guest's traffic during training.
    pub train_stats: Stats,
    /// Scores of the test rows (federated prediction).
    pub test_scores: Vec<f64>,
    /// AUC on the test rows (`None` if one class is absent).
    pub test_auc: Option<f64>,
    /// Wall time of the federated prediction of the test rows.
    pub predict_time: Duration,
}

/// Trains on `train` with both roles in two threads, then scores `test` by federated
/// prediction.
///
/// # Errors
///
/// The first party's [`LrError`].
pub fn run_local<S: HeSecretKey, R: CryptoRng + Send>(
    config: LrConfig,
    train: Split<'_>,
    test: Split<'_>,
    keys: (&S, &S),
    rngs: (&mut R, &mut R),
) -> Result<LocalRun, LrError> {
    let (mut cg, mut ch) = duplex();
    let (rg, rh) = rngs;
    let start = Instant::now();
    let (g, h) = std::thread::scope(|s| {
        let t = s.spawn(move || {
            let r = run_host(&mut ch, config, train.host, keys.1, rh);
            drop(ch);
            r
        });
        let g = run_guest(&mut cg, config, train.guest, train.labels, keys.0, rg);
        drop(cg);
        (g, t.join())
    });
    let train_time = start.elapsed();
    let g = g?;
    let h = h.map_err(|_| LrError::OutOfOrder("host thread panicked"))??;
    let (mut cg, mut ch) = duplex();
    let start = Instant::now();
    let (scores, served) = std::thread::scope(|s| {
        let host = &h.model;
        let t = s.spawn(move || {
            let r = run_predict_host(&mut ch, host, test.host);
            drop(ch);
            r
        });
        let scores = run_predict_guest(&mut cg, &g.model, test.guest);
        drop(cg);
        (scores, t.join())
    });
    let predict_time = start.elapsed();
    let scores = scores?;
    served.map_err(|_| LrError::OutOfOrder("host thread panicked"))??;
    Ok(LocalRun {
        test_auc: auc(&scores, test.labels),
        guest: g.model,
        host: h.model,
        epochs: g.report.epochs,
        converged: g.report.converged,
        shuffle_seed: g.report.shuffle_seed,
        train_time,
        train_stats: g.report.stats,
        test_scores: scores,
        predict_time,
    })
}
