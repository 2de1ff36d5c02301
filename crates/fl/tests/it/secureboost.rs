//! SecureBoost: the federated trees equal the plaintext oracle's node for node, prediction
//! equals the oracle's scores, hostile messages are refused with the exact error, model files
//! round-trip and mismatched parts are refused.

use rand_core::Rng;
use unseen_channel::{ChannelError, StreamChannel, Tamper};
use unseen_crypto::he::{HePublicKey, HeSecretKey, OuSecretKey};
use unseen_fl::FlError;
use unseen_fl::secureboost::msgs::{header, step};
use unseen_fl::secureboost::{
    Binned, ColSample, GuestConfig, GuestModel, GuestSplit, HostConfig, HostModel, Node,
    PlainModel, PlainValid, Rule, Tree, TreeParams, model, plain, run_guest, run_guest_predict,
    run_host, run_host_predict,
};
use unseen_testkit::{on_step, rng, run_pair};

use crate::mock_he::MockSk;

/// Seeded synthetic data: `rows` rows, guest features, host features, labels from a logistic
/// model over both parties' features.
pub struct Data {
    pub guest: Vec<Vec<f64>>,
    pub host: Vec<Vec<f64>>,
    pub labels: Vec<u8>,
}

fn uniform(r: &mut impl Rng) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub fn data(seed: u64, rows: usize, gf: usize, hf: usize) -> Data {
    let mut r = rng(seed);
    let mut col = |k: usize| -> Vec<f64> {
        (0..rows)
            .map(|_| {
                let x = uniform(&mut r) * 4.0 - 2.0;
                // some discrete columns
                if k % 3 == 2 {
                    x.round()
                } else {
                    (x * 1000.0).round() / 1000.0
                }
            })
            .collect()
    };
    let guest: Vec<Vec<f64>> = (0..gf).map(&mut col).collect();
    let host: Vec<Vec<f64>> = (0..hf).map(&mut col).collect();
    let mut r = rng(seed ^ 0xabc);
    let labels = (0..rows)
        .map(|i| {
            let z = 1.2 * guest[0][i] - 0.8 * guest[1 % gf][i] + 1.5 * host[0][i]
                - host[1 % hf][i] * host[2 % hf][i]
                + 0.7 * (host[hf - 1][i] > 0.5) as u8 as f64
                - 1.0;
            u8::from(uniform(&mut r) < 1.0 / (1.0 + (-z).exp()))
        })
        .collect();
    Data {
        guest,
        host,
        labels,
    }
}

fn names(p: &str, k: usize) -> Vec<String> {
    (0..k).map(|i| format!("{p}{i}")).collect()
}

pub fn small_params() -> TreeParams {
    TreeParams {
        trees: 4,
        max_depth: 4,
        ..TreeParams::default()
    }
}

pub struct Setup {
    pub guest: GuestConfig,
    pub host: HostConfig,
}

pub fn setup(
    d: &Data,
    valid: Option<&Data>,
    p: TreeParams,
    bins: usize,
    host_cols: ColSample,
) -> Setup {
    let gf = d.guest.len();
    let hf = d.host.len();
    let guest = GuestConfig::new(
        &d.guest,
        d.labels.clone(),
        valid.map(|v| (v.guest.as_slice(), v.labels.clone())),
        bins,
        names("g", gf),
        p,
    )
    .unwrap();
    let host = HostConfig::new(
        &d.host,
        valid.map_or(&[][..], |v| v.host.as_slice()),
        bins,
        names("h", hf),
        host_cols,
    )
    .unwrap();
    Setup { guest, host }
}

pub fn train<K: HeSecretKey>(
    sk: &K,
    s: &Setup,
) -> (
    Result<unseen_fl::secureboost::GuestOutput, FlError>,
    Result<unseen_fl::secureboost::HostOutput, FlError>,
) {
    run_pair(
        |ch: &mut StreamChannel| run_guest(ch, sk, &s.guest),
        |ch: &mut StreamChannel| run_host::<K::Public, _>(ch, &s.host),
        None,
    )
}

