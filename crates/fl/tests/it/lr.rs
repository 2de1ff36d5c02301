//! Vertical logistic regression: federated run against the plaintext oracle, prediction,
//! model files, hostile peers.
#![allow(
    clippy::cast_sign_loss,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)] // tests

use std::sync::OnceLock;

use rand_core::Rng;
use unseen_channel::{ChannelError, Tamper, TamperHook};
use unseen_crypto::he::{HePublicKey, HeSecretKey, Plaintext};
use unseen_fl::lr::fixed;
use unseen_fl::lr::msgs::{self, step};
use unseen_fl::lr::reference::{self, Gradient};
use unseen_fl::lr::{
    GuestOutput, HostOutput, LrConfig, LrError, LrGuestModel, LrHostModel, ModelId, run_guest,
    run_host, run_predict_guest, run_predict_host,
};
use unseen_testkit::{on_step, rng, run_pair};

use unseen_crypto::he::{OuSecretKey, PaillierSecretKey};

/// The two parties' Paillier-2048 key pairs, generated once for the whole binary.
fn paillier() -> &'static (PaillierSecretKey, PaillierSecretKey) {
    static K: OnceLock<(PaillierSecretKey, PaillierSecretKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            PaillierSecretKey::generate(2048).unwrap(),
            PaillierSecretKey::generate(2048).unwrap(),
        )
    })
}

/// The two parties' OU-2048 key pairs (about 20 times faster than Paillier: most tests use
/// them).
fn keys() -> &'static (OuSecretKey, OuSecretKey) {
    static K: OnceLock<(OuSecretKey, OuSecretKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            OuSecretKey::generate(2048).unwrap(),
            OuSecretKey::generate(2048).unwrap(),
        )
    })
}

struct Data {
    guest: Vec<Vec<f64>>,
    labels: Vec<bool>,
    host: Vec<Vec<f64>>,
}

