//! The two roles as sans-I/O state: they turn items and peer messages into messages and output.
//!
//! `Leader`/`Follower` exist before the hello exchange; `accept` checks the peer's hello and is the
//! only way to obtain a session, so no point is processed under unchecked parameters.

use std::collections::HashMap;

use rand_core::CryptoRng;
use rayon::prelude::*;
use unseen_crypto::{PsiGroup, SecretScalar};

use crate::msgs::{self, Hello, ResultHeader, chunk_count, chunk_len, tag_from_bytes};
use crate::{Params, PsiError, PsiOutput, Reveal, hash_dst, shuffle, tag_len};

/// Points per parallel task (one batch inversion each).
const BATCH: usize = 256;

/// Common checks of our own inputs.
fn check_local<T>(items: &[T], params: &Params) -> Result<(), PsiError> {
    if items.len() as u64 > crate::MAX_ITEMS {
        return Err(PsiError::Local(format!(
            "{} items, at most {} supported",
            items.len(),
            crate::MAX_ITEMS
        )));
    }
    if params.max_peer_items > crate::MAX_ITEMS {
        return Err(PsiError::Local(format!(
            "a limit of {} peer items, at most {} supported",
            params.max_peer_items,
            crate::MAX_ITEMS
        )));
    }
    if params.chunk == 0 || params.chunk > crate::MAX_CHUNK {
        return Err(PsiError::Local(format!(
            "chunk size {} outside 1..={}",
            params.chunk,
            crate::MAX_CHUNK
        )));
    }
    Ok(())
}

/// Checks the peer's hello against ours.
fn check_peer<G: PsiGroup>(ours: &Hello, peer: &Hello, params: &Params) -> Result<(), PsiError> {
    if peer.curve != G::ID {
        return Err(PsiError::Mismatch {
            what: "curve",
            ours: G::ID.to_string(),
            theirs: peer.curve.to_string(),
        });
    }
    if peer.reveal != ours.reveal {
        return Err(PsiError::Mismatch {
            what: "mode",
            ours: format!("{:?}", ours.reveal),
            theirs: format!("{:?}", peer.reveal),
        });
    }
    if peer.leader == ours.leader {
        let role = if ours.leader { "leader" } else { "follower" };
        return Err(PsiError::Mismatch {
            what: "role",
            ours: role.into(),
            theirs: role.into(),
        });
    }
    if peer.keys != ours.keys {
        return Err(PsiError::KeyTypeMismatch {
            ours: ours.keys,
            theirs: peer.keys,
        });
    }
    // Both limits are checked on both sides (each hello carries its sender's limit), so a party
    // over the other's limit fails at once too, instead of on a closed connection.
    if peer.items > params.max_peer_items {
        return Err(PsiError::TooManyItems {
            announced: peer.items,
            max: params.max_peer_items,
        });
    }
    if ours.items > peer.max_peer_items {
        return Err(PsiError::TooManyForPeer {
            items: ours.items,
            max: peer.max_peer_items,
        });
    }
    Ok(())
}

/// `k·H(item)` for the items at `order`, encoded back to back.
fn hash_mul_encode<G: PsiGroup, T: AsRef<[u8]> + Sync>(
    dst: &[u8],
    items: &[T],
    order: &[u32],
    k: &SecretScalar<G>,
) -> Result<Vec<u8>, PsiError> {
    let mut out = vec![0u8; order.len() * G::ENCODED_LEN];
    out.par_chunks_mut(BATCH * G::ENCODED_LEN)
        .zip(order.par_chunks(BATCH))
        .try_for_each(|(o, idx)| {
            let msgs: Vec<&[u8]> = idx.iter().map(|&i| items[i as usize].as_ref()).collect();
            G::hash_mul_encode_batch(dst, &msgs, k, o)
                .map_err(|e| PsiError::Internal(format!("hash to group: {e}")))
        })?;
    Ok(out)
}

