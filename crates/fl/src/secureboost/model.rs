//! The two model parts, their files, federated prediction and feature importance.
//!
//! The guest part holds the trees (guest thresholds as `(feature, bin)` with its own cut points,
//! host splits as opaque record ids), leaf weights, the base margin, the hyper-parameters and
//! the guest's feature names. The host part holds its split table (record id → feature, bin)
//! and its cut points (raw thresholds) and feature names. Both store the model id (16 random
//! bytes) and the host table's size and digest, so that two parts of different models are
//! refused when loaded together ([`check_pair`]) and in the prediction handshake.
//!
//! File format (little-endian): magic `USBG` (guest) or `USBH` (host), format version `u16`,
//! model id (16 bytes), then the part's fields, then a SHA-256 of everything before it (detects
//! truncation and corruption; not a signature).

use sha2::{Digest, Sha256};
use unseen_channel::codec::{Reader, Writer};
use unseen_channel::{Channel, Stats};

use super::bins::BinCuts;
use super::core::{Node, Tree, TreeParams, sigmoid};
use super::msgs::{
    self, PredictHello, bitmap_len, decision_chunk_records, decode_bitmap, encode_bitmap, pheader,
    pstep,
};
use crate::FlError;

/// Version of the model file format.
pub const FORMAT_VERSION: u16 = 1;
const MAGIC_GUEST: &[u8; 4] = b"USBG";
const MAGIC_HOST: &[u8; 4] = b"USBH";
/// Largest model file accepted (256 MiB).
pub const MAX_MODEL_BYTES: usize = 256 << 20;

/// A split rule as the guest stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestSplit {
    /// Guest feature `feature`: rows with bin `≤ bin` (value `< cuts[feature][bin]`) go left.
    Guest {
        /// Guest feature index.
        feature: u32,
        /// Last bin going left.
        bin: u8,
    },
    /// A host split, known to the guest only by the host's record id.
    Host {
        /// Record id in the host's split table.
        record: u32,
    },
}

/// One host split record: `x[feature] < cuts[feature][bin]` goes left.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HostRecord {
    /// Host feature index.
    pub feature: u16,
    /// Last bin going left.
    pub bin: u8,
}

impl core::fmt::Debug for HostRecord {
    // Which host feature and threshold a record uses is the host's secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HostRecord(..)")
    }
}

/// The commitment both parts store to the host split table: SHA-256 over a domain label, the
/// model id and every record's `(feature, bin)`. The guest can compute it too (it chose each
/// record's candidate), so it reveals nothing new to it.
pub fn table_digest(model_id: &[u8; 16], records: &[HostRecord]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"unseen-secureboost-v1 host table");
    h.update(model_id);
    h.update((records.len() as u64).to_le_bytes());
    for r in records {
        h.update(r.feature.to_le_bytes());
        h.update([r.bin]);
    }
    h.finalize().into()
}

/// Feature importance as one party sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Importance {
    /// Per own feature (by name): splits using it and their total gain.
    pub features: Vec<(String, u32, f64)>,
    /// Guest only: per host record id, its gain (each record is one node). The host can map
    /// ids to its features ([`HostModel::importance`]) if the guest shares this.
    pub host_records: Vec<(u32, f64)>,
    /// Guest only: per host feature index, its splits and total gain (names stay with the
    /// host).
    pub host_features: Vec<(u16, u32, f64)>,
}

/// The guest's part of a model.
#[derive(Clone, PartialEq)]
pub struct GuestModel {
    /// Shared with the host part.
    pub model_id: [u8; 16],
    /// Initial margin.
    pub base_margin: f64,
    /// The trees.
    pub trees: Vec<Tree<GuestSplit>>,
    /// The guest's cut points.
    pub cuts: BinCuts,
    /// The guest's feature names.
    pub feature_names: Vec<String>,
    /// Hyper-parameters used.
    pub params: TreeParams,
    /// Host records the model uses.
    pub host_records: u32,
    /// [`table_digest`] of the host table.
    pub host_digest: [u8; 32],
    /// The host feature *index* of each host record (the guest chose every record's candidate
    /// from that feature's histogram, so it knows the index, never the name or the threshold):
    /// for feature importance per party.
    pub host_features: Vec<u16>,
}

impl core::fmt::Debug for GuestModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GuestModel")
            .field("model_id", &hex_id(&self.model_id))
            .field("trees", &self.trees.len())
            .field("host_records", &self.host_records)
            .finish_non_exhaustive()
    }
}

