//! Wire messages of SecureBoost training (protocol [`PROTOCOL_ID`]) and federated prediction
//! ([`PREDICT_PROTOCOL_ID`]), and their bounded decoders. All integers little-endian.
//!
//! | step | direction | payload |
//! |---|---|---|
//! | [`step::HELLO`] | G → H | [`Hello`]: the guest's public key, rows, validation rows, packing, depth |
//! | [`step::HOST_HELLO`] | H → G | [`HostHello`]: rows, validation rows, bins of each host feature |
//! | [`step::NEXT`] | G → H | [`Next`]: `0x01`, tree index `u32`, sampled-rows bitmap (`⌈n/8⌉` bytes); or `0x02` and [`Finish`] |
//! | [`step::HOST_TREE`] | H → G | the host's sampled features of this tree: `count: u16`, `u16` each, increasing |
//! | [`step::GRADIENTS`] | G → H | encrypted packed `(g, h)` of the sampled rows, [`GRAD_CHUNK`] per message |
//! | [`step::LEVEL`] | G → H | [`Level`]: nodes of the level, which ones the host builds, each row's node |
//! | [`step::HISTOGRAM`] | H → G | one built node: for each sampled host feature, its bins' packed ciphertexts |
//! | [`step::SPLITS`] | G → H | [`SplitRequest`]s (nodes whose best split is a host candidate), then whether another level follows |
//! | [`step::PARTITION`] | H → G | per request, the bitmap of that node's rows going left |
//! | [`step::VALID`] | H → G | per host record made in this tree, its decisions on the validation rows (bitmaps) |
//!
//! Prediction: [`pstep::P_HELLO`] (G → H, [`PredictHello`]) then [`pstep::P_DECISIONS`]
//! (H → G, decisions of each host record on every row, [`decision_chunk_records`] records per
//! message).
//!
//! Every receiver knows the exact length of the next message from the session (rows, features,
//! bins, node sizes, ciphertext length) and passes it to the channel as the step's maximum; the
//! decoders read through [`unseen_channel::codec::Reader`], which checks it again (announced
//! counts against their maxima first), so trailing bytes are refused. A length error names the
//! whole message's expected length, as the channel's step maximum does.

use unseen_channel::codec::{Reader, Writer};
use unseen_channel::{Header, MAX_FRAME_LEN};

use crate::FlError;

/// Protocol identifier of SecureBoost training (ECDH-PSI `0x0001`, keyword PIR `0x0002`).
pub const PROTOCOL_ID: u16 = 0x0003;
/// Protocol identifier of SecureBoost federated prediction.
pub const PREDICT_PROTOCOL_ID: u16 = 0x0004;
/// Version of the message formats.
pub const VERSION: u8 = 1;
/// Ciphertexts per [`step::GRADIENTS`] message.
pub const GRAD_CHUNK: usize = 8192;
/// Longest public key accepted.
pub const MAX_PUBLIC_KEY: usize = 4096;
/// Most host features.
pub const MAX_FEATURES: usize = 4096;

/// Training steps.
pub mod step {
    /// Guest → host: [`super::Hello`].
    pub const HELLO: u8 = 0x01;
    /// Host → guest: [`super::HostHello`].
    pub const HOST_HELLO: u8 = 0x02;
    /// Guest → host: a tree starts, or training ends ([`super::Next`]).
    pub const NEXT: u8 = 0x03;
    /// Host → guest: its sampled features.
    pub const HOST_TREE: u8 = 0x04;
    /// Guest → host: encrypted gradients.
    pub const GRADIENTS: u8 = 0x05;
    /// Guest → host: [`super::Level`].
    pub const LEVEL: u8 = 0x06;
    /// Host → guest: encrypted histograms of one node.
    pub const HISTOGRAM: u8 = 0x07;
    /// Guest → host: split requests.
    pub const SPLITS: u8 = 0x08;
    /// Host → guest: partitions.
    pub const PARTITION: u8 = 0x09;
    /// Host → guest: validation decisions.
    pub const VALID: u8 = 0x0b;
}

/// Prediction steps.
pub mod pstep {
    /// Guest → host: [`super::PredictHello`].
    pub const P_HELLO: u8 = 0x01;
    /// Host → guest: decisions.
    pub const P_DECISIONS: u8 = 0x02;
}

/// The header of training step `s`.
pub const fn header(s: u8) -> Header {
    Header::new(PROTOCOL_ID, VERSION, s)
}