pub fn oracle(s: &Setup, host_cols: ColSample) -> PlainModel {
    let gb: Vec<usize> = (0..s.guest.train.len())
        .map(|f| s.guest.cuts.bins_of(f))
        .collect();
    let hb: Vec<usize> = (0..s.host.train.len())
        .map(|f| s.host.cuts.bins_of(f))
        .collect();
    let valid = s.guest.valid.as_ref().map(|(v, l)| PlainValid {
        guest: v,
        host: &s.host.valid,
        labels: l,
    });
    plain::train(
        Binned {
            columns: &s.guest.train,
            bins: &gb,
        },
        Binned {
            columns: &s.host.train,
            bins: &hb,
        },
        &s.guest.labels,
        &s.guest.params,
        host_cols,
        valid,
    )
    .unwrap()
}

/// The guest's trees with host records resolved through the host's table.
pub fn resolve(g: &GuestModel, h: &HostModel) -> Vec<Tree<Rule>> {
    g.trees
        .iter()
        .map(|t| Tree {
            nodes: t
                .nodes
                .iter()
                .map(|n| match n {
                    Node::Leaf { weight } => Node::Leaf { weight: *weight },
                    Node::Split {
                        rule,
                        gain,
                        left,
                        right,
                    } => Node::Split {
                        rule: match *rule {
                            GuestSplit::Guest { feature, bin } => Rule::Guest { feature, bin },
                            GuestSplit::Host { record } => {
                                let r = h.records[record as usize];
                                Rule::Host {
                                    feature: u32::from(r.feature),
                                    bin: r.bin,
                                }
                            }
                        },
                        gain: *gain,
                        left: *left,
                        right: *right,
                    },
                })
                .collect(),
        })
        .collect()
}

fn assert_lossless(g: &GuestModel, h: &HostModel, o: &PlainModel) {
    let fed = resolve(g, h);
    assert_eq!(fed.len(), o.trees.len(), "tree count");
    assert_eq!(g.base_margin.to_bits(), o.base_margin.to_bits());
    for (i, (a, b)) in fed.iter().zip(&o.trees).enumerate() {
        assert_eq!(a.nodes.len(), b.nodes.len(), "tree {i} node count");
        for (j, (x, y)) in a.nodes.iter().zip(&b.nodes).enumerate() {
            match (x, y) {
                (Node::Leaf { weight: w1 }, Node::Leaf { weight: w2 }) => {
                    assert_eq!(w1.to_bits(), w2.to_bits(), "tree {i} leaf {j}")
                }
                _ => assert_eq!(x, y, "tree {i} node {j}"),
            }
        }
    }
    model::check_pair(g, h).unwrap();
    // the trees actually use both parties
    let rules: Vec<&Rule> = fed
        .iter()
        .flat_map(|t| &t.nodes)
        .filter_map(|n| match n {
            Node::Split { rule, .. } => Some(rule),
            Node::Leaf { .. } => None,
        })
        .collect();
    assert!(rules.iter().any(|r| matches!(r, Rule::Guest { .. })));
    assert!(rules.iter().any(|r| matches!(r, Rule::Host { .. })));
}

