//! The roles and drivers of SecureBoost training (Cheng et al. 2021, §"Federated learning with
//! SecureBoost", Algorithms 1 and 2), over a [`Channel`].
//!
//! Per tree: the guest computes `g, h` per row, quantizes them to `P` fraction bits, encrypts
//! one plaintext `g_q·2^W + h_q` per sampled row and sends them once (Algorithm 1, "encrypt
//! gradients"). Per level, the guest names each row's node and which nodes the host builds
//! (the smaller child of each split: histogram subtraction, as LightGBM and FATE do); the host
//! sums the encrypted values per (node, feature, bin) (Algorithm 2, "aggregate"), packs
//! [`slots`] bins per ciphertext by `c ← c·2^128 + c'` (Horner), adds a fresh encryption of the
//! slot offsets (which also re-randomises the sum) and sends them. The guest decrypts, derives
//! the sibling histograms by subtraction, checks that every host feature's bins sum to the
//! node's totals, and picks the best split over both parties' features (Algorithm 1, "find the
//! best split"). For a host split it sends `(node, feature, bin)`; the host stores a record
//! (the paper's lookup table) and returns only the left/right partition of that node's rows.
//! Leaves stay on the guest.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use unseen_channel::{Channel, Stats};
use unseen_crypto::he::{HePublicKey, HeSecretKey, Plaintext};

use super::bins::BinCuts;
use super::core::{
    G_OFFSET, GH, H_BITS, Node, SLOT_BITS, Tree, TreeParams, base_margin, check_labels, gain_floor,
    grad, leaf_weight, logloss, sample_columns, sample_rows, scan_feature,
};
use super::model::{
    GuestModel, GuestSplit, HostModel, HostRecord, recv_decisions, send_decisions, table_digest,
};
use super::msgs::{
    self, Finish, GRAD_CHUNK, Hello, HostHello, Level, NO_NODE, Next, SplitRequest, bitmap_len,
    check_frame, decode_bitmap, decode_ciphertexts, decode_indices, encode_bitmap, header, step,
};
use super::plain::ColSample;
use crate::FlError;

/// Histogram bins per ciphertext for a plaintext space of `plaintext_bits` (1 without packing).
pub fn slots(plaintext_bits: u32, pack: bool) -> usize {
    if pack {
        (plaintext_bits.saturating_sub(1) / SLOT_BITS).max(1) as usize
    } else {
        1
    }
}

fn crypto(e: unseen_crypto::Error) -> FlError {
    FlError::Crypto(e)
}

/// The host's inputs.
#[derive(Clone)]
pub struct HostConfig {
    /// The host's cut points.
    pub cuts: BinCuts,
    /// Binned training features (column-major).
    pub train: Vec<Vec<u8>>,
    /// Binned validation features (column-major; empty columns: none).
    pub valid: Vec<Vec<u8>>,
    /// Feature names.
    pub feature_names: Vec<String>,
    /// Column sampling.
    pub col_sample: ColSample,
}

impl core::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostConfig")
            .field("features", &self.train.len())
            .finish_non_exhaustive()
    }
}

impl HostConfig {
    /// Fits `bins` quantile bins on raw training `columns` and bins them and the validation
    /// columns (`valid` may be empty).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for inconsistent columns or names.
    pub fn new(
        train: &[Vec<f64>],
        valid: &[Vec<f64>],
        bins: usize,
        feature_names: Vec<String>,
        col_sample: ColSample,
    ) -> Result<Self, FlError> {
        if feature_names.len() != train.len() || train.len() > msgs::MAX_FEATURES {
            return Err(FlError::InvalidInput("host feature names or count".into()));
        }
        let cuts = BinCuts::fit(train, bins)?;
        let tb = cuts.bin_columns(train)?;
        let vb = if valid.is_empty() {
            vec![Vec::new(); train.len()]
        } else {
            cuts.bin_columns(valid)?
        };
        Ok(Self {
            cuts,
            train: tb,
            valid: vb,
            feature_names,
            col_sample,
        })
    }
}

/// The guest's inputs.
#[derive(Clone)]
pub struct GuestConfig {
    /// The guest's cut points.
    pub cuts: BinCuts,
    /// Binned training features (column-major).
    pub train: Vec<Vec<u8>>,
    /// Training labels (0 or 1).
    pub labels: Vec<u8>,
    /// Binned validation features and labels, for early stopping.
    pub valid: Option<(Vec<Vec<u8>>, Vec<u8>)>,
    /// Feature names.
    pub feature_names: Vec<String>,
    /// Hyper-parameters.
    pub params: TreeParams,
    /// Whether the host packs several bins per ciphertext.
    pub pack: bool,
}

impl core::fmt::Debug for GuestConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GuestConfig")
            .field("features", &self.train.len())
            .field("rows", &self.labels.len())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl GuestConfig {
    /// Fits `bins` quantile bins on raw training `columns`, bins them (and the validation
    /// columns, if any).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for inconsistent inputs.
    pub fn new(
        train: &[Vec<f64>],
        labels: Vec<u8>,
        valid: Option<(&[Vec<f64>], Vec<u8>)>,
        bins: usize,
        feature_names: Vec<String>,
        params: TreeParams,
    ) -> Result<Self, FlError> {
        if feature_names.len() != train.len() {
            return Err(FlError::InvalidInput("guest feature names".into()));
        }
        let cuts = BinCuts::fit(train, bins)?;
        let tb = cuts.bin_columns(train)?;
        let valid = match valid {
            Some((v, l)) => Some((cuts.bin_columns(v)?, l)),
            None => None,
        };
        Ok(Self {
            cuts,
            train: tb,
            labels,
            valid,
            feature_names,
            params,
            pack: true,
        })
    }
}

/// Counters and timings of the guest's run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuestReport {
    /// Wall time of each tree.
    pub tree_times: Vec<Duration>,
    /// Time spent encrypting.
    pub encrypt: Duration,
    /// Time spent waiting for and decoding host histograms.
    pub wait_histograms: Duration,
    /// Time spent decrypting.
    pub decrypt: Duration,
    /// Encryptions.
    pub encryptions: u64,
    /// Decryptions.
    pub decryptions: u64,
    /// Trees kept (after early stopping).
    pub trees_kept: usize,
}

/// What the guest gets.
#[derive(Clone, Debug)]
pub struct GuestOutput {
    /// The guest's model part.
    pub model: GuestModel,
    /// Traffic.
    pub stats: Stats,
    /// Counters and timings.
    pub report: GuestReport,
    /// The training rows' probabilities under the model (`None` when early stopping dropped
    /// trees), for the report's population stability.
    pub train_scores: Option<Vec<f64>>,
}