/// The host's part of a model.
#[derive(Clone, PartialEq)]
pub struct HostModel {
    /// Shared with the guest part.
    pub model_id: [u8; 16],
    /// Split table: record id (index) → feature and bin.
    pub records: Vec<HostRecord>,
    /// The host's cut points.
    pub cuts: BinCuts,
    /// The host's feature names.
    pub feature_names: Vec<String>,
}

impl core::fmt::Debug for HostModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostModel")
            .field("model_id", &hex_id(&self.model_id))
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

/// A model id in hex.
pub fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that a guest part and a host part belong to the same model.
///
/// # Errors
///
/// [`FlError::ModelMismatch`].
pub fn check_pair(g: &GuestModel, h: &HostModel) -> Result<(), FlError> {
    if g.model_id != h.model_id {
        return Err(FlError::ModelMismatch("model ids differ"));
    }
    if g.host_records as usize != h.records.len() || g.host_digest != h.digest() {
        return Err(FlError::ModelMismatch("host split tables differ"));
    }
    Ok(())
}

impl HostModel {
    /// [`table_digest`] of this table.
    pub fn digest(&self) -> [u8; 32] {
        table_digest(&self.model_id, &self.records)
    }

    /// Each record's decision (`true`: left) on each row of raw `columns` (column-major).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for a wrong number of columns or a non-finite value.
    pub fn decisions(&self, columns: &[Vec<f64>]) -> Result<Vec<Vec<bool>>, FlError> {
        let binned = self.cuts.bin_columns(columns)?;
        Ok(self
            .records
            .iter()
            .map(|r| {
                binned[usize::from(r.feature)]
                    .iter()
                    .map(|&b| b <= r.bin)
                    .collect()
            })
            .collect())
    }

    /// Each record's decision on one row (real-time scoring).
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for a wrong number of values or a non-finite value.
    pub fn decide_row(&self, row: &[f64]) -> Result<Vec<bool>, FlError> {
        if row.len() != self.cuts.features() || row.iter().any(|v| !v.is_finite()) {
            return Err(FlError::InvalidInput(
                "host row: wrong length or non-finite value".to_owned(),
            ));
        }
        Ok(self
            .records
            .iter()
            .map(|r| {
                let f = usize::from(r.feature);
                self.cuts.bin(f, row[f]) <= r.bin
            })
            .collect())
    }

    /// Splits per own feature; with the guest's per-record gains (if it shares them), their
    /// total gain too.
    pub fn importance(&self, record_gains: &[(u32, f64)]) -> Importance {
        let mut per: Vec<(String, u32, f64)> = self
            .feature_names
            .iter()
            .map(|n| (n.clone(), 0, 0.0))
            .collect();
        for r in &self.records {
            if let Some(e) = per.get_mut(usize::from(r.feature)) {
                e.1 += 1;
            }
        }
        for &(id, gain) in record_gains {
            if let Some(r) = self.records.get(id as usize)
                && let Some(e) = per.get_mut(usize::from(r.feature))
            {
                e.2 += gain;
            }
        }
        Importance {
            features: per,
            host_records: Vec::new(),
            host_features: Vec::new(),
        }
    }

    /// Encodes the host part.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ModelWriter::new(MAGIC_HOST, &self.model_id);
        w.0.len_u32(self.records.len());
        for r in &self.records {
            w.0.u16(r.feature).u8(r.bin);
        }
        w.cuts(&self.cuts);
        w.names(&self.feature_names);
        w.finish()
    }

    /// Decodes a host part (checks magic, version, digest, ranges).
    ///
    /// # Errors
    ///
    /// [`FlError::BadModel`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, FlError> {
        let (mut r, model_id) = ModelReader::open(b, MAGIC_HOST)?;
        let n = r.count("host records", 3)?;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            records.push(HostRecord {
                feature: r.u16()?,
                bin: r.u8()?,
            });
        }
        let cuts = r.cuts()?;
        let feature_names = r.names()?;
        r.end()?;
        if feature_names.len() != cuts.features()
            || records
                .iter()
                .any(|x| usize::from(x.bin) + 1 >= cuts.bins_of(usize::from(x.feature)))
        {
            return Err(FlError::BadModel("host record or names out of range"));
        }
        Ok(Self {
            model_id,
            records,
            cuts,
            feature_names,
        })
    }
}