/// Decodes the peer's points, multiplies by `k` and returns the `tag_len`-byte tags.
fn peer_points_to_tags<G: PsiGroup>(
    bytes: &[u8],
    count: usize,
    first: u64,
    k: &SecretScalar<G>,
    tag_len: usize,
) -> Result<Vec<u8>, PsiError> {
    let bytes = msgs::exact_items(bytes, "point chunk", count, G::ENCODED_LEN)?;
    let mut tags = vec![0u8; count * tag_len];
    tags.par_chunks_mut(BATCH * tag_len)
        .zip(bytes.par_chunks(BATCH * G::ENCODED_LEN))
        .enumerate()
        .try_for_each(|(b, (t, enc))| {
            let first = first + (b * BATCH) as u64;
            let mut prod = vec![0u8; enc.len()];
            G::decode_mul_encode_batch(enc, k, &mut prod).map_err(|(i, source)| match source {
                unseen_crypto::Error::InvalidPoint { .. } => PsiError::InvalidPoint {
                    index: first + i as u64,
                    source,
                },
                e => PsiError::Internal(format!("encode: {e}")),
            })?;
            for (p, t) in prod
                .chunks_exact(G::ENCODED_LEN)
                .zip(t.chunks_exact_mut(tag_len))
            {
                t.copy_from_slice(&G::digest(p)[..tag_len]);
            }
            Ok::<(), PsiError>(())
        })?;
    Ok(tags)
}

/// Indices of `items` at `positions`, sorted by item bytes (the common output order).
fn sorted_by_item<T: AsRef<[u8]>>(items: &[T], mut idx: Vec<usize>) -> Vec<usize> {
    idx.sort_unstable_by(|&a, &b| items[a].as_ref().cmp(items[b].as_ref()));
    idx
}

/// What both roles hold: their items, parameters, hash domain, secret scalar and random
/// sending order.
struct Party<'a, G: PsiGroup, T> {
    items: &'a [T],
    params: Params,
    dst: Vec<u8>,
    key: SecretScalar<G>,
    order: Vec<u32>,
}

impl<'a, G: PsiGroup, T: AsRef<[u8]> + Sync> Party<'a, G, T> {
    /// Picks the secret scalar and the random order.
    fn new<R: CryptoRng + ?Sized>(
        items: &'a [T],
        params: Params,
        rng: &mut R,
    ) -> Result<Self, PsiError> {
        check_local(items, &params)?;
        let key = G::random_scalar(rng);
        let order = shuffle::permutation(rng, items.len());
        Ok(Self {
            items,
            dst: hash_dst(G::ID, params.reveal, &params.keys),
            params,
            key,
            order,
        })
    }

    fn hello(&self, leader: bool) -> Hello {
        Hello {
            curve: G::ID,
            reveal: self.params.reveal,
            leader,
            chunk: self.params.chunk,
            items: self.items.len() as u64,
            max_peer_items: self.params.max_peer_items,
            keys: self.params.keys,
        }
    }

    fn own_chunks(&self) -> usize {
        chunk_count(self.items.len() as u64, self.params.chunk)
    }

    fn own_chunk_len(&self, r: usize) -> usize {
        chunk_len(self.items.len() as u64, self.params.chunk, r)
    }

    /// `k·H(item)` for our chunk `r` in our random order.
    fn points_chunk(&self, r: usize) -> Result<Vec<u8>, PsiError> {
        let start = r * self.params.chunk as usize;
        let idx = &self.order[start..start + self.own_chunk_len(r)];
        hash_mul_encode::<G, T>(&self.dst, self.items, idx, &self.key)
    }

    fn debug(&self, name: &str, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(name)
            .field("items", &self.items.len())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The party that compares, before the hello exchange.
pub struct Leader<'a, G: PsiGroup, T>(Party<'a, G, T>);

impl<G: PsiGroup, T: AsRef<[u8]> + Sync> core::fmt::Debug for Leader<'_, G, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug("Leader", f)
    }
}