/// What the host gets.
#[derive(Clone, Debug)]
pub struct HostOutput {
    /// The host's model part.
    pub model: HostModel,
    /// Traffic.
    pub stats: Stats,
    /// Homomorphic additions performed.
    pub additions: u64,
    /// Time spent accumulating and packing histograms.
    pub accumulate: Duration,
}

/// A node of the level being grown, on the guest.
struct GNode {
    /// Index in the tree's node list.
    id: usize,
    /// All rows routed here (sampled or not).
    rows: Vec<u32>,
    /// Sums over the sampled rows.
    total: GH,
    /// Host histograms (per sampled host feature), once known.
    host: Option<Vec<Vec<GH>>>,
    /// Index of the sibling in the level and the parent's host histograms, when this node's
    /// histograms are derived by subtraction.
    derive: Option<(usize, std::sync::Arc<Vec<Vec<GH>>>)>,
}

/// The guest's side of training without I/O: it produces the frames to send and takes each
/// frame the host sent; [`run_guest`] moves them over a [`Channel`]. Every method validates
/// what it is given before use.
pub struct GuestRole<'a, K: HeSecretKey> {
    sk: &'a K,
    cfg: &'a GuestConfig,
    n: usize,
    nv: usize,
    rows32: u32,
    slots: usize,
    ct_len: usize,
    host_bins: Vec<usize>,
    gbins: Vec<usize>,
    base: f64,
    margins: Vec<f64>,
    vmargins: Vec<f64>,
    trees: Vec<Tree<GuestSplit>>,
    records: Vec<HostRecord>,
    records_at_tree: Vec<usize>,
    /// Best validation loss so far and the tree it was reached at.
    best: (f64, usize),
    stop: bool,
    report: GuestReport,
    floor: f64,
    // The tree being built.
    t: u32,
    t0: Instant,
    gh: Vec<GH>,
    sampled: Vec<bool>,
    gcols: Vec<usize>,
    /// Plaintexts still to encrypt and send (wiped as they go).
    pending: Vec<Plaintext>,
    sent: usize,
    hcols: Vec<usize>,
    cts_per_node: usize,
    node_msg_len: usize,
    nodes: Vec<Node<GuestSplit>>,
    level: Vec<GNode>,
    leaves: Vec<(usize, Vec<u32>)>,
    depth: u8,
    built: Vec<u16>,
    histograms: Vec<<K::Public as HePublicKey>::Ciphertext>,
    best_splits: Vec<Option<(GuestOrHost, f64)>>,
    requests: Vec<SplitRequest>,
    partition_len: usize,
    /// The finished tree, waiting for the validation decisions.
    done_tree: Option<Tree<GuestSplit>>,
}

impl<K: HeSecretKey> core::fmt::Debug for GuestRole<'_, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GuestRole")
            .field("rows", &self.n)
            .field("tree", &self.t)
            .finish_non_exhaustive()
    }
}