impl GuestModel {
    /// The margin of one row from the guest's raw values and the host's decisions
    /// ([`HostModel::decide_row`]) for this row.
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] for a wrong number of values, [`FlError::ModelMismatch`] for a
    /// wrong number of host decisions, [`FlError::BadModel`] for a malformed tree.
    pub fn margin_row(&self, row: &[f64], host: &[bool]) -> Result<f64, FlError> {
        if row.len() != self.cuts.features() || row.iter().any(|v| !v.is_finite()) {
            return Err(FlError::InvalidInput(
                "guest row: wrong length or non-finite value".to_owned(),
            ));
        }
        if host.len() != self.host_records as usize {
            return Err(FlError::ModelMismatch("host decisions for another table"));
        }
        let mut m = self.base_margin;
        for t in &self.trees {
            m += t
                .eval(|s| match s {
                    GuestSplit::Guest { feature, bin } => {
                        self.cuts.bin(feature as usize, row[feature as usize]) <= bin
                    }
                    GuestSplit::Host { record } => host[record as usize],
                })
                .ok_or(FlError::BadModel("malformed tree"))?;
        }
        Ok(m)
    }

    /// The probability of one row (see [`GuestModel::margin_row`]).
    ///
    /// # Errors
    ///
    /// As [`GuestModel::margin_row`].
    pub fn score_row(&self, row: &[f64], host: &[bool]) -> Result<f64, FlError> {
        Ok(sigmoid(self.margin_row(row, host)?))
    }

    /// Margins of many rows from raw guest `columns` and the host's per-record decisions.
    ///
    /// # Errors
    ///
    /// As [`GuestModel::margin_row`].
    pub fn margins(&self, columns: &[Vec<f64>], host: &[Vec<bool>]) -> Result<Vec<f64>, FlError> {
        let binned = self.cuts.bin_columns(columns)?;
        let rows = columns.first().map_or(0, Vec::len);
        if host.len() != self.host_records as usize || host.iter().any(|d| d.len() != rows) {
            return Err(FlError::ModelMismatch(
                "host decisions for another table or rows",
            ));
        }
        (0..rows)
            .map(|i| {
                let mut m = self.base_margin;
                for t in &self.trees {
                    m += t
                        .eval(|s| match s {
                            GuestSplit::Guest { feature, bin } => {
                                binned[feature as usize][i] <= bin
                            }
                            GuestSplit::Host { record } => host[record as usize][i],
                        })
                        .ok_or(FlError::BadModel("malformed tree"))?;
                }
                Ok(m)
            })
            .collect()
    }

    /// Splits and total gain per guest feature, and gain per host record.
    pub fn importance(&self) -> Importance {
        let mut per: Vec<(String, u32, f64)> = self
            .feature_names
            .iter()
            .map(|n| (n.clone(), 0, 0.0))
            .collect();
        let mut host = Vec::new();
        for t in &self.trees {
            for n in &t.nodes {
                if let Node::Split { rule, gain, .. } = n {
                    match rule {
                        GuestSplit::Guest { feature, .. } => {
                            if let Some(e) = per.get_mut(*feature as usize) {
                                e.1 += 1;
                                e.2 += gain;
                            }
                        }
                        GuestSplit::Host { record } => host.push((*record, *gain)),
                    }
                }
            }
        }
        host.sort_by_key(|x| x.0);
        let mut by_feature: Vec<(u16, u32, f64)> = Vec::new();
        for &(record, gain) in &host {
            let Some(&f) = self.host_features.get(record as usize) else {
                continue;
            };
            match by_feature.iter_mut().find(|e| e.0 == f) {
                Some(e) => {
                    e.1 += 1;
                    e.2 += gain;
                }
                None => by_feature.push((f, 1, gain)),
            }
        }
        by_feature.sort_by_key(|e| e.0);
        Importance {
            features: per,
            host_records: host,
            host_features: by_feature,
        }
    }

    /// Encodes the guest part.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = ModelWriter::new(MAGIC_GUEST, &self.model_id);
        let w = &mut m.0;
        w.u32(self.host_records);
        w.bytes(&self.host_digest);
        w.f64(self.base_margin);
        let p = &self.params;
        w.u32(p.trees);
        w.u8(p.max_depth);
        for x in [p.learning_rate, p.lambda, p.min_child_weight, p.gamma] {
            w.f64(x);
        }
        w.f64(p.base_score.unwrap_or(-1.0));
        w.f64(p.row_sample);
        w.f64(p.col_sample);
        w.u64(p.seed);
        w.u32(p.early_stopping_rounds.unwrap_or(0));
        w.len_u32(self.trees.len());
        for t in &self.trees {
            w.len_u32(t.nodes.len());
            for n in &t.nodes {
                match n {
                    Node::Leaf { weight } => {
                        w.u8(0);
                        w.f64(*weight);
                    }
                    Node::Split {
                        rule,
                        gain,
                        left,
                        right,
                    } => {
                        match rule {
                            GuestSplit::Guest { feature, bin } => {
                                w.u8(1);
                                w.u32(*feature);
                                w.u8(*bin);
                            }
                            GuestSplit::Host { record } => {
                                w.u8(2);
                                w.u32(*record);
                            }
                        }
                        w.f64(*gain);
                        w.u32(*left);
                        w.u32(*right);
                    }
                }
            }
        }
        m.cuts(&self.cuts);
        m.names(&self.feature_names);
        m.0.len_u32(self.host_features.len());
        for &f in &self.host_features {
            m.0.u16(f);
        }
        m.finish()
    }

    /// Decodes a guest part (checks magic, version, digest, every index's range, and that
    /// children come after their parent so no tree has a cycle).
    ///
    /// # Errors
    ///
    /// [`FlError::BadModel`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, FlError> {
        let (mut r, model_id) = ModelReader::open(b, MAGIC_GUEST)?;
        let host_records = r.u32()?;
        let host_digest: [u8; 32] = r.array()?;
        let base_margin = r.f64()?;
        let trees_p = r.u32()?;
        let max_depth = r.u8()?;
        let (learning_rate, lambda, min_child_weight, gamma) =
            (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
        let bs = r.f64()?;
        let (row_sample, col_sample) = (r.f64()?, r.f64()?);
        let seed = r.u64()?;
        let es = r.u32()?;
        let params = TreeParams {
            trees: trees_p,
            max_depth,
            learning_rate,
            lambda,
            min_child_weight,
            gamma,
            base_score: (bs > 0.0).then_some(bs),
            row_sample,
            col_sample,
            seed,
            early_stopping_rounds: (es > 0).then_some(es),
        };
        let nt = r.count("trees", 5)?;
        let mut trees = Vec::with_capacity(nt);
        let mut raw_nodes = Vec::new();
        for _ in 0..nt {
            let nn = r.count("tree nodes", 9)?;
            let mut nodes = Vec::with_capacity(nn);
            for i in 0..nn {
                let node = match r.u8()? {
                    0 => Node::Leaf { weight: r.f64()? },
                    k @ (1 | 2) => {
                        let rule = if k == 1 {
                            GuestSplit::Guest {
                                feature: r.u32()?,
                                bin: r.u8()?,
                            }
                        } else {
                            GuestSplit::Host { record: r.u32()? }
                        };
                        let (gain, left, right) = (r.f64()?, r.u32()?, r.u32()?);
                        if left as usize <= i
                            || right as usize <= i
                            || left as usize >= nn
                            || right as usize >= nn
                        {
                            return Err(FlError::BadModel("child index out of order"));
                        }
                        Node::Split {
                            rule,
                            gain,
                            left,
                            right,
                        }
                    }
                    _ => return Err(FlError::BadModel("node kind")),
                };
                nodes.push(node);
            }
            raw_nodes.push(());
            trees.push(Tree { nodes });
        }
        let cuts = r.cuts()?;
        let feature_names = r.names()?;
        let n_hf = r.u32()?;
        if n_hf != host_records {
            return Err(FlError::BadModel("host feature list length"));
        }
        let host_features = (0..n_hf)
            .map(|_| r.u16())
            .collect::<Result<Vec<u16>, _>>()?;
        r.end()?;
        let bad = trees.iter().flat_map(|t| &t.nodes).any(|n| match n {
            Node::Split {
                rule: GuestSplit::Guest { feature, bin },
                ..
            } => usize::from(*bin) + 1 >= cuts.bins_of(*feature as usize),
            Node::Split {
                rule: GuestSplit::Host { record },
                ..
            } => *record >= host_records,
            Node::Leaf { .. } => false,
        });
        if bad || feature_names.len() != cuts.features() {
            return Err(FlError::BadModel("split or names out of range"));
        }
        Ok(Self {
            model_id,
            base_margin,
            trees,
            cuts,
            feature_names,
            params,
            host_records,
            host_digest,
            host_features,
        })
    }
}