/// The header of prediction step `s`.
pub const fn pheader(s: u8) -> Header {
    Header::new(PREDICT_PROTOCOL_ID, VERSION, s)
}

/// A reader over all of `b`, which must be exactly `expected` bytes ([`FlError::BadMessage`]
/// otherwise): its fields then read without a length error.
fn exact<'a>(b: &'a [u8], what: &'static str, expected: usize) -> Result<Reader<'a>, FlError> {
    let b = Reader::read_all(b, what, |r| r.take(expected))?;
    Ok(Reader::new(b, what))
}

/// Whether a flag byte is 1 (0 is false, anything else the field `what` out of range).
fn flag(b: u8, what: &'static str) -> Result<bool, FlError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FlError::BadField(what)),
    }
}

/// The guest's first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The guest's homomorphic public key (`HePublicKey::to_bytes`).
    pub public_key: Vec<u8>,
    /// Training rows.
    pub rows: u32,
    /// Validation rows (0: no early stopping).
    pub valid_rows: u32,
    /// Whether the host packs several bins into one ciphertext.
    pub pack: bool,
    /// Maximum depth.
    pub max_depth: u8,
}

impl Hello {
    /// Largest encoding.
    pub const MAX_LEN: usize = 2 + MAX_PUBLIC_KEY + 10;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(12 + self.public_key.len());
        // The key has at most MAX_PUBLIC_KEY bytes (the guest's own key).
        w.bytes_u16(&self.public_key)
            .u32(self.rows)
            .u32(self.valid_rows)
            .u8(u8::from(self.pack))
            .u8(self.max_depth);
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`] for a wrong length, [`FlError::BadField`] for a field out of range.
    pub fn decode(b: &[u8]) -> Result<Self, FlError> {
        let (public_key, rows, valid_rows, pack, max_depth) = Reader::read_all(b, "hello", |r| {
            let k = usize::from(r.u16()?);
            if k > MAX_PUBLIC_KEY {
                return Err(FlError::BadField("public key length"));
            }
            let mut m = r.sub(k + 10, "hello")?;
            Ok((m.take(k)?, m.u32()?, m.u32()?, m.u8()?, m.u8()?))
        })?;
        let pack = flag(pack, "packing flag")?;
        if !(1..=super::MAX_DEPTH).contains(&max_depth) {
            return Err(FlError::BadField("maximum depth"));
        }
        if rows == 0 || rows as usize > super::MAX_ROWS {
            return Err(FlError::BadField("row count"));
        }
        Ok(Self {
            public_key: public_key.to_vec(),
            rows,
            valid_rows,
            pack,
            max_depth,
        })
    }
}

/// The host's answer to [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostHello {
    /// Training rows the host holds.
    pub rows: u32,
    /// Validation rows the host holds.
    pub valid_rows: u32,
    /// Bins of each host feature (`1..=256`).
    pub bins: Vec<u16>,
}

impl HostHello {
    /// Largest encoding.
    pub const MAX_LEN: usize = 10 + 2 * MAX_FEATURES;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(10 + 2 * self.bins.len());
        // At most MAX_FEATURES host features.
        w.u32(self.rows)
            .u32(self.valid_rows)
            .len_u16(self.bins.len());
        for &b in &self.bins {
            w.u16(b);
        }
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`] for a wrong length, [`FlError::BadField`] for a bin count out of
    /// `1..=256` or too many features.
    pub fn decode(b: &[u8]) -> Result<Self, FlError> {
        let (rows, valid_rows, bins) = Reader::read_all(b, "host hello", |r| {
            let mut fixed = r.sub(10, "host hello")?;
            let (rows, valid_rows) = (fixed.u32()?, fixed.u32()?);
            let f = usize::from(fixed.u16()?);
            if f > MAX_FEATURES {
                return Err(FlError::BadField("host feature count"));
            }
            Ok((rows, valid_rows, r.take_items(f, 2)?))
        })?;
        let bins: Vec<u16> = bins
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if bins.iter().any(|&k| k == 0 || k > 256) {
            return Err(FlError::BadField("bin count of a host feature"));
        }
        Ok(Self {
            rows,
            valid_rows,
            bins,
        })
    }
}

/// Bytes of a bitmap of `n` bits.
pub const fn bitmap_len(n: usize) -> usize {
    n.div_ceil(8)
}