impl<'a, G: PsiGroup, T: AsRef<[u8]> + Sync> Leader<'a, G, T> {
    /// Picks the secret `a` and the random order `π_L`.
    pub fn new<R: CryptoRng + ?Sized>(
        items: &'a [T],
        params: Params,
        rng: &mut R,
    ) -> Result<Self, PsiError> {
        Party::new(items, params, rng).map(Self)
    }

    /// Our hello.
    pub fn hello(&self) -> Hello {
        self.0.hello(true)
    }

    /// Checks the follower's hello; the session is the only way on.
    pub fn accept(self, peer: &Hello) -> Result<LeaderSession<'a, G, T>, PsiError> {
        check_peer::<G>(&self.hello(), peer, &self.0.params)?;
        let n = self.0.items.len() as u64;
        let tag_len = tag_len(n, peer.items);
        Ok(LeaderSession {
            own_tags: vec![0u128; self.0.items.len()],
            peer_tags: HashMap::with_capacity_and_hasher(0, TagHasher),
            tag_len,
            peer: *peer,
            inner: self.0,
        })
    }
}

/// The leader after a valid hello exchange.
pub struct LeaderSession<'a, G: PsiGroup, T> {
    inner: Party<'a, G, T>,
    peer: Hello,
    tag_len: usize,
    /// `T(b·a·H(x))`, by position in `π_L` order (in Cardinality mode in the follower's
    /// shuffled order, which only the count is taken from).
    own_tags: Vec<u128>,
    /// `T(a·b·H(y))` → position in `π_F` order.
    peer_tags: HashMap<u128, u32, TagHasher>,
}

impl<G: PsiGroup, T> core::fmt::Debug for LeaderSession<'_, G, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LeaderSession")
            .field("peer", &self.peer)
            .field("tag_len", &self.tag_len)
            .finish_non_exhaustive()
    }
}

impl<G: PsiGroup, T: AsRef<[u8]> + Sync> LeaderSession<'_, G, T> {
    /// Chunks we send (step 1).
    pub fn own_chunks(&self) -> usize {
        self.inner.own_chunks()
    }

    /// Chunks the follower sends of its points (step 3).
    pub fn peer_chunks(&self) -> usize {
        chunk_count(self.peer.items, self.peer.chunk)
    }

    /// Items in our chunk `r`.
    pub fn own_chunk_len(&self, r: usize) -> usize {
        self.inner.own_chunk_len(r)
    }

    /// Items in the follower's point chunk `r`.
    pub fn peer_chunk_len(&self, r: usize) -> usize {
        chunk_len(self.peer.items, self.peer.chunk, r)
    }

    /// The tag length in use.
    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// The mode.
    pub fn reveal(&self) -> Reveal {
        self.inner.params.reveal
    }

    /// Step 1: `a·H(x)` for our chunk `r` in `π_L` order.
    pub fn points_chunk(&self, r: usize) -> Result<Vec<u8>, PsiError> {
        self.inner.points_chunk(r)
    }

    /// Step 2: the follower's tags for our chunk `r` (in Cardinality mode, chunk `r` of its
    /// shuffled tags).
    pub fn on_tags(&mut self, r: usize, bytes: &[u8]) -> Result<(), PsiError> {
        let count = self.own_chunk_len(r);
        let tags = msgs::decode_tags(bytes, count, self.tag_len)?;
        let start = r * self.inner.params.chunk as usize;
        self.own_tags[start..start + count].copy_from_slice(&tags);
        Ok(())
    }

    /// Step 3–4: the follower's point chunk `r`; computes `T(a·b·H(y))`.
    pub fn on_peer_points(&mut self, r: usize, bytes: &[u8]) -> Result<(), PsiError> {
        let count = self.peer_chunk_len(r);
        let first = r as u64 * u64::from(self.peer.chunk);
        let tags = peer_points_to_tags::<G>(bytes, count, first, &self.inner.key, self.tag_len)?;
        self.peer_tags.reserve(count);
        for (i, t) in tags.chunks_exact(self.tag_len).enumerate() {
            // first + i < peer.items <= u32::MAX (checked in the hello).
            let pos = u32::try_from(first + i as u64)
                .map_err(|_| PsiError::Internal("peer position beyond u32".into()))?;
            self.peer_tags.entry(tag_from_bytes(t)).or_insert(pos);
        }
        Ok(())
    }

    /// Step 4–5: matches; returns our output and the messages for the follower (result header,
    /// then index chunks), if the mode sends any.
    pub fn finish(self) -> (PsiOutput, Vec<Vec<u8>>) {
        match self.inner.params.reveal {
            Reveal::Cardinality => {
                let count = self
                    .own_tags
                    .iter()
                    .filter(|t| self.peer_tags.contains_key(t))
                    .count() as u64;
                let out = PsiOutput {
                    intersection: None,
                    cardinality: Some(count),
                    peer_items: self.peer.items,
                    stats: Default::default(),
                };
                (out, vec![ResultHeader { count }.encode()])
            }
            reveal => {
                let mut ours = Vec::new();
                let mut theirs = Vec::new();
                for (pos, t) in self.own_tags.iter().enumerate() {
                    if let Some(&q) = self.peer_tags.get(t) {
                        ours.push(self.inner.order[pos] as usize);
                        theirs.push(q);
                    }
                }
                let count = ours.len() as u64;
                let ours = sorted_by_item(self.inner.items, ours);
                let out = PsiOutput {
                    intersection: Some(ours),
                    cardinality: Some(count),
                    peer_items: self.peer.items,
                    stats: Default::default(),
                };
                if reveal == Reveal::LeaderOnly {
                    return (out, Vec::new());
                }
                theirs.sort_unstable();
                let mut msgs = vec![ResultHeader { count }.encode()];
                for c in theirs.chunks(self.inner.params.chunk as usize) {
                    msgs.push(c.iter().flat_map(|i| i.to_le_bytes()).collect());
                }
                (out, msgs)
            }
        }
    }
}