fn gaussian(r: &mut impl Rng) -> f64 {
    let u = |r: &mut dyn FnMut() -> u64| ((r() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut next = || r.next_u64();
    let (a, b) = (u(&mut next), u(&mut next));
    (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
}

/// `n` rows: 3 guest and 4 host features on different scales, labels from a logistic model.
fn data(seed: u64, n: usize) -> Data {
    let mut r = rng(seed);
    let beta_a = [1.2, -0.8, 0.5];
    let beta_b = [0.9, 0.0, -1.1, 0.4];
    let (off_a, sc_a) = ([10.0, -3.0, 0.0], [2.0, 0.5, 100.0]);
    let (off_b, sc_b) = ([1.0, 50.0, -7.0, 0.0], [0.1, 20.0, 3.0, 1.0]);
    let mut d = Data {
        guest: vec![],
        labels: vec![],
        host: vec![],
    };
    for _ in 0..n {
        let za: Vec<f64> = (0..3).map(|_| gaussian(&mut r)).collect();
        let zb: Vec<f64> = (0..4).map(|_| gaussian(&mut r)).collect();
        let u: f64 = -0.5
            + za.iter().zip(beta_a).map(|(z, b)| z * b).sum::<f64>()
            + zb.iter().zip(beta_b).map(|(z, b)| z * b).sum::<f64>();
        let p = 1.0 / (1.0 + (-u).exp());
        let coin = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        d.labels.push(coin < p);
        d.guest
            .push((0..3).map(|j| off_a[j] + sc_a[j] * za[j]).collect());
        d.host
            .push((0..4).map(|j| off_b[j] + sc_b[j] * zb[j]).collect());
    }
    d
}

fn config() -> LrConfig {
    LrConfig {
        learning_rate: 0.3,
        epochs: 3,
        batch_size: 75,
        l2: 0.01,
        tol: 1e-6,
        fit_intercept: true,
    }
}

fn train<S: HeSecretKey>(cfg: LrConfig, d: &Data, keys: &(S, S)) -> (GuestOutput, HostOutput) {
    let (g, h) = run_pair(
        |ch| run_guest(ch, cfg, &d.guest, &d.labels, &keys.0, &mut rng(11)),
        |ch| run_host(ch, cfg, &d.host, &keys.1, &mut rng(12)),
        None,
    );
    (g.unwrap(), h.unwrap())
}

fn all_weights(g: &LrGuestModel, h: &LrHostModel) -> Vec<f64> {
    let mut w = g.weights.clone();
    w.extend(g.intercept);
    w.extend(&h.weights);
    w
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn lr_federated_equals_fixed_point_oracle() {
    let (d, g, h) = trained_run();
    let cfg = config();
    assert_eq!(g.model.model_id, h.model.model_id);
    assert_eq!(g.report.shuffle_seed, h.report.shuffle_seed);
    assert_eq!(g.report.epochs, 3);
    assert_eq!(h.report.epochs, 3);
    assert_eq!(g.report.stats.bytes_sent, h.report.stats.bytes_received);
    let oracle = |grad| {
        reference::train(
            &cfg,
            &d.guest,
            &d.labels,
            &d.host,
            &g.report.shuffle_seed,
            g.model.model_id,
            grad,
        )
        .unwrap()
    };
    let fixed = oracle(Gradient::FixedPoint);
    // Bit for bit: the protocol decrypts exactly the oracle's integers.
    assert_eq!(g.model, fixed.guest);
    assert_eq!(h.model, fixed.host);
    assert_eq!(fixed.epochs, g.report.epochs);
    let fed = all_weights(&g.model, &h.model);
    assert!(
        fed.iter().any(|w| w.abs() > 0.1),
        "the model learned nothing"
    );
    // The fixed point costs less than 1e-3 against the same Taylor gradient in f64.
    let taylor = oracle(Gradient::Taylor);
    let dt = max_diff(&fed, &all_weights(&taylor.guest, &taylor.host));
    assert!(dt < 1e-3, "fixed point vs f64 Taylor: {dt}");
    // The Taylor approximation's effect (informational) and a sanity check of the fit.
    let sig = oracle(Gradient::Sigmoid);
    let ds = max_diff(&fed, &all_weights(&sig.guest, &sig.host));
    let scores = reference::predict(&g.model, &h.model, &d.guest, &d.host).unwrap();
    let sig_scores = reference::predict(&sig.guest, &sig.host, &d.guest, &d.host).unwrap();
    let (auc, auc_sig) = (
        reference::auc(&scores, &d.labels).unwrap(),
        reference::auc(&sig_scores, &d.labels).unwrap(),
    );
    eprintln!(
        "lr: max |w_fed − w_taylor_f64| = {dt:.2e}, max |w_fed − w_sigmoid| = {ds:.3}, \
         train AUC federated {auc:.4}, sigmoid {auc_sig:.4}"
    );
    assert!(auc > 0.75 && (auc - auc_sig).abs() < 0.02);
}

#[test]
fn lr_full_batch_without_intercept_stops_on_convergence() {
    let d = data(2, 80);
    let cfg = LrConfig {
        learning_rate: 1.5,
        epochs: 50,
        batch_size: 0,
        l2: 0.0,
        tol: 3e-2,
        fit_intercept: false,
    };
    let (g, h) = train(cfg, &d, keys());
    let fixed = reference::train(
        &cfg,
        &d.guest,
        &d.labels,
        &d.host,
        &g.report.shuffle_seed,
        g.model.model_id,
        Gradient::FixedPoint,
    )
    .unwrap();
    assert!(g.report.converged && h.report.converged && fixed.converged);
    assert!(g.report.epochs < 50, "{}", g.report.epochs);
    eprintln!("lr: converged after {} epochs", g.report.epochs);
    assert_eq!(g.report.epochs, fixed.epochs);
    assert_eq!(h.report.epochs, fixed.epochs);
    assert_eq!(g.model.intercept, None);
    assert_eq!(g.model, fixed.guest);
    assert_eq!(h.model, fixed.host);
}

/// The one federated training of 300 rows (Paillier) shared by the tests of this binary.
fn trained_run() -> &'static (Data, GuestOutput, HostOutput) {
    static R: OnceLock<(Data, GuestOutput, HostOutput)> = OnceLock::new();
    R.get_or_init(|| {
        let d = data(1, 300);
        let (g, h) = train(config(), &d, paillier());
        (d, g, h)
    })
}

fn trained() -> (&'static LrGuestModel, &'static LrHostModel) {
    let (_, g, h) = trained_run();
    (&g.model, &h.model)
}

fn predict(
    g: &LrGuestModel,
    h: &LrHostModel,
    d: &Data,
    tamper: Option<TamperHook>,
) -> (Result<Vec<f64>, LrError>, Result<u64, LrError>) {
    let (a, b) = run_pair(
        |ch| run_predict_guest(ch, g, &d.guest),
        |ch| run_predict_host(ch, h, &d.host).map(|r| r.rows),
        tamper,
    );
    (a, b)
}

#[test]
fn lr_prediction_equals_plaintext_model() {
    let (g, h) = trained();
    let test = data(3, 150);
    let (scores, rows) = predict(g, h, &test, None);
    let (scores, rows) = (scores.unwrap(), rows.unwrap());
    assert_eq!(rows, 150);
    let expected = reference::predict(g, h, &test.guest, &test.host).unwrap();
    assert_eq!(scores.len(), 150);
    assert!(max_diff(&scores, &expected) < 1e-12);
    // The plaintext model scored independently: σ(b + Σ w·(x − μ)/σ) over both parts.
    for (i, s) in expected.iter().enumerate() {
        let mut u = g.intercept.unwrap();
        for (j, x) in test.guest[i].iter().enumerate() {
            u += g.weights[j] * (x - g.standardizer.means[j]) / g.standardizer.stds[j];
        }
        for (j, x) in test.host[i].iter().enumerate() {
            u += h.weights[j] * (x - h.standardizer.means[j]) / h.standardizer.stds[j];
        }
        assert!((s - 1.0 / (1.0 + (-u).exp())).abs() < 1e-12);
    }
    // A single row.
    let one = Data {
        guest: vec![test.guest[7].clone()],
        labels: vec![test.labels[7]],
        host: vec![test.host[7].clone()],
    };
    let (s, _) = predict(g, h, &one, None);
    assert!((s.unwrap()[0] - expected[7]).abs() < 1e-12);
}

#[test]
fn lr_model_files_round_trip_and_are_checked() {
    let (g, h) = trained();
    let gb = g.to_bytes();
    let hb = h.to_bytes();
    assert_eq!(&LrGuestModel::from_bytes(&gb).unwrap(), g);
    assert_eq!(&LrHostModel::from_bytes(&hb).unwrap(), h);
    assert!(matches!(
        LrHostModel::from_bytes(&gb),
        Err(LrError::InvalidInput(
            "the model part belongs to the other party"
        ))
    ));
    assert!(matches!(
        LrGuestModel::from_bytes(&gb[..gb.len() - 1]),
        Err(LrError::InvalidInput("model part has the wrong length"))
    ));
    let mut v2 = gb.clone();
    v2[4] = 2;
    assert!(matches!(
        LrGuestModel::from_bytes(&v2),
        Err(LrError::InvalidInput("unsupported LR model format version"))
    ));
    // Parts of different models refuse to predict together, on both sides.
    let mut other = h.clone();
    other.model_id = ModelId([7; 16]);
    let (a, b) = predict(g, &other, &data(3, 20), None);
    assert!(matches!(a, Err(LrError::ModelMismatch { theirs, .. }) if theirs == ModelId([7; 16])));
    assert!(matches!(b, Err(LrError::ModelMismatch { ours, .. }) if ours == ModelId([7; 16])));
}

// ---------------------------------------------------------------- hostile peers

fn replace(s: u8, f: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> TamperHook {
    on_step(s, move |h, p| Tamper::Replace(h, f(p)))
}

fn restep(s: u8, to: u8) -> TamperHook {
    on_step(s, move |h, p| {
        Tamper::Replace(
            unseen_channel::Header::new(h.protocol, h.version, to),
            p.to_vec(),
        )
    })
}

fn small() -> Data {
    data(5, 40)
}

fn cfg_small() -> LrConfig {
    LrConfig {
        epochs: 2,
        batch_size: 20,
        ..config()
    }
}

/// The guest's error when the host's messages are tampered with.
fn guest_error(tamper: TamperHook) -> LrError {
    let d = small();
    let cfg = cfg_small();
    let (g, _) = run_pair(
        |ch| run_guest(ch, cfg, &d.guest, &d.labels, &keys().0, &mut rng(21)),
        |ch| run_host(ch, cfg, &d.host, &keys().1, &mut rng(22)),
        Some(tamper),
    );
    g.unwrap_err()
}

/// The host's error when the guest's messages are tampered with.
fn host_error_with(tamper: TamperHook, host_cfg: LrConfig, host_rows: usize) -> LrError {
    let d = small();
    let cfg = cfg_small();
    let (h, _) = run_pair(
        |ch| run_host(ch, host_cfg, &d.host[..host_rows], &keys().1, &mut rng(22)),
        |ch| run_guest(ch, cfg, &d.guest, &d.labels, &keys().0, &mut rng(21)),
        Some(tamper),
    );
    h.unwrap_err()
}

fn host_error(tamper: TamperHook) -> LrError {
    host_error_with(tamper, cfg_small(), 40)
}

fn pass() -> TamperHook {
    Box::new(|_, _, _| Tamper::Pass)
}

fn ct_len() -> usize {
    keys().0.public().ciphertext_len()
}

#[test]
fn lr_hostile_hello() {
    let e = host_error(replace(step::HELLO, |p| p[..50].to_vec()));
    assert!(
        matches!(e, LrError::BadMessage { what: "guest hello", len: 50, expected } if expected == msgs::GuestHello::FIXED_LEN)
    );
    let e = host_error(replace(step::HELLO, |p| [p, &[0]].concat()));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "guest hello",
            ..
        }
    ));
    // The key length field announces more than the largest key.
    let e = host_error(replace(step::HELLO, |p| {
        let mut p = p.to_vec();
        p[93..97].copy_from_slice(&9000u32.to_le_bytes());
        p
    }));
    assert!(matches!(
        e,
        LrError::BadHello("public key longer than 8192 bytes")
    ));
    // A 3-byte public key: no scheme decodes it.
    let e = host_error(replace(step::HELLO, |p| {
        let mut p = p[..msgs::GuestHello::FIXED_LEN + 3].to_vec();
        p[93..97].copy_from_slice(&3u32.to_le_bytes());
        p
    }));
    assert!(matches!(
        e,
        LrError::PeerCrypto {
            what: "public key",
            ..
        }
    ));
    let e = host_error(restep(step::HELLO, step::TERMS));
    assert!(matches!(
        e,
        LrError::Channel(ChannelError::UnexpectedFrame { .. })
    ));
    let e = host_error_with(
        pass(),
        LrConfig {
            l2: 0.02,
            ..cfg_small()
        },
        40,
    );
    assert!(matches!(e, LrError::ConfigMismatch(_)));
    let e = host_error_with(pass(), cfg_small(), 39);
    assert!(matches!(
        e,
        LrError::RowCountMismatch {
            ours: 39,
            theirs: 40
        }
    ));
    // Batches of 4 rows would reveal residuals to a party with 4 or more features.
    let tiny = LrConfig {
        batch_size: 4,
        ..cfg_small()
    };
    let d = small();
    let (h, _) = run_pair(
        |ch| run_host(ch, tiny, &d.host, &keys().1, &mut rng(22)),
        |ch| run_guest(ch, tiny, &d.guest, &d.labels, &keys().0, &mut rng(21)),
        None,
    );
    assert!(matches!(
        h.unwrap_err(),
        LrError::BatchTooSmall {
            rows: 4,
            features: 4
        }
    ));
}

#[test]
fn lr_hostile_host_hello() {
    let e = guest_error(replace(step::HOST_HELLO, |p| p[..5].to_vec()));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "host hello",
            len: 5,
            expected: 8
        }
    ));
    let e = guest_error(replace(step::HOST_HELLO, |p| [p, &[1, 2]].concat()));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "host hello",
            ..
        }
    ));
    let e = guest_error(replace(step::HOST_HELLO, |p| {
        let mut p = p.to_vec();
        p[0..4].copy_from_slice(&5000u32.to_le_bytes());
        p
    }));
    assert!(matches!(
        e,
        LrError::BadHello("feature count outside 1..=4096")
    ));
    let e = guest_error(restep(step::HOST_HELLO, step::HELLO));
    assert!(matches!(
        e,
        LrError::Channel(ChannelError::UnexpectedFrame { .. })
    ));
}