impl<'a, K: HeSecretKey> GuestRole<'a, K> {
    /// Checks the inputs.
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] (parameters, labels, columns).
    pub fn new(sk: &'a K, cfg: &'a GuestConfig) -> Result<Self, FlError> {
        let p = &cfg.params;
        p.validate()?;
        let n = cfg.labels.len();
        check_labels(&cfg.labels, n)?;
        if cfg.train.iter().any(|c| c.len() != n) || cfg.train.len() != cfg.cuts.features() {
            return Err(FlError::InvalidInput("guest columns".into()));
        }
        let nv = cfg.valid.as_ref().map_or(0, |(_, l)| l.len());
        let pk = sk.public();
        let rows32 = u32::try_from(n).map_err(|_| FlError::InvalidInput("rows".into()))?;
        let base = base_margin(&cfg.labels, p);
        Ok(Self {
            sk,
            cfg,
            n,
            nv,
            rows32,
            slots: slots(pk.plaintext_bits(), cfg.pack),
            ct_len: pk.ciphertext_len(),
            host_bins: Vec::new(),
            gbins: (0..cfg.train.len()).map(|f| cfg.cuts.bins_of(f)).collect(),
            base,
            margins: vec![base; n],
            vmargins: vec![base; nv],
            trees: Vec::new(),
            records: Vec::new(),
            records_at_tree: Vec::new(),
            best: (f64::INFINITY, 0),
            stop: false,
            report: GuestReport::default(),
            floor: gain_floor(p),
            t: 0,
            t0: Instant::now(),
            gh: Vec::new(),
            sampled: Vec::new(),
            gcols: Vec::new(),
            pending: Vec::new(),
            sent: 0,
            hcols: Vec::new(),
            cts_per_node: 0,
            node_msg_len: 0,
            nodes: Vec::new(),
            level: Vec::new(),
            leaves: Vec::new(),
            depth: 0,
            built: Vec::new(),
            histograms: Vec::new(),
            best_splits: Vec::new(),
            requests: Vec::new(),
            partition_len: 0,
            done_tree: None,
        })
    }

    /// The `HELLO` frame: public key, row counts, packing, maximum depth.
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for too many validation rows.
    pub fn hello(&self) -> Result<Vec<u8>, FlError> {
        Ok(Hello {
            public_key: self.sk.public().to_bytes(),
            rows: self.rows32,
            valid_rows: u32::try_from(self.nv).map_err(|_| FlError::InvalidInput("rows".into()))?,
            pack: self.cfg.pack,
            max_depth: self.cfg.params.max_depth,
        }
        .encode())
    }

    /// The host's `HOST_HELLO`: its row counts (must equal ours) and bins per feature.
    ///
    /// # Errors
    ///
    /// A malformed message, [`FlError::CountMismatch`].
    pub fn on_host_hello(&mut self, b: &[u8]) -> Result<(), FlError> {
        let hh = HostHello::decode(b)?;
        if hh.rows != self.rows32 {
            return Err(FlError::CountMismatch {
                what: "host training rows",
                got: u64::from(hh.rows),
                expected: u64::from(self.rows32),
            });
        }
        if hh.valid_rows as usize != self.nv {
            return Err(FlError::CountMismatch {
                what: "host validation rows",
                got: u64::from(hh.valid_rows),
                expected: self.nv as u64,
            });
        }
        self.host_bins = hh.bins.iter().map(|&b| usize::from(b)).collect();
        Ok(())
    }

    /// Starts the next tree: gradients and hessians of every row, row and column samples.
    /// Returns the `NEXT` frame, or `None` when every tree is built or early stopping ended
    /// training (then [`GuestRole::finish`]).
    pub fn start_tree(&mut self) -> Option<Vec<u8>> {
        if self.stop || self.t >= self.cfg.params.trees {
            return None;
        }
        let (p, t) = (&self.cfg.params, self.t);
        self.t0 = Instant::now();
        self.records_at_tree.push(self.records.len());
        self.gh = self
            .margins
            .iter()
            .zip(&self.cfg.labels)
            .map(|(&m, &y)| {
                let (g, h) = grad(m, y);
                GH {
                    g: i128::from(g),
                    h: i128::from(h),
                }
            })
            .collect();
        self.sampled = sample_rows(self.n, p.row_sample, p.seed, t);
        self.gcols = sample_columns(self.cfg.train.len(), p.col_sample, p.seed, t);
        // The packed (g, h) of the sampled rows, encrypted chunk by chunk as they are sent.
        self.pending = self
            .gh
            .iter()
            .zip(&self.sampled)
            .filter(|(_, s)| **s)
            .map(|(x, _)| Plaintext::from_i128((x.g << H_BITS) + x.h))
            .collect();
        self.sent = 0;
        Some(Next::Tree(t, self.sampled.clone()).encode())
    }

    /// The next `GRADIENTS` frame (up to [`GRAD_CHUNK`] encrypted packed `(g, h)`; never in the
    /// clear), or `None` once all are sent.
    ///
    /// # Errors
    ///
    /// Crypto errors.
    pub fn next_gradient_frame(&mut self) -> Result<Option<Vec<u8>>, FlError> {
        if self.sent >= self.pending.len() {
            if !self.pending.is_empty() {
                self.report.encryptions += self.pending.len() as u64;
                self.pending = Vec::new();
                self.sent = 0;
            }
            return Ok(None);
        }
        let te = Instant::now();
        let pk = self.sk.public();
        let end = (self.sent + GRAD_CHUNK).min(self.pending.len());
        let cts = pk
            .encrypt_batch(&self.pending[self.sent..end])
            .map_err(crypto)?;
        let mut buf = Vec::with_capacity(cts.len() * self.ct_len);
        for c in &cts {
            pk.write_ciphertext(c, &mut buf).map_err(crypto)?;
        }
        self.sent = end;
        self.report.encrypt += te.elapsed();
        Ok(Some(buf))
    }

    /// Largest `HOST_TREE` frame.
    pub fn host_tree_max_len(&self) -> usize {
        2 + 2 * self.host_bins.len()
    }

    /// The host's `HOST_TREE` (its sampled features); sets up the tree's root.
    ///
    /// # Errors
    ///
    /// A malformed message; histograms that would not fit a frame.
    pub fn on_host_tree(&mut self, b: &[u8]) -> Result<(), FlError> {
        self.hcols = decode_indices(b, self.host_bins.len())?;
        self.cts_per_node = self
            .hcols
            .iter()
            .map(|&f| self.host_bins[f].div_ceil(self.slots))
            .sum();
        self.node_msg_len = check_frame(self.cts_per_node * self.ct_len)?;
        self.nodes = vec![Node::Leaf { weight: 0.0 }];
        let root_rows: Vec<u32> = (0..self.rows32).collect();
        let total = sum_rows(&root_rows, &self.gh, &self.sampled);
        self.level = vec![GNode {
            id: 0,
            rows: root_rows,
            total,
            host: None,
            derive: None,
        }];
        self.leaves = Vec::new();
        self.depth = 0;
        Ok(())
    }

    /// The next `LEVEL` frame (each row's node, the nodes the host builds: the others are
    /// derived from their parent), or `None` when the tree is complete (then
    /// [`GuestRole::end_tree`]).
    ///
    /// # Errors
    ///
    /// [`FlError::Internal`] for a level too wide for the message.
    pub fn next_level(&mut self) -> Result<Option<Vec<u8>>, FlError> {
        if self.depth >= self.cfg.params.max_depth || self.level.is_empty() {
            return Ok(None);
        }
        let nodes_u16 = u16::try_from(self.level.len()).map_err(|_| FlError::Internal("level"))?;
        self.built = (0..nodes_u16)
            .filter(|&i| self.level[usize::from(i)].derive.is_none())
            .collect();
        let mut assign = vec![NO_NODE; self.n];
        for (i, nd) in self.level.iter().enumerate() {
            let i = u16::try_from(i).map_err(|_| FlError::Internal("level"))?;
            for &r in &nd.rows {
                assign[r as usize] = i;
            }
        }
        self.histograms = Vec::with_capacity(self.built.len() * self.cts_per_node);
        Ok(Some(
            Level {
                depth: self.depth,
                nodes: nodes_u16,
                built: self.built.clone(),
                assign,
            }
            .encode(),
        ))
    }

    /// How many `HISTOGRAM` frames the current level needs (one per built node), each of
    /// exactly [`GuestRole::histogram_len`] bytes.
    pub fn histograms_expected(&self) -> usize {
        self.built.len()
    }

    /// The exact length of one `HISTOGRAM` frame.
    pub fn histogram_len(&self) -> usize {
        self.node_msg_len
    }

    /// Adds time spent waiting for the host's histograms to the report (the driver measures
    /// it).
    pub fn add_wait(&mut self, d: Duration) {
        self.report.wait_histograms += d;
    }

    /// One `HISTOGRAM` frame: a built node's packed encrypted bins.
    ///
    /// # Errors
    ///
    /// A frame of the wrong size or an invalid ciphertext.
    pub fn on_histogram(&mut self, b: &[u8]) -> Result<(), FlError> {
        if self.histograms.len() >= self.built.len() * self.cts_per_node {
            return Err(FlError::Internal("histogram not expected"));
        }
        let pk = self.sk.public();
        self.histograms.extend(decode_ciphertexts(
            b,
            self.cts_per_node,
            self.ct_len,
            "histogram",
            |c| pk.read_ciphertext(c),
        )?);
        Ok(())
    }

    /// After all histograms of the level: decrypts them, derives the siblings', checks each
    /// host feature's bins against the node's totals and picks each node's best split over
    /// both parties (guest features first, then the host's: the oracle's order). Returns the
    /// `SPLITS` frame (the host candidates chosen, and whether another level follows).
    ///
    /// # Errors
    ///
    /// [`FlError::BadHistogram`] for histograms inconsistent with the node's totals.
    pub fn choose_splits(&mut self) -> Result<Vec<u8>, FlError> {
        if self.histograms.len() != self.built.len() * self.cts_per_node {
            return Err(FlError::Internal("histograms missing"));
        }
        let td = Instant::now();
        let pts = self.sk.decrypt_batch(&self.histograms);
        self.report.decryptions += pts.len() as u64;
        self.report.decrypt += td.elapsed();
        self.histograms = Vec::new();
        let cpn = self.cts_per_node;
        for (k, &bi) in self.built.iter().enumerate() {
            let nd = &mut self.level[usize::from(bi)];
            let hist = unpack_node(
                &pts[k * cpn..(k + 1) * cpn],
                &self.hcols,
                &self.host_bins,
                self.slots,
                nd.total,
            )
            .ok_or(FlError::BadHistogram {
                node: u32::from(bi),
                feature: 0,
            })?;
            nd.host = Some(hist);
        }
        for i in 0..self.level.len() {
            if let Some((sib, parent)) = self.level[i].derive.take() {
                let s = self.level[sib]
                    .host
                    .as_ref()
                    .ok_or(FlError::Internal("sibling"))?;
                let d: Vec<Vec<GH>> = parent
                    .iter()
                    .zip(s)
                    .map(|(pf, sf)| pf.iter().zip(sf).map(|(&a, &b)| a - b).collect())
                    .collect();
                self.level[i].host = Some(d);
            }
        }
        let (p, cfg, floor) = (&self.cfg.params, self.cfg, self.floor);
        let (gh, sampled, gcols, hcols, gbins) = (
            &self.gh,
            &self.sampled,
            &self.gcols,
            &self.hcols,
            &self.gbins,
        );
        self.best_splits = self
            .level
            .par_iter()
            .map(|nd| {
                let mut top = floor;
                let mut found = None;
                for &f in gcols {
                    let hist = histogram(&cfg.train[f], gbins[f], &nd.rows, gh, sampled);
                    if let Some((bin, gain)) = scan_feature(&hist, nd.total, p, top) {
                        top = gain;
                        found = Some((GuestOrHost::Guest(f, bin), gain));
                    }
                }
                if let Some(hh) = &nd.host {
                    for (k, &f) in hcols.iter().enumerate() {
                        if let Some((bin, gain)) = scan_feature(&hh[k], nd.total, p, top) {
                            top = gain;
                            found = Some((GuestOrHost::Host(f, bin), gain));
                        }
                    }
                }
                found
            })
            .collect();
        self.requests = Vec::new();
        for (i, b) in self.best_splits.iter().enumerate() {
            if let Some((GuestOrHost::Host(f, bin), _)) = b {
                self.requests.push(SplitRequest {
                    node: u16::try_from(i).map_err(|_| FlError::Internal("node"))?,
                    feature: u16::try_from(*f).map_err(|_| FlError::Internal("feature"))?,
                    bin: *bin,
                });
            }
        }
        let more = self.depth + 1 < p.max_depth && self.best_splits.iter().any(Option::is_some);
        self.partition_len = self
            .requests
            .iter()
            .map(|r| bitmap_len(self.level[usize::from(r.node)].rows.len()))
            .sum();
        Ok(msgs::encode_splits(&self.requests, more))
    }

    /// The exact length of the host's `PARTITION` frame for the splits just chosen.
    ///
    /// # Errors
    ///
    /// [`FlError`] if it would not fit a frame.
    pub fn partition_len(&self) -> Result<usize, FlError> {
        check_frame(self.partition_len)
    }

    /// The host's `PARTITION`: for each host split, which of the node's rows go left. Grows
    /// the next level (the smaller child of each split is built by the host, the other derived
    /// by subtraction).
    ///
    /// # Errors
    ///
    /// A frame of the wrong size or a malformed bitmap.
    #[allow(clippy::too_many_lines)] // one level's growth reads best in one piece
    pub fn on_partition(&mut self, pb: &[u8]) -> Result<(), FlError> {
        if pb.len() != self.partition_len {
            return Err(FlError::BadMessage {
                what: "partition",
                len: pb.len(),
                expected: self.partition_len,
            });
        }
        let p = &self.cfg.params;
        let mut at = 0usize;
        let mut host_left: Vec<Option<Vec<bool>>> = vec![None; self.level.len()];
        for r in &self.requests {
            let k = self.level[usize::from(r.node)].rows.len();
            let bl = bitmap_len(k);
            host_left[usize::from(r.node)] = Some(decode_bitmap(&pb[at..at + bl], k, "partition")?);
            at += bl;
        }
        let mut next: Vec<GNode> = Vec::new();
        let level = std::mem::take(&mut self.level);
        for (i, nd) in level.into_iter().enumerate() {
            let Some((which, gain)) = self.best_splits[i] else {
                self.nodes[nd.id] = Node::Leaf {
                    weight: leaf_weight(nd.total, p),
                };
                self.leaves.push((nd.id, nd.rows));
                continue;
            };
            let (rule, goes_left): (GuestSplit, Vec<bool>) = match which {
                GuestOrHost::Guest(f, bin) => (
                    GuestSplit::Guest {
                        feature: u32::try_from(f).map_err(|_| FlError::Internal("f"))?,
                        bin,
                    },
                    nd.rows
                        .iter()
                        .map(|&r| self.cfg.train[f][r as usize] <= bin)
                        .collect(),
                ),
                GuestOrHost::Host(f, bin) => {
                    let record = u32::try_from(self.records.len())
                        .map_err(|_| FlError::Internal("records"))?;
                    self.records.push(HostRecord {
                        feature: u16::try_from(f).map_err(|_| FlError::Internal("f"))?,
                        bin,
                    });
                    (
                        GuestSplit::Host { record },
                        host_left[i].take().ok_or(FlError::Internal("partition"))?,
                    )
                }
            };
            let (mut l, mut r) = (Vec::new(), Vec::new());
            for (&row, &gl) in nd.rows.iter().zip(&goes_left) {
                if gl { l.push(row) } else { r.push(row) }
            }
            let li = self.nodes.len();
            self.nodes.push(Node::Leaf { weight: 0.0 });
            self.nodes.push(Node::Leaf { weight: 0.0 });
            self.nodes[nd.id] = Node::Split {
                rule,
                gain,
                left: u32::try_from(li).map_err(|_| FlError::Internal("nodes"))?,
                right: u32::try_from(li + 1).map_err(|_| FlError::Internal("nodes"))?,
            };
            let (gh, sampled) = (&self.gh, &self.sampled);
            let (lt, rt) = (sum_rows(&l, gh, sampled), sum_rows(&r, gh, sampled));
            let ls = l.iter().filter(|&&x| sampled[x as usize]).count();
            let rs = r.iter().filter(|&&x| sampled[x as usize]).count();
            let parent = std::sync::Arc::new(nd.host.unwrap_or_default());
            let base_i = next.len();
            // Build the smaller child (fewer sampled rows; the left one on a tie).
            let (dl, dr) = if ls <= rs {
                (None, Some((base_i, parent)))
            } else {
                (Some((base_i + 1, parent)), None)
            };
            next.push(GNode {
                id: li,
                rows: l,
                total: lt,
                host: None,
                derive: dl,
            });
            next.push(GNode {
                id: li + 1,
                rows: r,
                total: rt,
                host: None,
                derive: dr,
            });
        }
        self.level = next;
        self.depth += 1;
        Ok(())
    }

    /// After the tree's last level: the remaining nodes become leaves and every training row's
    /// margin moves by its leaf's weight. Returns how many validation decisions to expect from
    /// the host (its records made in this tree, on the validation rows), if any.
    pub fn end_tree(&mut self) -> Option<(usize, usize)> {
        let p = &self.cfg.params;
        for nd in std::mem::take(&mut self.level) {
            self.nodes[nd.id] = Node::Leaf {
                weight: leaf_weight(nd.total, p),
            };
            self.leaves.push((nd.id, nd.rows));
        }
        for (id, rows) in &self.leaves {
            if let Node::Leaf { weight } = self.nodes[*id] {
                for &r in rows {
                    self.margins[r as usize] += weight;
                }
            }
        }
        self.done_tree = Some(Tree {
            nodes: std::mem::take(&mut self.nodes),
        });
        let first = self.records_at_tree.last().copied().unwrap_or(0);
        (self.cfg.valid.is_some() && self.nv > 0).then(|| (self.records.len() - first, self.nv))
    }

    /// Closes the tree with the host's decisions on the validation rows (when
    /// [`GuestRole::end_tree`] asked for them): validation margins, early stopping.
    ///
    /// # Errors
    ///
    /// [`FlError::Internal`] without a finished tree or with decisions of the wrong shape.
    pub fn close_tree(&mut self, host_valid: Option<&[Vec<bool>]>) -> Result<(), FlError> {
        let tree = self
            .done_tree
            .take()
            .ok_or(FlError::Internal("no tree to close"))?;
        let first = self.records_at_tree.last().copied().unwrap_or(0);
        if let (Some((vcols, vlabels)), Some(dec)) = (self.cfg.valid.as_ref(), host_valid) {
            if dec.len() != self.records.len() - first {
                return Err(FlError::Internal("validation decisions"));
            }
            for (i, vm) in self.vmargins.iter_mut().enumerate() {
                *vm += tree
                    .eval(|s| match s {
                        GuestSplit::Guest { feature, bin } => vcols[feature as usize][i] <= bin,
                        GuestSplit::Host { record } => dec[record as usize - first][i],
                    })
                    .unwrap_or(0.0);
            }
            if let Some(rounds) = self.cfg.params.early_stopping_rounds {
                let loss = logloss(&self.vmargins, vlabels);
                let ti = self.trees.len();
                if loss < self.best.0 {
                    self.best = (loss, ti);
                } else if ti - self.best.1 >= rounds as usize {
                    self.stop = true;
                }
            }
        }
        self.trees.push(tree);
        self.report.tree_times.push(self.t0.elapsed());
        if self.stop {
            let keep = self.best.1 + 1;
            self.trees.truncate(keep);
            self.records.truncate(self.records_at_tree[keep]);
        }
        self.t += 1;
        Ok(())
    }

    /// Ends training: draws the model id and returns the `NEXT` frame that tells the host how
    /// many of its records the model keeps, and the guest's result (`stats` are filled in by
    /// [`GuestRole::with_stats`] once the frame is sent).
    ///
    /// # Errors
    ///
    /// [`FlError::Internal`] if the random number generator fails.
    pub fn finish(self) -> Result<(Vec<u8>, GuestOutput), FlError> {
        let mut model_id = [0u8; 16];
        getrandom::fill(&mut model_id).map_err(|_| FlError::Internal("random model id"))?;
        let host_records =
            u32::try_from(self.records.len()).map_err(|_| FlError::Internal("records"))?;
        let frame = Next::Finish(Finish {
            model_id,
            records: host_records,
        })
        .encode();
        let mut report = self.report;
        report.trees_kept = self.trees.len();
        // The training rows' probabilities under the kept trees (early stopping may have
        // dropped trees after the best one: then they are not the final model's and are not
        // returned).
        let train_scores = (self.trees.len() == report.tree_times.len()).then(|| {
            self.margins
                .iter()
                .map(|&m| 1.0 / (1.0 + (-m).exp()))
                .collect()
        });
        let cfg = self.cfg;
        Ok((
            frame,
            GuestOutput {
                train_scores,
                model: GuestModel {
                    model_id,
                    base_margin: self.base,
                    trees: self.trees,
                    cuts: cfg.cuts.clone(),
                    feature_names: cfg.feature_names.clone(),
                    params: cfg.params.clone(),
                    host_records,
                    host_digest: table_digest(&model_id, &self.records),
                    host_features: self.records.iter().map(|r| r.feature).collect(),
                },
                stats: Stats::default(),
                report,
            },
        ))
    }
}