/// The party that does not compare, before the hello exchange.
pub struct Follower<'a, G: PsiGroup, T>(Party<'a, G, T>);

impl<G: PsiGroup, T: AsRef<[u8]> + Sync> core::fmt::Debug for Follower<'_, G, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug("Follower", f)
    }
}

impl<'a, G: PsiGroup, T: AsRef<[u8]> + Sync> Follower<'a, G, T> {
    /// Picks the secret `b` and the random order `π_F`.
    pub fn new<R: CryptoRng + ?Sized>(
        items: &'a [T],
        params: Params,
        rng: &mut R,
    ) -> Result<Self, PsiError> {
        Party::new(items, params, rng).map(Self)
    }

    /// Our hello.
    pub fn hello(&self) -> Hello {
        self.0.hello(false)
    }

    /// Checks the leader's hello; the session is the only way on.
    pub fn accept(self, peer: &Hello) -> Result<FollowerSession<'a, G, T>, PsiError> {
        check_peer::<G>(&self.hello(), peer, &self.0.params)?;
        let tag_len = tag_len(peer.items, self.0.items.len() as u64);
        Ok(FollowerSession {
            peer: *peer,
            tag_len,
            stash: Vec::new(),
            inner: self.0,
        })
    }
}

/// The follower after a valid hello exchange.
pub struct FollowerSession<'a, G: PsiGroup, T> {
    inner: Party<'a, G, T>,
    peer: Hello,
    tag_len: usize,
    /// Cardinality mode: all tags, shuffled before sending.
    stash: Vec<u8>,
}

impl<G: PsiGroup, T> core::fmt::Debug for FollowerSession<'_, G, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FollowerSession")
            .field("peer", &self.peer)
            .field("tag_len", &self.tag_len)
            .finish_non_exhaustive()
    }
}