/// A model file under construction: magic, format version and id, then the part's fields
/// ([`ModelWriter::finish`] appends the digest).
struct ModelWriter(Writer);

impl ModelWriter {
    fn new(magic: &[u8; 4], id: &[u8; 16]) -> Self {
        let mut w = Writer::new();
        w.bytes(magic).u16(FORMAT_VERSION).bytes(id);
        Self(w)
    }
    fn cuts(&mut self, c: &BinCuts) {
        self.0.len_u32(c.features());
        for f in c.cuts() {
            self.0.len_u16(f.len());
            for &x in f {
                self.0.f64(x);
            }
        }
    }
    fn names(&mut self, names: &[String]) {
        self.0.len_u32(names.len());
        for n in names {
            self.0.bytes_u16(n.as_bytes());
        }
    }
    fn finish(self) -> Vec<u8> {
        let mut buf = self.0.into_vec();
        let d: [u8; 32] = Sha256::digest(&buf).into();
        buf.extend_from_slice(&d);
        buf
    }
}

/// A model file's body, read through [`Reader`] (so every count is bounded by the bytes left
/// before anything is allocated for it, and trailing bytes are refused), with its errors as
/// [`FlError::ModelFile`]: a model file is this node's, not the partner's.
struct ModelReader<'a>(Reader<'a>);