/// Packs bits, LSB first.
pub fn encode_bitmap(bits: impl IntoIterator<Item = bool>, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; bitmap_len(n)];
    for (i, b) in bits.into_iter().enumerate().take(n) {
        if b {
            v[i / 8] |= 1 << (i % 8);
        }
    }
    v
}

/// Unpacks `n` bits; padding bits must be zero.
///
/// # Errors
///
/// [`FlError::BadMessage`] for a wrong length, [`FlError::BadField`] for set padding bits.
pub fn decode_bitmap(b: &[u8], n: usize, what: &'static str) -> Result<Vec<bool>, FlError> {
    let b = exact(b, what, bitmap_len(n))?.rest();
    if !n.is_multiple_of(8) && b.last().is_some_and(|&l| l >> (n % 8) != 0) {
        return Err(FlError::BadField("bitmap padding bits"));
    }
    Ok((0..n).map(|i| b[i / 8] >> (i % 8) & 1 == 1).collect())
}

/// What the guest does next ([`step::NEXT`]).
#[derive(Clone, PartialEq, Eq)]
pub enum Next {
    /// Tree `0` starts; `1`: the rows sampled for it.
    Tree(u32, Vec<bool>),
    /// Training ends.
    Finish(Finish),
}

impl core::fmt::Debug for Next {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tree(t, _) => write!(f, "Next::Tree({t})"),
            Self::Finish(x) => write!(f, "Next::Finish({x:?})"),
        }
    }
}

impl Next {
    /// Largest encoding for `rows` rows.
    pub const fn max_len(rows: usize) -> usize {
        let t = 5 + bitmap_len(rows);
        if t > 1 + Finish::LEN {
            t
        } else {
            1 + Finish::LEN
        }
    }

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Tree(t, sampled) => {
                let mut w = Writer::with_capacity(5 + bitmap_len(sampled.len()));
                w.u8(0x01)
                    .u32(*t)
                    .bytes(&encode_bitmap(sampled.iter().copied(), sampled.len()));
                w.into_vec()
            }
            Self::Finish(f) => {
                let mut w = Writer::with_capacity(1 + Finish::LEN);
                w.u8(0x02).bytes(&f.encode());
                w.into_vec()
            }
        }
    }

    /// Decodes for `rows` rows.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`] / [`FlError::BadField`].
    pub fn decode(b: &[u8], rows: usize) -> Result<Self, FlError> {
        match b.first() {
            Some(0x01) => {
                let mut r = exact(b, "next tree", 5 + bitmap_len(rows))?;
                r.u8()?;
                let tree = r.u32()?;
                Ok(Self::Tree(
                    tree,
                    decode_bitmap(r.rest(), rows, "sampled rows")?,
                ))
            }
            Some(0x02) => Ok(Self::Finish(Finish::decode(&b[1..])?)),
            _ => Err(FlError::BadField("next-message kind")),
        }
    }
}

/// Encodes an increasing list of `u16` indices with a count.
pub fn encode_indices(ix: &[usize]) -> Vec<u8> {
    let mut w = Writer::with_capacity(2 + 2 * ix.len());
    w.len_u16(ix.len());
    for &i in ix {
        // Feature indices are below MAX_FEATURES.
        w.u16(u16::try_from(i).unwrap_or(u16::MAX));
    }
    w.into_vec()
}

/// Decodes a strictly increasing, non-empty list of indices below `bound` (the host's sampled
/// features, [`step::HOST_TREE`]).
///
/// # Errors
///
/// [`FlError::BadMessage`] / [`FlError::BadField`].
pub fn decode_indices(b: &[u8], bound: usize) -> Result<Vec<usize>, FlError> {
    let b = Reader::read_all(b, "sampled features", |r| {
        let k = usize::from(r.u16()?);
        r.take_items(k, 2)
    })?;
    let ix: Vec<usize> = b
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    let k = ix.len();
    if (k == 0 && bound > 0)
        || ix.iter().any(|&i| i >= bound)
        || ix.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(FlError::BadField("sampled feature list"));
    }
    Ok(ix)
}

/// No node: a row in no active node of the level (in a leaf already).
pub const NO_NODE: u16 = u16::MAX;

/// A level of the tree being grown.
#[derive(Clone, PartialEq, Eq)]
pub struct Level {
    /// Depth.
    pub depth: u8,
    /// Nodes in this level (`1..=2^depth`).
    pub nodes: u16,
    /// Nodes whose histograms the host builds (increasing).
    pub built: Vec<u16>,
    /// Each row's node in this level, or [`NO_NODE`].
    pub assign: Vec<u16>,
}