#[test]
fn lr_hostile_terms() {
    // 40 rows in batches of 20: the first TERMS message holds 20 ciphertexts.
    let full = 20 * ct_len();
    let e = guest_error(replace(step::TERMS, |p| p[..p.len() - 1].to_vec()));
    assert!(
        matches!(e, LrError::BadMessage { what: "terms", len, expected } if len == full - 1 && expected == full)
    );
    let c = ct_len();
    let e = guest_error(replace(step::TERMS, move |p| p[..p.len() - c].to_vec()));
    assert!(matches!(e, LrError::BadMessage { what: "terms", len, .. } if len == full - c));
    let e = guest_error(replace(step::TERMS, move |p| [p, &vec![1; c]].concat()));
    assert!(
        matches!(e, LrError::Channel(ChannelError::FrameTooLarge { len, max, .. }) if len as usize == full + c && max as usize == full)
    );
    let e = guest_error(replace(step::TERMS, move |p| {
        let mut p = p.to_vec();
        p[c..2 * c].fill(0xff);
        p
    }));
    assert!(matches!(e, LrError::PeerCrypto { what: "terms", .. }));
    let e = host_error(replace(step::TERMS, move |p| {
        let mut p = p.to_vec();
        p[..c].fill(0xff);
        p
    }));
    assert!(matches!(e, LrError::PeerCrypto { what: "terms", .. }));
    let e = guest_error(restep(step::TERMS, step::GRADIENT));
    assert!(matches!(
        e,
        LrError::Channel(ChannelError::UnexpectedFrame { .. })
    ));
}