fn predict(g: &GuestModel, h: &HostModel, d: &Data) -> Vec<f64> {
    let (pg, ph) = run_pair(
        |ch: &mut StreamChannel| run_guest_predict(ch, g, &d.guest),
        |ch: &mut StreamChannel| run_host_predict(ch, h, &d.host),
        None,
    );
    ph.unwrap();
    pg.unwrap().scores
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn lossless_and_prediction<K: HeSecretKey>(sk: &K, rows: usize, p: TreeParams) {
    let d = data(7, rows, 4, 6);
    let test = data(8, 500, 4, 6);
    let s = setup(&d, None, p, 32, ColSample::default());
    let (g, h) = train(sk, &s);
    let (g, h) = (g.unwrap(), h.unwrap());
    let o = oracle(&s, ColSample::default());
    assert_lossless(&g.model, &h.model, &o);
    // Federated prediction equals the oracle's scores bit for bit on the same bins.
    let scores = predict(&g.model, &h.model, &test);
    let gb = s.guest.cuts.bin_columns(&test.guest).unwrap();
    let hb = s.host.cuts.bin_columns(&test.host).unwrap();
    let expect: Vec<f64> = o.margins(&gb, &hb, 500).into_iter().map(sigmoid).collect();
    assert_eq!(scores, expect);
    // One row at a time.
    for i in [0usize, 17, 499] {
        let grow: Vec<f64> = test.guest.iter().map(|c| c[i]).collect();
        let hrow: Vec<f64> = test.host.iter().map(|c| c[i]).collect();
        let dec = h.model.decide_row(&hrow).unwrap();
        assert_eq!(g.model.score_row(&grow, &dec).unwrap(), expect[i]);
    }
}

#[test]
fn lossless_against_oracle_mock() {
    lossless_and_prediction(&MockSk::generate(2048).unwrap(), 2000, small_params());
}

#[test]
fn lossless_with_sampling_and_early_stopping_mock() {
    sampling_and_early_stopping(&MockSk::generate(2048).unwrap());
}

#[test]
fn lossless_with_sampling_and_early_stopping_ou_2048() {
    sampling_and_early_stopping(ou());
}

/// The roles without any channel: frames handed from one to the other in memory, in the order
/// the drivers send them, build the oracle's trees (sampling and early stopping included).
fn train_in_memory<K: HeSecretKey>(
    sk: &K,
    s: &Setup,
) -> (
    unseen_fl::secureboost::GuestOutput,
    unseen_fl::secureboost::HostOutput,
) {
    use unseen_fl::secureboost::msgs::Hello;
    use unseen_fl::secureboost::{GuestRole, HostRole};
    let mut g = GuestRole::new(sk, &s.guest).unwrap();
    let hello = Hello::decode(&g.hello().unwrap()).unwrap();
    let (mut h, hh) = HostRole::<K::Public>::new(&s.host, hello).unwrap();
    h.check_hello().unwrap();
    g.on_host_hello(&hh.encode()).unwrap();
    while let Some(next) = g.start_tree() {
        let cols = h.on_next(&next).unwrap().expect("a tree");
        while let Some(f) = g.next_gradient_frame().unwrap() {
            assert_eq!(h.gradient_frame_len(), Some(f.len()));
            h.on_gradients(&f).unwrap();
        }
        assert_eq!(h.gradient_frame_len(), None);
        g.on_host_tree(&cols).unwrap();
        while let Some(level) = g.next_level().unwrap() {
            let frames = h.on_level(&level).unwrap();
            assert_eq!(frames.len(), g.histograms_expected());
            for f in &frames {
                assert_eq!(f.len(), g.histogram_len());
                g.on_histogram(f).unwrap();
            }
            let part = h.on_splits(&g.choose_splits().unwrap()).unwrap();
            assert_eq!(part.len(), g.partition_len().unwrap());
            g.on_partition(&part).unwrap();
            h.check_more().unwrap();
        }
        let asked = g.end_tree();
        let dec = h.validation_decisions();
        assert_eq!(asked.is_some(), dec.is_some());
        g.close_tree(dec.as_deref()).unwrap();
    }
    let (finish, out) = g.finish().unwrap();
    assert!(h.on_next(&finish).unwrap().is_none());
    (out, h.into_output(Default::default()).unwrap())
}

#[test]
fn roles_without_a_channel_build_the_oracle_trees_mock() {
    let d = data(11, 900, 4, 6);
    let v = data(12, 300, 4, 6);
    let p = TreeParams {
        trees: 12,
        max_depth: 3,
        learning_rate: 0.5,
        row_sample: 0.7,
        col_sample: 0.6,
        seed: 9,
        early_stopping_rounds: Some(2),
        ..TreeParams::default()
    };
    let hc = ColSample { rate: 0.5, seed: 5 };
    let s = setup(&d, Some(&v), p, 16, hc);
    let (g, h) = train_in_memory(&MockSk::generate(2048).unwrap(), &s);
    assert_lossless(&g.model, &h.model, &oracle(&s, hc));
    // And the same models' trees as the channel drivers build.
    let (g2, h2) = train(&MockSk::generate(2048).unwrap(), &s);
    assert_eq!(
        resolve(&g.model, &h.model),
        resolve(&g2.unwrap().model, &h2.unwrap().model)
    );
}

fn sampling_and_early_stopping<K: HeSecretKey>(sk: &K) {
    let d = data(11, 1500, 4, 6);
    let v = data(12, 400, 4, 6);
    let p = TreeParams {
        trees: 30,
        max_depth: 3,
        learning_rate: 0.5,
        row_sample: 0.7,
        col_sample: 0.6,
        seed: 99,
        early_stopping_rounds: Some(2),
        min_child_weight: 2.0,
        gamma: 0.1,
        lambda: 2.0,
        ..TreeParams::default()
    };
    let hc = ColSample { rate: 0.5, seed: 5 };
    let s = setup(&d, Some(&v), p, 16, hc);
    let (g, h) = train(sk, &s);
    let (g, h) = (g.unwrap(), h.unwrap());
    let o = oracle(&s, hc);
    assert!(o.trees.len() < 30, "early stopping should trigger");
    assert_lossless(&g.model, &h.model, &o);
}

fn trained_mock() -> (GuestModel, HostModel, Setup) {
    let d = data(21, 600, 3, 4);
    let s = setup(
        &d,
        None,
        TreeParams {
            trees: 2,
            max_depth: 3,
            ..TreeParams::default()
        },
        8,
        ColSample::default(),
    );
    let (g, h) = train(&MockSk::generate(2048).unwrap(), &s);
    (g.unwrap().model, h.unwrap().model, s)
}

#[test]
fn model_files_round_trip_and_mismatch_is_refused() {
    let (g, h, _) = trained_mock();
    let gb = g.to_bytes();
    let hb = h.to_bytes();
    let g2 = GuestModel::from_bytes(&gb).unwrap();
    let h2 = HostModel::from_bytes(&hb).unwrap();
    assert_eq!(g2, g);
    assert_eq!(h2, h);
    model::check_pair(&g2, &h2).unwrap();
    // another training run gives another model id: parts do not mix
    let (g3, h3, _) = trained_mock();
    assert!(matches!(
        model::check_pair(&g, &h3),
        Err(FlError::ModelMismatch(_))
    ));
    assert!(matches!(
        model::check_pair(&g3, &h),
        Err(FlError::ModelMismatch(_))
    ));
    // the prediction handshake refuses it too
    let d = data(22, 50, 3, 4);
    let (pg, ph) = run_pair(
        |ch: &mut StreamChannel| run_guest_predict(ch, &g3, &d.guest),
        |ch: &mut StreamChannel| run_host_predict(ch, &h, &d.host),
        None,
    );
    assert!(matches!(ph, Err(FlError::ModelMismatch(_))));
    assert!(pg.is_err());
    // a wrong kind, a flipped byte, a truncation
    assert!(matches!(
        GuestModel::from_bytes(&hb),
        Err(FlError::BadModel(_))
    ));
    let mut bad = gb.clone();
    bad[40] ^= 1;
    assert!(matches!(
        GuestModel::from_bytes(&bad),
        Err(FlError::BadModel(_))
    ));
    assert!(matches!(
        HostModel::from_bytes(&hb[..hb.len() - 1]),
        Err(FlError::BadModel(_))
    ));
    // importance
    let gi = g.importance();
    let hi = h.importance(&gi.host_records);
    let gsplits: u32 = gi.features.iter().map(|x| x.1).sum();
    let hsplits: u32 = hi.features.iter().map(|x| x.1).sum();
    let internal = g
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| matches!(n, Node::Split { .. }))
        .count();
    assert_eq!(gsplits as usize + hsplits as usize, internal);
    assert_eq!(hsplits as usize, gi.host_records.len());
    // The guest's per-feature view of the host's splits (indices only) agrees with the host's
    // own per-feature counts and gains, and survives the model file.
    assert_eq!(g.host_features.len(), h.records.len());
    for (i, r) in h.records.iter().enumerate() {
        assert_eq!(g.host_features[i], r.feature, "record {i}");
    }
    for (f, splits, gain) in &gi.host_features {
        let own = &hi.features[usize::from(*f)];
        assert_eq!(*splits, own.1, "host feature {f}");
        assert!(
            (gain - own.2).abs() <= 1e-9 * own.2.abs().max(1.0),
            "host feature {f}"
        );
    }
    assert_eq!(
        gi.host_features.iter().map(|x| x.1).sum::<u32>(),
        hsplits,
        "every host split counted once"
    );
    assert_eq!(
        GuestModel::from_bytes(&g.to_bytes()).unwrap().host_features,
        g.host_features
    );
}