impl<'a> ModelReader<'a> {
    /// Checks size, magic, version and digest; returns the reader after the id, and the id.
    fn open(b: &'a [u8], magic: &[u8; 4]) -> Result<(Self, [u8; 16]), FlError> {
        if b.len() > MAX_MODEL_BYTES || b.len() < 4 + 2 + 16 + 32 {
            return Err(FlError::BadModel("size"));
        }
        if &b[..4] != magic {
            return Err(FlError::BadModel(
                "not a SecureBoost model part of this kind",
            ));
        }
        if u16::from_le_bytes([b[4], b[5]]) != FORMAT_VERSION {
            return Err(FlError::BadModel("unsupported format version"));
        }
        let (body, digest) = b.split_at(b.len() - 32);
        let d: [u8; 32] = Sha256::digest(body).into();
        if d.as_slice() != digest {
            return Err(FlError::BadModel(
                "digest mismatch (truncated or corrupted)",
            ));
        }
        let mut r = Reader::new(body, "model part");
        r.take(6).map_err(FlError::ModelFile)?;
        let id = r.array().map_err(FlError::ModelFile)?;
        Ok((Self(r), id))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], FlError> {
        self.0.take(n).map_err(FlError::ModelFile)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FlError> {
        self.0.array().map_err(FlError::ModelFile)
    }
    fn u8(&mut self) -> Result<u8, FlError> {
        self.0.u8().map_err(FlError::ModelFile)
    }
    fn u16(&mut self) -> Result<u16, FlError> {
        self.0.u16().map_err(FlError::ModelFile)
    }
    fn u32(&mut self) -> Result<u32, FlError> {
        self.0.u32().map_err(FlError::ModelFile)
    }
    fn u64(&mut self) -> Result<u64, FlError> {
        self.0.u64().map_err(FlError::ModelFile)
    }
    fn f64(&mut self) -> Result<f64, FlError> {
        self.0.f64().map_err(FlError::ModelFile)
    }
    /// A count of `what`, items of at least `min_item` bytes each: bounded by the bytes left.
    fn count(&mut self, what: &'static str, min_item: usize) -> Result<usize, FlError> {
        let max = self.0.left().saturating_sub(4) / min_item.max(1);
        self.0.len_u32(what, max).map_err(FlError::ModelFile)
    }
    fn cuts(&mut self) -> Result<BinCuts, FlError> {
        let nf = self.count("features", 2)?;
        let mut cuts = Vec::with_capacity(nf);
        for _ in 0..nf {
            let k = usize::from(self.u16()?);
            let c = self
                .0
                .take_items(k, 8)
                .map_err(FlError::ModelFile)?
                .chunks_exact(8)
                .map(|x| f64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]))
                .collect();
            cuts.push(c);
        }
        BinCuts::from_cuts(cuts)
    }
    fn names(&mut self) -> Result<Vec<String>, FlError> {
        let n = self.count("feature names", 2)?;
        (0..n)
            .map(|_| {
                let k = usize::from(self.u16()?);
                String::from_utf8(self.take(k)?.to_vec())
                    .map_err(|_| FlError::BadModel("feature name not UTF-8"))
            })
            .collect()
    }
    fn end(&self) -> Result<(), FlError> {
        self.0.expect_empty().map_err(FlError::ModelFile)
    }
}