/// Runs the guest: moves [`GuestRole`]'s frames over `ch`.
///
/// # Errors
///
/// [`FlError`] of the channel, the decoders (a host message inconsistent with the session is
/// refused with a typed error) or invalid local input.
pub fn run_guest<K: HeSecretKey, C: Channel>(
    ch: &mut C,
    sk: &K,
    cfg: &GuestConfig,
) -> Result<GuestOutput, FlError> {
    let mut role = GuestRole::new(sk, cfg)?;
    ch.send(header(step::HELLO), role.hello()?)?;
    role.on_host_hello(&ch.recv(header(step::HOST_HELLO), HostHello::MAX_LEN)?)?;
    while let Some(next) = role.start_tree() {
        ch.send(header(step::NEXT), next)?;
        while let Some(frame) = role.next_gradient_frame()? {
            ch.send(header(step::GRADIENTS), frame)?;
        }
        role.on_host_tree(&ch.recv(header(step::HOST_TREE), role.host_tree_max_len())?)?;
        while let Some(level) = role.next_level()? {
            ch.send(header(step::LEVEL), level)?;
            let tw = Instant::now();
            for _ in 0..role.histograms_expected() {
                role.on_histogram(&ch.recv(header(step::HISTOGRAM), role.histogram_len())?)?;
            }
            role.add_wait(tw.elapsed());
            ch.send(header(step::SPLITS), role.choose_splits()?)?;
            role.on_partition(&ch.recv(header(step::PARTITION), role.partition_len()?)?)?;
        }
        let valid = match role.end_tree() {
            Some((records, rows)) => Some(recv_decisions(ch, header(step::VALID), records, rows)?),
            None => None,
        };
        role.close_tree(valid.as_deref())?;
    }
    let (finish, mut out) = role.finish()?;
    ch.send(header(step::NEXT), finish)?;
    ch.flush()?;
    out.stats = ch.stats();
    Ok(out)
}