#[test]
fn lr_hostile_gradient() {
    let c = ct_len();
    // The host's 4 masked gradients, packed under the guest's key.
    let n = fixed::packed_count(4, keys().0.public().plaintext_bits());
    let e = guest_error(replace(step::GRADIENT, |p| p[..p.len() - 1].to_vec()));
    assert!(
        matches!(e, LrError::BadMessage { what: "gradient", len, expected } if len == n * c - 1 && expected == n * c)
    );
    let e = guest_error(replace(step::GRADIENT, move |p| {
        let mut p = p.to_vec();
        p[..c].fill(0xff);
        p
    }));
    assert!(matches!(
        e,
        LrError::PeerCrypto {
            what: "gradient",
            ..
        }
    ));
    // Valid ciphertexts of values no packed masked gradient can be: a slot of 2^119, a bit
    // above the last slot, a negative value.
    for bad in [
        Plaintext::pack(&[5, 1 << 119], fixed::SLOT_BITS).unwrap(),
        Plaintext::pack(&[0, 0, 0, 0, 1], fixed::SLOT_BITS).unwrap(),
        Plaintext::from_i128(-3),
    ] {
        let e = guest_error(replace(step::GRADIENT, move |p| {
            let pk = keys().0.public();
            let big = pk.encrypt(&bad).unwrap();
            let mut out = Vec::new();
            pk.write_ciphertext(&big, &mut out).unwrap();
            [&out, &p[c..]].concat()
        }));
        assert!(matches!(
            e,
            LrError::PeerValueOutOfRange("decrypted masked gradient")
        ));
    }
    let e = host_error(replace(step::GRADIENT, |p| [p, &[0]].concat()));
    assert!(matches!(
        e,
        LrError::Channel(ChannelError::FrameTooLarge { .. })
    ));
}