// ---------------------------------------------------------------- hostile peers

/// Runs a small training with the host's (or guest's) messages tampered.
fn hostile(
    host_tamper: Option<unseen_channel::TamperHook>,
    guest_tamper: Option<unseen_channel::TamperHook>,
) -> (
    Result<unseen_fl::secureboost::GuestOutput, FlError>,
    Result<unseen_fl::secureboost::HostOutput, FlError>,
) {
    hostile_with(&MockSk::generate(2048).unwrap(), host_tamper, guest_tamper)
}

fn hostile_with<K: HeSecretKey>(
    sk: &K,
    host_tamper: Option<unseen_channel::TamperHook>,
    guest_tamper: Option<unseen_channel::TamperHook>,
) -> (
    Result<unseen_fl::secureboost::GuestOutput, FlError>,
    Result<unseen_fl::secureboost::HostOutput, FlError>,
) {
    let d = data(31, 300, 3, 4);
    let s = setup(
        &d,
        None,
        TreeParams {
            trees: 2,
            max_depth: 3,
            ..TreeParams::default()
        },
        8,
        ColSample::default(),
    );
    let (a, b) = unseen_channel::duplex();
    let mut a = match guest_tamper {
        Some(t) => a.with_tamper(t),
        None => a,
    };
    let mut b = match host_tamper {
        Some(t) => b.with_tamper(t),
        None => b,
    };
    std::thread::scope(|sc| {
        let hg = sc.spawn(|| {
            let r = run_guest(&mut a, sk, &s.guest);
            drop(a);
            r
        });
        let hh = sc.spawn(|| {
            let r = run_host::<K::Public, _>(&mut b, &s.host);
            drop(b);
            r
        });
        (hg.join().unwrap(), hh.join().unwrap())
    })
}