#[derive(Clone, Copy)]
enum GuestOrHost {
    Guest(usize, u8),
    Host(usize, u8),
}

fn sum_rows(rows: &[u32], gh: &[GH], sampled: &[bool]) -> GH {
    let mut t = GH::default();
    for &r in rows {
        if sampled[r as usize] {
            t += gh[r as usize];
        }
    }
    t
}

fn histogram(col: &[u8], nbins: usize, rows: &[u32], gh: &[GH], sampled: &[bool]) -> Vec<GH> {
    let mut h = vec![GH::default(); nbins];
    for &r in rows {
        let r = r as usize;
        if sampled[r] {
            h[usize::from(col[r])] += gh[r];
        }
    }
    h
}

/// Unpacks one node's decrypted histograms; `None` if a slot is out of range or a feature's
/// bins do not sum to the node's totals (an inconsistent host).
fn unpack_node(
    pts: &[Plaintext],
    hcols: &[usize],
    host_bins: &[usize],
    slots: usize,
    total: GH,
) -> Option<Vec<Vec<GH>>> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(hcols.len());
    let hmask = (1u128 << H_BITS) - 1;
    for &f in hcols {
        let nb = host_bins[f];
        let mut hist = Vec::with_capacity(nb);
        let mut sum = GH::default();
        for c in 0..nb.div_ceil(slots) {
            let m = slots.min(nb - c * slots);
            let p = &pts[at];
            at += 1;
            if p.is_negative() || p.bits() > u32::try_from(m).ok()? * SLOT_BITS {
                return None;
            }
            for s in p.unpack(SLOT_BITS, m).ok()? {
                let g = i128::try_from(s >> H_BITS).ok()? - G_OFFSET;
                let h = i128::try_from(s & hmask).ok()?;
                let x = GH { g, h };
                sum += x;
                hist.push(x);
            }
        }
        if sum != total {
            return None;
        }
        out.push(hist);
    }
    Some(out)
}