#[test]
fn lr_hostile_masked_and_epoch_end() {
    // The guest's 4 weights (3 features and the intercept): 4 × 16 bytes.
    let e = guest_error(replace(step::MASKED, |p| p[..60].to_vec()));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "masked gradient",
            len: 60,
            expected: 64
        }
    ));
    let e = guest_error(replace(step::MASKED, |p| {
        let mut p = p.to_vec();
        p[..16].copy_from_slice(&(1i128 << 125).to_le_bytes());
        p
    }));
    assert!(matches!(e, LrError::PeerValueOutOfRange("masked gradient")));
    // In range for a masked value, but no mask can make it a gradient.
    let e = host_error(replace(step::MASKED, |p| {
        let mut p = p.to_vec();
        p[..16].copy_from_slice(&(-(1i128 << 118) - (1 << 100)).to_le_bytes());
        p
    }));
    assert!(matches!(
        e,
        LrError::PeerValueOutOfRange("unmasked gradient")
    ));
    let e = host_error(restep(step::MASKED, step::EPOCH_END));
    assert!(matches!(
        e,
        LrError::Channel(ChannelError::UnexpectedFrame { .. })
    ));
    let e = guest_error(replace(step::EPOCH_END, |_| vec![7]));
    assert!(matches!(
        e,
        LrError::BadHello("convergence flag other than 0 or 1")
    ));
    let e = host_error(replace(step::EPOCH_END, |_| vec![]));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "convergence flag",
            len: 0,
            expected: 1
        }
    ));
}