/// What the guest gets from federated prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Probability of each row.
    pub scores: Vec<f64>,
    /// Traffic.
    pub stats: Stats,
}

/// Federated batch prediction, guest side: sends the model id and table digest, receives each
/// host record's decisions on every row, and traverses the trees (the guest learns the host's
/// decisions on these rows, never its thresholds). `columns` are the guest's raw features of
/// the rows, aligned with the host's.
///
/// # Errors
///
/// Channel and decoding errors; [`FlError::InvalidInput`] for bad local input.
pub fn run_guest_predict<C: Channel>(
    ch: &mut C,
    model: &GuestModel,
    columns: &[Vec<f64>],
) -> Result<Prediction, FlError> {
    let rows = columns.first().map_or(0, Vec::len);
    let rows32 = u32::try_from(rows).map_err(|_| FlError::InvalidInput("too many rows".into()))?;
    ch.send(
        pheader(pstep::P_HELLO),
        PredictHello {
            model_id: model.model_id,
            digest: model.host_digest,
            rows: rows32,
        }
        .encode(),
    )?;
    let host = recv_decisions(
        ch,
        pheader(pstep::P_DECISIONS),
        model.host_records as usize,
        rows,
    )?;
    let scores = model
        .margins(columns, &host)?
        .into_iter()
        .map(sigmoid)
        .collect();
    Ok(Prediction {
        scores,
        stats: ch.stats(),
    })
}

/// Federated batch prediction, host side: checks that the guest's model id and table digest
/// are its own and that the row counts agree, then sends its decisions.
///
/// # Errors
///
/// [`FlError::ModelMismatch`] when the guest's model is another one; channel errors.
pub fn run_host_predict<C: Channel>(
    ch: &mut C,
    model: &HostModel,
    columns: &[Vec<f64>],
) -> Result<Stats, FlError> {
    let hello = PredictHello::decode(&ch.recv(pheader(pstep::P_HELLO), PredictHello::LEN)?)?;
    if hello.model_id != model.model_id {
        return Err(FlError::ModelMismatch("the guest uses another model id"));
    }
    if hello.digest != model.digest() {
        return Err(FlError::ModelMismatch(
            "the guest's host-table digest differs",
        ));
    }
    let rows = columns.first().map_or(0, Vec::len);
    if hello.rows as usize != rows {
        return Err(FlError::CountMismatch {
            what: "rows to score",
            got: u64::from(hello.rows),
            expected: rows as u64,
        });
    }
    let d = model.decisions(columns)?;
    send_decisions(ch, pheader(pstep::P_DECISIONS), &d, rows)?;
    ch.flush()?;
    Ok(ch.stats())
}

/// Sends per-record decision bitmaps in chunks of [`decision_chunk_records`].
pub(crate) fn send_decisions<C: Channel>(
    ch: &mut C,
    h: unseen_channel::Header,
    d: &[Vec<bool>],
    rows: usize,
) -> Result<(), FlError> {
    for chunk in d.chunks(decision_chunk_records(rows)) {
        let mut buf = Vec::with_capacity(chunk.len() * bitmap_len(rows));
        for r in chunk {
            buf.extend(encode_bitmap(r.iter().copied(), rows));
        }
        ch.send(h, buf)?;
    }
    Ok(())
}

/// Receives exactly `records` decision bitmaps of `rows` rows.
pub(crate) fn recv_decisions<C: Channel>(
    ch: &mut C,
    h: unseen_channel::Header,
    records: usize,
    rows: usize,
) -> Result<Vec<Vec<bool>>, FlError> {
    let per = decision_chunk_records(rows);
    let bl = bitmap_len(rows);
    let mut out = Vec::with_capacity(records);
    while out.len() < records {
        let k = per.min(records - out.len());
        let m = ch.recv(h, msgs::check_frame(k * bl)?)?;
        let b = Reader::read_all(&m, "decisions", |r| r.take_items(k, bl))?;
        for c in b.chunks_exact(bl.max(1)).take(k) {
            out.push(decode_bitmap(c, rows, "decisions")?);
        }
        if bl == 0 {
            out.extend((0..k).map(|_| Vec::new()));
        }
    }
    Ok(out)
}