fn replace(
    f: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
) -> impl FnMut(unseen_channel::Header, &[u8]) -> Tamper + Send + 'static {
    move |h, p| Tamper::Replace(h, f(p))
}

#[test]
fn hostile_host_histogram() {
    // truncated: one byte short
    let (g, _) = hostile(
        Some(on_step(
            step::HISTOGRAM,
            replace(|p| p[..p.len() - 1].to_vec()),
        )),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::BadMessage {
                what: "histogram",
                ..
            })
        ),
        "{g:?}"
    );
    // oversized: one more ciphertext than the step allows
    let (g, _) = hostile(
        Some(on_step(
            step::HISTOGRAM,
            replace(|p| {
                let mut v = p.to_vec();
                v.extend_from_slice(&p[..96]);
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(g, Err(FlError::Channel(ChannelError::FrameTooLarge { .. }))),
        "{g:?}"
    );
    // a ciphertext not below the modulus
    let (g, _) = hostile(
        Some(on_step(
            step::HISTOGRAM,
            replace(|p| {
                let mut v = p.to_vec();
                v[96 + 95] = 0xff;
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(g, Err(FlError::InvalidCiphertext { index: 1, .. })),
        "{g:?}"
    );
    // a valid ciphertext of the wrong sums: the bins do not add up to the node's totals
    let (g, _) = hostile(
        Some(on_step(
            step::HISTOGRAM,
            replace(|p| {
                let mut v = p.to_vec();
                v[0] ^= 1;
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(g, Err(FlError::BadHistogram { node: 0, .. })),
        "{g:?}"
    );
    // the wrong step
    let (g, _) = hostile(
        Some(on_step(step::HISTOGRAM, |_, p| {
            Tamper::Replace(header(step::PARTITION), p.to_vec())
        })),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::Channel(ChannelError::UnexpectedFrame { .. }))
        ),
        "{g:?}"
    );
}

#[test]
fn hostile_host_other_messages() {
    // host hello: truncated, wrong row count
    let (g, _) = hostile(
        Some(on_step(
            step::HOST_HELLO,
            replace(|p| p[..p.len() - 1].to_vec()),
        )),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::BadMessage {
                what: "host hello",
                ..
            })
        ),
        "{g:?}"
    );
    let (g, _) = hostile(
        Some(on_step(
            step::HOST_HELLO,
            replace(|p| {
                let mut v = p.to_vec();
                v[0] ^= 1;
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::CountMismatch {
                what: "host training rows",
                ..
            })
        ),
        "{g:?}"
    );
    // sampled features: out of range
    let (g, _) = hostile(
        Some(on_step(
            step::HOST_TREE,
            replace(|p| {
                let mut v = p.to_vec();
                let k = v.len();
                v[k - 2] = 200;
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(g, Err(FlError::BadField("sampled feature list"))),
        "{g:?}"
    );
    // partition: truncated, padding bits set
    let (g, _) = hostile(
        Some(on_step(
            step::PARTITION,
            replace(|p| p[..p.len().saturating_sub(1)].to_vec()),
        )),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::BadMessage {
                what: "partition",
                ..
            })
        ),
        "{g:?}"
    );
}

#[test]
fn hostile_guest_messages() {
    // a split on a candidate the host never offered
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::SPLITS,
            replace(|p| {
                let mut v = vec![1, 0, 0, 0, 3, 0, 7];
                v.push(*p.last().unwrap());
                v
            }),
        )),
    );
    assert!(
        matches!(
            h,
            Err(FlError::UnknownSplit {
                node: 0,
                feature: 3,
                bin: 7
            })
        ),
        "{h:?}"
    );
    // wrong count of gradient ciphertexts (truncated batch)
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::GRADIENTS,
            replace(|p| p[..p.len() - 96].to_vec()),
        )),
    );
    assert!(
        matches!(
            h,
            Err(FlError::BadMessage {
                what: "gradients",
                ..
            })
        ),
        "{h:?}"
    );
    // oversized batch
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::GRADIENTS,
            replace(|p| {
                let mut v = p.to_vec();
                v.extend_from_slice(&p[..96]);
                v
            }),
        )),
    );
    assert!(
        matches!(h, Err(FlError::Channel(ChannelError::FrameTooLarge { .. }))),
        "{h:?}"
    );
    // invalid ciphertext
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::GRADIENTS,
            replace(|p| {
                let mut v = p.to_vec();
                v[2 * 96 + 95] = 0xff;
                v
            }),
        )),
    );
    assert!(
        matches!(h, Err(FlError::InvalidCiphertext { index: 2, .. })),
        "{h:?}"
    );
    // level: node index out of range
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::LEVEL,
            replace(|p| {
                let mut v = p.to_vec();
                let k = v.len();
                v[k - 2] = 9;
                v
            }),
        )),
    );
    assert!(
        matches!(h, Err(FlError::BadField("row assignment"))),
        "{h:?}"
    );
    // wrong step
    let (_, h) = hostile(
        None,
        Some(on_step(step::LEVEL, |_, p| {
            Tamper::Replace(header(step::SPLITS), p.to_vec())
        })),
    );
    assert!(
        matches!(
            h,
            Err(FlError::Channel(ChannelError::UnexpectedFrame { .. }))
        ),
        "{h:?}"
    );
    // hello: bad key
    let (_, h) = hostile(
        None,
        Some(on_step(
            step::HELLO,
            replace(|p| {
                let mut v = p.to_vec();
                v[2] ^= 1;
                v
            }),
        )),
    );
    assert!(matches!(h, Err(FlError::BadField("public key"))), "{h:?}");
}