#[test]
fn lr_hostile_prediction() {
    let (g, h) = trained();
    let d = data(3, 20);
    // Host tampered: the guest is the victim.
    let (a, _) = predict(
        g,
        h,
        &d,
        Some(replace(step::PARTIAL_SCORES, |p| p[..p.len() - 8].to_vec())),
    );
    assert!(matches!(
        a,
        Err(LrError::BadMessage {
            what: "partial scores",
            len: 152,
            expected: 160
        })
    ));
    let (a, _) = predict(
        g,
        h,
        &d,
        Some(replace(step::PARTIAL_SCORES, |p| [p, &[0; 8]].concat())),
    );
    assert!(matches!(
        a,
        Err(LrError::Channel(ChannelError::FrameTooLarge {
            len: 168,
            max: 160,
            ..
        }))
    ));
    let (a, _) = predict(
        g,
        h,
        &d,
        Some(replace(step::PARTIAL_SCORES, |p| {
            let mut p = p.to_vec();
            p[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
            p
        })),
    );
    assert!(matches!(
        a,
        Err(LrError::PeerValueOutOfRange("partial score not finite"))
    ));
    let (a, _) = predict(
        g,
        h,
        &d,
        Some(replace(step::PREDICT_ACK, |p| p[..15].to_vec())),
    );
    assert!(matches!(
        a,
        Err(LrError::BadMessage {
            what: "model id",
            len: 15,
            expected: 16
        })
    ));
    let (a, _) = predict(
        g,
        h,
        &d,
        Some(restep(step::PARTIAL_SCORES, step::PREDICT_ACK)),
    );
    assert!(matches!(
        a,
        Err(LrError::Channel(ChannelError::UnexpectedFrame { .. }))
    ));
    // Guest tampered: the host is the victim.
    let host_victim = |t: TamperHook| {
        let (b, _) = run_pair(
            |ch| run_predict_host(ch, h, &d.host),
            |ch| run_predict_guest(ch, g, &d.guest),
            Some(t),
        );
        b.unwrap_err()
    };
    let e = host_victim(replace(step::PREDICT_REQUEST, |p| p[..23].to_vec()));
    assert!(matches!(
        e,
        LrError::BadMessage {
            what: "prediction request",
            len: 23,
            expected: 24
        }
    ));
    let e = host_victim(replace(step::PREDICT_REQUEST, |p| {
        let mut p = p.to_vec();
        p[16..24].copy_from_slice(&21u64.to_le_bytes());
        p
    }));
    assert!(matches!(
        e,
        LrError::RowCountMismatch {
            ours: 20,
            theirs: 21
        }
    ));
    let e = host_victim(replace(step::PREDICT_REQUEST, |p| {
        let mut p = p.to_vec();
        p[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        p
    }));
    assert!(matches!(e, LrError::BadHello("row count outside 1..=2^28")));
}

#[test]
fn lr_decoders_survive_garbage() {
    let mut r = rng(99);
    for sel in 0..9u8 {
        for len in (0..200).chain([512, 513, 1024, 1100]) {
            let mut b = vec![0u8; len + 1];
            r.fill_bytes(&mut b);
            b[0] = sel;
            msgs::fuzz_decode(&b);
        }
    }
}

#[test]
fn lr_trains_over_tcp_loopback() {
    use unseen_transport::tcp;
    // Both parties send a batch's terms before reading: over TCP, with a bounded send queue,
    // this must not deadlock (batches of 20 rows, OU keys).
    let d = small();
    let cfg = cfg_small();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = tcp::TcpOptions::default();
    let (g, h) = std::thread::scope(|s| {
        let host = s.spawn(|| {
            let mut ch = tcp::accept(&listener, opts, std::time::Duration::from_secs(30)).unwrap();
            run_host(&mut ch, cfg, &d.host, &keys().1, &mut rng(2))
        });
        let mut ch = tcp::connect(addr, opts).unwrap();
        let g = run_guest(&mut ch, cfg, &d.guest, &d.labels, &keys().0, &mut rng(1));
        (g, host.join().unwrap())
    });
    let (g, h) = (g.unwrap(), h.unwrap());
    let fixed = reference::train(
        &cfg,
        &d.guest,
        &d.labels,
        &d.host,
        &g.report.shuffle_seed,
        g.model.model_id,
        Gradient::FixedPoint,
    )
    .unwrap();
    assert_eq!(g.model, fixed.guest);
    assert_eq!(h.model, fixed.host);
    assert_eq!(g.report.stats.bytes_sent, h.report.stats.bytes_received);
}