impl core::fmt::Debug for Level {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Level")
            .field("depth", &self.depth)
            .field("nodes", &self.nodes)
            .field("built", &self.built.len())
            .finish_non_exhaustive()
    }
}

impl Level {
    /// Largest encoding for `rows` rows.
    pub const fn max_len(rows: usize) -> usize {
        5 + 2 * (1 << super::MAX_DEPTH) + 2 * rows
    }

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(5 + 2 * (self.built.len() + self.assign.len()));
        // At most 2^MAX_DEPTH built nodes.
        w.u8(self.depth).u16(self.nodes).len_u16(self.built.len());
        for &b in &self.built {
            w.u16(b);
        }
        for &a in &self.assign {
            w.u16(a);
        }
        w.into_vec()
    }

    /// Decodes for `rows` rows and a tree of at most `max_depth` levels below the root.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`] / [`FlError::BadField`] (depth, node counts, indices).
    pub fn decode(b: &[u8], rows: usize, max_depth: u8) -> Result<Self, FlError> {
        let u16s = |b: &[u8]| -> Vec<u16> {
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        };
        let (depth, nodes, built, assign) = Reader::read_all(b, "level", |r| {
            let mut fixed = r.sub(5, "level")?;
            let (depth, nodes, k) = (fixed.u8()?, fixed.u16()?, usize::from(fixed.u16()?));
            // The lists as a whole: a wrong length is reported against the whole level.
            let mut lists = r.sub(2 * k + 2 * rows, "level")?;
            Ok::<_, FlError>((depth, nodes, lists.take_items(k, 2)?, lists.rest()))
        })?;
        if depth >= max_depth {
            return Err(FlError::BadField("level depth"));
        }
        if nodes == 0 || u32::from(nodes) > 1u32 << depth {
            return Err(FlError::BadField("level node count"));
        }
        let built = u16s(built);
        if built.iter().any(|&x| x >= nodes) || built.windows(2).any(|w| w[0] >= w[1]) {
            return Err(FlError::BadField("built node list"));
        }
        let assign = u16s(assign);
        if assign.iter().any(|&a| a != NO_NODE && a >= nodes) {
            return Err(FlError::BadField("row assignment"));
        }
        Ok(Self {
            depth,
            nodes,
            built,
            assign,
        })
    }
}

/// The guest asks the host to split node `node` on its candidate (`feature`, `bin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitRequest {
    /// Node within the level.
    pub node: u16,
    /// Host feature index.
    pub feature: u16,
    /// Last bin going left.
    pub bin: u8,
}

/// Encodes [`step::SPLITS`]; `more`: another level follows (else the tree is complete).
pub fn encode_splits(s: &[SplitRequest], more: bool) -> Vec<u8> {
    let mut w = Writer::with_capacity(3 + 5 * s.len());
    // At most one request per node of a level.
    w.len_u16(s.len());
    for r in s {
        w.u16(r.node).u16(r.feature).u8(r.bin);
    }
    w.u8(u8::from(more));
    w.into_vec()
}

/// Largest [`step::SPLITS`] payload for a level of `nodes` nodes.
pub const fn splits_max_len(nodes: usize) -> usize {
    3 + 5 * nodes
}

/// Decodes [`step::SPLITS`] for a level of `nodes` nodes: increasing node indices below
/// `nodes`, and whether another level follows. Whether each candidate exists is the host's
/// check ([`FlError::UnknownSplit`]).
///
/// # Errors
///
/// [`FlError::BadMessage`] / [`FlError::BadField`].
pub fn decode_splits(b: &[u8], nodes: usize) -> Result<(Vec<SplitRequest>, bool), FlError> {
    let (s, more) = Reader::read_all(b, "splits", |r| {
        let k = usize::from(r.u16()?);
        if k > nodes {
            return Err(FlError::BadField("split request count"));
        }
        let mut m = r.sub(5 * k + 1, "splits")?;
        let s = (0..k)
            .map(|_| {
                Ok(SplitRequest {
                    node: m.u16()?,
                    feature: m.u16()?,
                    bin: m.u8()?,
                })
            })
            .collect::<Result<Vec<_>, FlError>>()?;
        Ok((s, m.u8()?))
    })?;
    if s.iter().any(|r| usize::from(r.node) >= nodes)
        || s.windows(2).any(|w| w[0].node >= w[1].node)
    {
        return Err(FlError::BadField("split request node"));
    }
    Ok((s, flag(more, "more-levels flag")?))
}