/// The host's side of training without I/O: it takes each frame the guest sent and returns
/// the frames to answer with; [`run_host`] moves them over a [`Channel`]. Every method
/// validates what it is given before use.
pub struct HostRole<'c, K: HePublicKey> {
    cfg: &'c HostConfig,
    hello: Hello,
    pk: K,
    n: usize,
    nv: usize,
    bins: Vec<usize>,
    slots: usize,
    ct_len: usize,
    /// Offsets making every packed slot non-negative, per number of slots in a ciphertext.
    offsets: Vec<Plaintext>,
    records: Vec<HostRecord>,
    additions: u64,
    accumulate: Duration,
    expected_tree: u32,
    /// The guest's `Finish`, once received.
    finish: Option<Finish>,
    // The tree being built.
    first_record: usize,
    cols: Vec<usize>,
    sampled_count: usize,
    grads: Vec<K::Ciphertext>,
    /// Ciphertext index of each sampled row (`u32::MAX`: not sampled).
    cidx: Vec<u32>,
    depth_expected: u8,
    more: bool,
    /// Rows of each node of the current level.
    node_rows: Vec<Vec<u32>>,
}

impl<K: HePublicKey> core::fmt::Debug for HostRole<'_, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostRole")
            .field("rows", &self.n)
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl<'c, K: HePublicKey> HostRole<'c, K> {
    /// Reads the guest's `Hello` (its public key) and returns the role and the `HostHello` to
    /// send. Send it before [`HostRole::check_hello`], so that a guest with other row counts
    /// learns ours and fails with the same mismatch.
    ///
    /// # Errors
    ///
    /// [`FlError::BadField`] for a public key that does not decode; input errors.
    pub fn new(cfg: &'c HostConfig, hello: Hello) -> Result<(Self, HostHello), FlError> {
        let pk = K::from_bytes(&hello.public_key).map_err(|_| FlError::BadField("public key"))?;
        let n = cfg.train.first().map_or(0, Vec::len);
        let nv = cfg.valid.first().map_or(0, Vec::len);
        let bins: Vec<usize> = (0..cfg.train.len()).map(|f| cfg.cuts.bins_of(f)).collect();
        let host_hello = HostHello {
            rows: u32::try_from(n).map_err(|_| FlError::InvalidInput("rows".into()))?,
            valid_rows: u32::try_from(nv).map_err(|_| FlError::InvalidInput("rows".into()))?,
            bins: bins
                .iter()
                .map(|&b| u16::try_from(b).unwrap_or(u16::MAX))
                .collect(),
        };
        let slots = slots(pk.plaintext_bits(), hello.pack);
        let ct_len = pk.ciphertext_len();
        let offsets: Vec<Plaintext> = (0..=slots)
            .map(|m| {
                Plaintext::pack(
                    &vec![u128::try_from(G_OFFSET).unwrap_or(0) << H_BITS; m],
                    SLOT_BITS,
                )
            })
            .collect::<Result<_, _>>()
            .map_err(crypto)?;
        let role = Self {
            cfg,
            hello,
            pk,
            n,
            nv,
            bins,
            slots,
            ct_len,
            offsets,
            records: Vec::new(),
            additions: 0,
            accumulate: Duration::ZERO,
            expected_tree: 0,
            finish: None,
            first_record: 0,
            cols: Vec::new(),
            sampled_count: 0,
            grads: Vec::new(),
            cidx: Vec::new(),
            depth_expected: 0,
            more: false,
            node_rows: Vec::new(),
        };
        Ok((role, host_hello))
    }

    /// Checks the guest's row counts against ours.
    ///
    /// # Errors
    ///
    /// [`FlError::CountMismatch`].
    pub fn check_hello(&self) -> Result<(), FlError> {
        if self.hello.rows as usize != self.n {
            return Err(FlError::CountMismatch {
                what: "guest training rows",
                got: u64::from(self.hello.rows),
                expected: self.n as u64,
            });
        }
        if self.hello.valid_rows != 0 && self.hello.valid_rows as usize != self.nv {
            return Err(FlError::CountMismatch {
                what: "guest validation rows",
                got: u64::from(self.hello.valid_rows),
                expected: self.nv as u64,
            });
        }
        Ok(())
    }

    /// Largest `NEXT` frame.
    pub fn next_max_len(&self) -> usize {
        Next::max_len(self.n)
    }

    /// The guest's `NEXT`: a new tree (returns the `HOST_TREE` frame, this tree's sampled
    /// features) or the end of training (returns `None`; then [`HostRole::into_output`]).
    ///
    /// # Errors
    ///
    /// A malformed message, a tree out of order, more records kept than made.
    pub fn on_next(&mut self, b: &[u8]) -> Result<Option<Vec<u8>>, FlError> {
        let (tree, sampled) = match Next::decode(b, self.n)? {
            Next::Tree(t, s) => (t, s),
            Next::Finish(f) => {
                let kept = f.records as usize;
                if kept > self.records.len() {
                    return Err(FlError::CountMismatch {
                        what: "host records kept",
                        got: u64::from(f.records),
                        expected: self.records.len() as u64,
                    });
                }
                self.records.truncate(kept);
                self.finish = Some(f);
                return Ok(None);
            }
        };
        if tree != self.expected_tree {
            return Err(FlError::BadField("tree index"));
        }
        self.expected_tree += 1;
        self.first_record = self.records.len();
        let c = &self.cfg.col_sample;
        self.cols = sample_columns(self.cfg.train.len(), c.rate, c.seed, tree);
        self.sampled_count = sampled.iter().filter(|&&s| s).count();
        self.grads = Vec::with_capacity(self.sampled_count);
        self.cidx = vec![u32::MAX; self.n];
        let mut k = 0u32;
        for (i, &s) in sampled.iter().enumerate() {
            if s {
                self.cidx[i] = k;
                k += 1;
            }
        }
        self.depth_expected = 0;
        self.more = true;
        Ok(Some(msgs::encode_indices(&self.cols)))
    }

    /// The exact length of the next `GRADIENTS` frame, or `None` once all arrived.
    pub fn gradient_frame_len(&self) -> Option<usize> {
        (self.grads.len() < self.sampled_count)
            .then(|| GRAD_CHUNK.min(self.sampled_count - self.grads.len()) * self.ct_len)
    }

    /// One `GRADIENTS` frame: encrypted packed `(g, h)` of the next sampled rows.
    ///
    /// # Errors
    ///
    /// A frame of the wrong size, an invalid ciphertext, a frame not expected.
    pub fn on_gradients(&mut self, b: &[u8]) -> Result<(), FlError> {
        if self.grads.len() >= self.sampled_count {
            return Err(FlError::Internal("gradients not expected"));
        }
        let k = GRAD_CHUNK.min(self.sampled_count - self.grads.len());
        let pk = &self.pk;
        self.grads
            .extend(decode_ciphertexts(b, k, self.ct_len, "gradients", |c| {
                pk.read_ciphertext(c)
            })?);
        Ok(())
    }

    /// Whether the guest said another level follows (checked by [`HostRole::check_more`]).
    pub fn more(&self) -> bool {
        self.more
    }

    /// Largest `LEVEL` frame.
    pub fn level_max_len(&self) -> usize {
        Level::max_len(self.n)
    }

    /// A `LEVEL`: each row's node and the nodes to build. Sums the encrypted gradients per
    /// (built node, sampled feature, bin) with the key's bucket-sum kernel (OU: eight features
    /// per AVX-512 IFMA multiplication), packs [`slots`] bins per ciphertext and adds a fresh
    /// encryption of the offsets; returns one `HISTOGRAM` frame per built node.
    ///
    /// # Errors
    ///
    /// A malformed level or one out of order; crypto errors.
    pub fn on_level(&mut self, b: &[u8]) -> Result<Vec<Vec<u8>>, FlError> {
        if self.gradient_frame_len().is_some() {
            return Err(FlError::Internal("level before all gradients"));
        }
        let level = Level::decode(b, self.n, self.hello.max_depth)?;
        if level.depth != self.depth_expected {
            return Err(FlError::BadField("level depth"));
        }
        self.depth_expected += 1;
        let nodes = usize::from(level.nodes);
        let mut node_rows: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (r, &a) in level.assign.iter().enumerate() {
            if a != NO_NODE {
                node_rows[usize::from(a)]
                    .push(u32::try_from(r).map_err(|_| FlError::Internal("row"))?);
            }
        }
        let (pk, cols, bins, slots) = (&self.pk, &self.cols, &self.bins, self.slots);
        let ta = Instant::now();
        let by_row: std::borrow::Cow<'_, [K::Ciphertext]> = if self.grads.len() == self.n {
            std::borrow::Cow::Borrowed(&self.grads[..])
        } else {
            // Row sampling: ciphertexts indexed by row (unsampled rows never summed).
            std::borrow::Cow::Owned(
                self.cidx
                    .iter()
                    .map(|&ci| {
                        self.grads
                            .get(ci as usize)
                            .cloned()
                            .unwrap_or_else(|| pk.zero())
                    })
                    .collect(),
            )
        };
        let built_rows: Vec<Vec<u32>> = level
            .built
            .iter()
            .map(|&b| {
                node_rows[usize::from(b)]
                    .iter()
                    .copied()
                    .filter(|&r| self.cidx[r as usize] != u32::MAX)
                    .collect()
            })
            .collect();
        let node_refs: Vec<&[u32]> = built_rows.iter().map(Vec::as_slice).collect();
        let bin_cols: Vec<&[u8]> = cols.iter().map(|&f| self.cfg.train[f].as_slice()).collect();
        let n_bins = cols.iter().map(|&f| bins[f]).max().unwrap_or(1).max(1);
        let sums = pk
            .bucket_sums(&by_row, &bin_cols, &node_refs, n_bins)
            .map_err(crypto)?;
        self.additions +=
            built_rows.iter().map(|r| r.len() as u64).sum::<u64>() * cols.len() as u64;
        // Pack: each (node, feature)'s bins in chunks of `slots`, Horner from the last bin
        // (acc·2^SLOT_BITS + next), all chunks of the level in one batch per step.
        let mut chunks: Vec<(usize, &[K::Ciphertext])> = Vec::new();
        for (b, per_f) in sums.iter().enumerate() {
            for (j, hist) in per_f.iter().enumerate() {
                for chunk in hist[..bins[cols[j]]].chunks(slots) {
                    chunks.push((b, chunk));
                }
            }
        }
        let mut accs: Vec<K::Ciphertext> = chunks
            .iter()
            .map(|(_, c)| c.last().cloned().ok_or(FlError::Internal("empty chunk")))
            .collect::<Result<_, _>>()?;
        let longest = chunks.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        for t in 1..longest {
            let active: Vec<usize> = (0..chunks.len())
                .filter(|&i| chunks[i].1.len() > t)
                .collect();
            let mut sub: Vec<K::Ciphertext> = active.iter().map(|&i| accs[i].clone()).collect();
            let add: Vec<K::Ciphertext> = active
                .iter()
                .map(|&i| chunks[i].1[chunks[i].1.len() - 1 - t].clone())
                .collect();
            pk.shift_add_many(&mut sub, SLOT_BITS, &add)
                .map_err(crypto)?;
            for (&i, c) in active.iter().zip(sub) {
                accs[i] = c;
            }
        }
        // A fresh encryption of the offsets per chunk: every slot non-negative, and the sum
        // re-randomised (the guest cannot match it to its own encryptions).
        let offs: Vec<Plaintext> = chunks
            .iter()
            .map(|(_, c)| self.offsets[c.len()].clone())
            .collect();
        let offs = pk.encrypt_batch(&offs).map_err(crypto)?;
        pk.add_many(&mut accs, &offs).map_err(crypto)?;
        let mut per_node: Vec<Vec<u8>> = vec![Vec::new(); built_rows.len()];
        for ((b, _), acc) in chunks.iter().zip(&accs) {
            pk.write_ciphertext(acc, &mut per_node[*b])
                .map_err(crypto)?;
        }
        self.accumulate += ta.elapsed();
        self.node_rows = node_rows;
        Ok(per_node)
    }

    /// Largest `SPLITS` frame for the current level.
    pub fn splits_max_len(&self) -> usize {
        msgs::splits_max_len(self.node_rows.len())
    }

    /// The guest's `SPLITS` on host candidates: stores a record per split and returns the
    /// `PARTITION` frame (each split node's rows, left or right).
    ///
    /// # Errors
    ///
    /// [`FlError::UnknownSplit`] for a candidate the host never offered; a malformed message.
    pub fn on_splits(&mut self, b: &[u8]) -> Result<Vec<u8>, FlError> {
        let nodes = self.node_rows.len();
        let (reqs, more) = msgs::decode_splits(b, nodes)?;
        self.more = more;
        let mut out = Vec::new();
        for r in &reqs {
            let f = usize::from(r.feature);
            if self.cols.binary_search(&f).is_err() || usize::from(r.bin) + 1 >= self.bins[f] {
                return Err(FlError::UnknownSplit {
                    node: u32::from(r.node),
                    feature: u32::from(r.feature),
                    bin: u32::from(r.bin),
                });
            }
            self.records.push(HostRecord {
                feature: r.feature,
                bin: r.bin,
            });
            let rows = &self.node_rows[usize::from(r.node)];
            let col = &self.cfg.train[f];
            out.extend(encode_bitmap(
                rows.iter().map(|&x| col[x as usize] <= r.bin),
                rows.len(),
            ));
        }
        Ok(out)
    }

    /// After the `PARTITION` was sent: whether another level follows.
    ///
    /// # Errors
    ///
    /// [`FlError::BadField`] if the guest announces a level beyond its own maximum depth.
    pub fn check_more(&self) -> Result<bool, FlError> {
        if self.more && self.depth_expected >= self.hello.max_depth {
            return Err(FlError::BadField("more levels than the maximum depth"));
        }
        Ok(self.more)
    }

    /// After a tree's last level: this tree's records' decisions on the validation rows, to
    /// send (`None` when the guest has no validation set).
    pub fn validation_decisions(&self) -> Option<Vec<Vec<bool>>> {
        (self.hello.valid_rows > 0).then(|| {
            self.records[self.first_record..]
                .iter()
                .map(|r| {
                    self.cfg.valid[usize::from(r.feature)]
                        .iter()
                        .map(|&b| b <= r.bin)
                        .collect()
                })
                .collect()
        })
    }

    /// Validation rows.
    pub fn valid_rows(&self) -> usize {
        self.nv
    }

    /// The host's result, after the guest's `Finish`.
    ///
    /// # Errors
    ///
    /// [`FlError::Internal`] before the guest finished.
    pub fn into_output(self, stats: Stats) -> Result<HostOutput, FlError> {
        let f = self
            .finish
            .ok_or(FlError::Internal("training has not finished"))?;
        Ok(HostOutput {
            model: HostModel {
                model_id: f.model_id,
                records: self.records,
                cuts: self.cfg.cuts.clone(),
                feature_names: self.cfg.feature_names.clone(),
            },
            stats,
            additions: self.additions,
            accumulate: self.accumulate,
        })
    }
}