impl<G: PsiGroup, T: AsRef<[u8]> + Sync> FollowerSession<'_, G, T> {
    /// Chunks of points the leader sends.
    pub fn peer_chunks(&self) -> usize {
        chunk_count(self.peer.items, self.peer.chunk)
    }

    /// Chunks of our points.
    pub fn own_chunks(&self) -> usize {
        self.inner.own_chunks()
    }

    /// Items in the leader's chunk `r` (also the size of tag chunk `r`).
    pub fn peer_chunk_len(&self, r: usize) -> usize {
        chunk_len(self.peer.items, self.peer.chunk, r)
    }

    /// Items in our chunk `r`.
    pub fn own_chunk_len(&self, r: usize) -> usize {
        self.inner.own_chunk_len(r)
    }

    /// The tag length in use.
    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// The mode.
    pub fn reveal(&self) -> Reveal {
        self.inner.params.reveal
    }

    /// The leader's item count.
    pub fn peer_items(&self) -> u64 {
        self.peer.items
    }

    /// Step 2: the leader's chunk `r` → tags `T(b·a·H(x))` to send now (or `None` in
    /// Cardinality mode, where they are stashed and shuffled at the end).
    pub fn on_peer_points(&mut self, r: usize, bytes: &[u8]) -> Result<Option<Vec<u8>>, PsiError> {
        let count = self.peer_chunk_len(r);
        let first = r as u64 * u64::from(self.peer.chunk);
        let tags = peer_points_to_tags::<G>(bytes, count, first, &self.inner.key, self.tag_len)?;
        if self.inner.params.reveal == Reveal::Cardinality {
            self.stash.extend_from_slice(&tags);
            return Ok(None);
        }
        Ok(Some(tags))
    }

    /// Step 3: `b·H(y)` for our chunk `r` in `π_F` order.
    pub fn points_chunk(&self, r: usize) -> Result<Vec<u8>, PsiError> {
        self.inner.points_chunk(r)
    }

    /// Cardinality mode: the stashed tags, shuffled, split as the leader's chunks.
    pub fn shuffled_tags<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Vec<Vec<u8>> {
        let mut tags: Vec<&[u8]> = self.stash.chunks_exact(self.tag_len).collect();
        shuffle::shuffle(rng, &mut tags);
        (0..self.peer_chunks())
            .scan(0usize, |at, r| {
                let n = self.peer_chunk_len(r);
                let msg = tags[*at..*at + n].concat();
                *at += n;
                Some(msg)
            })
            .collect()
    }

    /// The smaller of the two set sizes (bound on any announced intersection).
    pub fn max_intersection(&self) -> u64 {
        self.peer.items.min(self.inner.items.len() as u64)
    }

    /// Step 5 (Both): our matching positions (`π_F` order) → output.
    pub fn finish_with_positions(self, positions: &[u32]) -> PsiOutput {
        let idx = positions
            .iter()
            .map(|&p| self.inner.order[p as usize] as usize)
            .collect();
        PsiOutput {
            intersection: Some(sorted_by_item(self.inner.items, idx)),
            cardinality: Some(positions.len() as u64),
            peer_items: self.peer.items,
            stats: Default::default(),
        }
    }

    /// Step 5 (Cardinality / LeaderOnly): output without rows.
    pub fn finish_without_rows(self, cardinality: Option<u64>) -> PsiOutput {
        PsiOutput {
            intersection: None,
            cardinality,
            peer_items: self.peer.items,
            stats: Default::default(),
        }
    }

    /// Our item count.
    pub fn own_items(&self) -> u64 {
        self.inner.items.len() as u64
    }

    /// Chunk size the leader uses for index messages.
    pub fn peer_chunk(&self) -> u32 {
        self.peer.chunk
    }
}

/// Tags are uniformly random, so their low 64 bits are already a good hash; SipHash would cost
/// more than the rest of the matching.
#[derive(Clone, Copy, Default)]
pub(crate) struct TagHasher;

impl core::hash::BuildHasher for TagHasher {
    type Hasher = TagHash;
    fn build_hasher(&self) -> TagHash {
        TagHash(0)
    }
}

/// See [`TagHasher`].
#[derive(Clone, Copy, Default)]
pub(crate) struct TagHash(u64);

impl core::hash::Hasher for TagHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        // Truncation intended: the low 64 bits of a random tag.
        #[allow(clippy::cast_possible_truncation)]
        let low = v as u64;
        self.0 = low;
    }
}