/// Decodes a batch of exactly `count` ciphertexts of `ct_len` bytes each with `read` (which
/// checks each one's range). Does not allocate before the length is checked.
///
/// # Errors
///
/// [`FlError::BadMessage`] for a wrong length, [`FlError::InvalidCiphertext`] with the position.
pub fn decode_ciphertexts<C: Send>(
    b: &[u8],
    count: usize,
    ct_len: usize,
    what: &'static str,
    read: impl Fn(&[u8]) -> Result<C, unseen_crypto::Error> + Sync,
) -> Result<Vec<C>, FlError> {
    use rayon::prelude::*;
    let b = Reader::read_all(b, what, |r| r.take_items(count, ct_len))?;
    if ct_len == 0 {
        return Err(FlError::Internal("zero ciphertext length"));
    }
    b.par_chunks_exact(ct_len)
        .enumerate()
        .map(|(index, c)| read(c).map_err(|source| FlError::InvalidCiphertext { index, source }))
        .collect()
}

/// The guest's last message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finish {
    /// The model's id, shared by both parts.
    pub model_id: [u8; 16],
    /// Host records the model uses (the first ones; later ones belonged to trees dropped by
    /// early stopping).
    pub records: u32,
}

impl Finish {
    /// Encoded length.
    pub const LEN: usize = 20;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        w.bytes(&self.model_id).u32(self.records);
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`].
    pub fn decode(b: &[u8]) -> Result<Self, FlError> {
        let mut r = exact(b, "finish", Self::LEN)?;
        Ok(Self {
            model_id: r.array()?,
            records: r.u32()?,
        })
    }
}

/// The guest's prediction request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredictHello {
    /// The model's id.
    pub model_id: [u8; 16],
    /// Commitment to the host split table (see [`super::model::table_digest`]).
    pub digest: [u8; 32],
    /// Rows to score.
    pub rows: u32,
}

impl PredictHello {
    /// Encoded length.
    pub const LEN: usize = 52;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        w.bytes(&self.model_id).bytes(&self.digest).u32(self.rows);
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`FlError::BadMessage`].
    pub fn decode(b: &[u8]) -> Result<Self, FlError> {
        let mut r = exact(b, "predict hello", Self::LEN)?;
        Ok(Self {
            model_id: r.array()?,
            digest: r.array()?,
            rows: r.u32()?,
        })
    }
}

/// Host records per [`pstep::P_DECISIONS`] (or [`step::VALID`]) message for `rows` rows, so
/// that a message stays within 16 MiB.
pub fn decision_chunk_records(rows: usize) -> usize {
    ((16 << 20) / bitmap_len(rows).max(1)).max(1)
}

/// Fits `len` within the channel's frame limit.
pub(crate) fn check_frame(len: usize) -> Result<usize, FlError> {
    if len > MAX_FRAME_LEN {
        return Err(FlError::InvalidInput(format!(
            "a {len}-byte message exceeds the channel's {MAX_FRAME_LEN}-byte frames (too many features or bins)"
        )));
    }
    Ok(len)
}

/// Runs every decoder on `data` (the first byte picks the decoder, the next two a small size
/// parameter): the entry point of the `sb_msgs` fuzz target. Never panics.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (n, body) = match rest {
        [a, b, body @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), body),
        _ => (0, rest),
    };
    let _ = match kind % 9 {
        0 => Hello::decode(body).map(|_| ()),
        1 => HostHello::decode(body).map(|_| ()),
        2 => Next::decode(body, n).map(|_| ()),
        3 => decode_indices(body, n).map(|_| ()),
        4 => Level::decode(body, n, 6).map(|_| ()),
        5 => decode_splits(body, n).map(|_| ()),
        6 => decode_bitmap(body, n, "fuzz").map(|_| ()),
        7 => Finish::decode(body)
            .map(|_| ())
            .and(PredictHello::decode(body).map(|_| ())),
        _ => decode_ciphertexts(body, n, 16, "fuzz", |c| {
            if c[0] == 0xff {
                Err(unseen_crypto::Error::InvalidCiphertext {
                    scheme: "fuzz",
                    reason: "out of range",
                })
            } else {
                Ok(c.to_vec())
            }
        })
        .map(|_| ()),
    };
}