/// Runs the host: moves [`HostRole`]'s frames over `ch`.
///
/// # Errors
///
/// [`FlError`] of the channel, the decoders (a guest message inconsistent with the session is
/// refused: [`FlError::UnknownSplit`] for a candidate the host never offered), or local input.
pub fn run_host<K: HePublicKey, C: Channel>(
    ch: &mut C,
    cfg: &HostConfig,
) -> Result<HostOutput, FlError> {
    let hello = Hello::decode(&ch.recv(header(step::HELLO), Hello::MAX_LEN)?)?;
    let (mut role, host_hello) = HostRole::<K>::new(cfg, hello)?;
    ch.send(header(step::HOST_HELLO), host_hello.encode())?;
    role.check_hello()?;
    loop {
        let next = ch.recv(header(step::NEXT), role.next_max_len())?;
        let Some(cols) = role.on_next(&next)? else {
            ch.flush()?;
            return role.into_output(ch.stats());
        };
        ch.send(header(step::HOST_TREE), cols)?;
        while let Some(len) = role.gradient_frame_len() {
            role.on_gradients(&ch.recv(header(step::GRADIENTS), len)?)?;
        }
        loop {
            let level = ch.recv(header(step::LEVEL), role.level_max_len())?;
            for frame in role.on_level(&level)? {
                ch.send(header(step::HISTOGRAM), frame)?;
            }
            let splits = ch.recv(header(step::SPLITS), role.splits_max_len())?;
            ch.send(header(step::PARTITION), role.on_splits(&splits)?)?;
            if !role.check_more()? {
                break;
            }
        }
        if let Some(d) = role.validation_decisions() {
            send_decisions(ch, header(step::VALID), &d, role.valid_rows())?;
        }
    }
}