// ---------------------------------------------------------------- the real OU scheme

fn ou() -> &'static OuSecretKey {
    static KEY: std::sync::OnceLock<OuSecretKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| OuSecretKey::generate_from_seed(2048, [0x5b; 32]).unwrap())
}

#[test]
fn lossless_against_oracle_ou_2048() {
    lossless_and_prediction(ou(), 2000, small_params());
}

#[test]
fn hostile_ciphertexts_ou_2048() {
    let sk = ou();
    let len = sk.public().ciphertext_len();
    // a histogram ciphertext at or above the modulus (all ones)
    let (g, _) = hostile_with(
        sk,
        Some(on_step(
            step::HISTOGRAM,
            replace(move |p| {
                let mut v = p.to_vec();
                v[len..2 * len].fill(0xff);
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(
            g,
            Err(FlError::InvalidCiphertext {
                index: 1,
                source: unseen_crypto::Error::InvalidCiphertext { .. }
            })
        ),
        "{g:?}"
    );
    // a gradient ciphertext at or above the modulus, and one of zero
    for fill in [0xffu8, 0x00] {
        let (_, h) = hostile_with(
            sk,
            None,
            Some(on_step(
                step::GRADIENTS,
                replace(move |p| {
                    let mut v = p.to_vec();
                    v[3 * len..4 * len].fill(fill);
                    v
                }),
            )),
        );
        assert!(
            matches!(h, Err(FlError::InvalidCiphertext { index: 3, .. })),
            "{h:?}"
        );
    }
    // a histogram that decrypts to other sums than the node's
    let (g, _) = hostile_with(
        sk,
        Some(on_step(
            step::HISTOGRAM,
            replace(move |p| {
                let mut v = p.to_vec();
                let (a, b) = v.split_at_mut(len);
                a.swap_with_slice(&mut b[..len]);
                v
            }),
        )),
        None,
    );
    assert!(
        matches!(g, Err(FlError::BadHistogram { node: 0, .. })),
        "{g:?}"
    );
}
