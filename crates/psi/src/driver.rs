//! `run_leader` / `run_follower`: drive the roles over a [`Channel`].
//!
//! Schedule (deadlock-free with any channel whose `send` does not wait for the peer to read, such
//! as the in-memory duplex or the TCP channel's writer thread): in round `r` the leader sends its
//! point chunk `r` and then receives the follower's round `r − W` (tags for chunk `r − W`, then
//! point chunk `r − W`); the follower receives the leader's chunk `r`, answers with its tags, then
//! sends its own point chunk `r`. The window `W` keeps both parties computing while messages are
//! in flight, and bounds what is queued to about `2·(W + 1)` messages per direction.

use rand_core::CryptoRng;
use unseen_channel::Channel;
use unseen_crypto::PsiGroup;

use crate::msgs::{self, Hello, ResultHeader, header, step};
use crate::{Follower, Leader, Params, PsiError, PsiOutput, Reveal};

/// Rounds the leader runs ahead of its receives.
const WINDOW: usize = 2;

/// Progress of one party: items processed (own items hashed and sent, peer items processed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Items done.
    pub done: u64,
    /// Items in all (own + peer).
    pub total: u64,
}

fn max_points<G: PsiGroup>(chunk: u32) -> usize {
    chunk as usize * G::ENCODED_LEN
}

fn exchange_hello<C: Channel>(ch: &mut C, ours: &Hello) -> Result<Hello, PsiError> {
    ch.send(header(step::HELLO), ours.encode())?;
    let b = ch.recv(header(step::HELLO), Hello::MAX_LEN)?;
    Hello::decode(&b)
}

/// Runs the leader (the party that compares) over `ch`.
pub fn run_leader<G, T, C, R>(
    ch: &mut C,
    items: &[T],
    params: Params,
    rng: &mut R,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PsiOutput, PsiError>
where
    G: PsiGroup,
    T: AsRef<[u8]> + Sync,
    C: Channel,
    R: CryptoRng + ?Sized,
{
    let leader = Leader::<G, T>::new(items, params, rng)?;
    let peer = exchange_hello(ch, &leader.hello())?;
    let mut s = leader.accept(&peer)?;
    let total = items.len() as u64 + peer.items;
    let mut done = 0u64;
    let (ca, cb) = (s.own_chunks(), s.peer_chunks());
    let rounds = ca.max(cb);
    let tag_len = s.tag_len();
    let card = s.reveal() == Reveal::Cardinality;
    for r in 0..rounds + WINDOW {
        if r < ca {
            ch.send(header(step::LEADER_POINTS), s.points_chunk(r)?)?;
            done += s.own_chunk_len(r) as u64;
            progress(Progress { done, total });
        }
        let Some(q) = r.checked_sub(WINDOW) else {
            continue;
        };
        if q < ca && !card {
            let b = ch.recv(header(step::TAGS), s.own_chunk_len(q) * tag_len)?;
            s.on_tags(q, &b)?;
        }
        if q < cb {
            let b = ch.recv(header(step::FOLLOWER_POINTS), max_points::<G>(peer.chunk))?;
            s.on_peer_points(q, &b)?;
            done += s.peer_chunk_len(q) as u64;
            progress(Progress { done, total });
        }
    }
    if card {
        for r in 0..ca {
            let b = ch.recv(header(step::TAGS), s.own_chunk_len(r) * tag_len)?;
            s.on_tags(r, &b)?;
        }
    }
    let (mut out, to_send) = s.finish();
    let mut it = to_send.into_iter();
    if let Some(h) = it.next() {
        ch.send(header(step::RESULT), h)?;
    }
    for m in it {
        ch.send(header(step::INDICES), m)?;
    }
    ch.flush()?;
    out.stats = ch.stats();
    Ok(out)
}

/// Runs the follower over `ch`.
pub fn run_follower<G, T, C, R>(
    ch: &mut C,
    items: &[T],
    params: Params,
    rng: &mut R,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PsiOutput, PsiError>
where
    G: PsiGroup,
    T: AsRef<[u8]> + Sync,
    C: Channel,
    R: CryptoRng + ?Sized,
{
    let follower = Follower::<G, T>::new(items, params, rng)?;
    let peer = exchange_hello(ch, &follower.hello())?;
    let mut s = follower.accept(&peer)?;
    let total = items.len() as u64 + peer.items;
    let mut done = 0u64;
    let (ca, cb) = (s.peer_chunks(), s.own_chunks());
    for r in 0..ca.max(cb) {
        if r < ca {
            let b = ch.recv(header(step::LEADER_POINTS), max_points::<G>(peer.chunk))?;
            if let Some(tags) = s.on_peer_points(r, &b)? {
                ch.send(header(step::TAGS), tags)?;
            }
            done += s.peer_chunk_len(r) as u64;
            progress(Progress { done, total });
        }
        if r < cb {
            ch.send(header(step::FOLLOWER_POINTS), s.points_chunk(r)?)?;
            done += s.own_chunk_len(r) as u64;
            progress(Progress { done, total });
        }
    }
    let mut out = match s.reveal() {
        Reveal::Cardinality => {
            for m in s.shuffled_tags(rng) {
                ch.send(header(step::TAGS), m)?;
            }
            let b = ch.recv(header(step::RESULT), ResultHeader::LEN)?;
            let h = ResultHeader::decode(&b, s.max_intersection())?;
            s.finish_without_rows(Some(h.count))
        }
        Reveal::LeaderOnly => s.finish_without_rows(None),
        Reveal::Both => {
            let b = ch.recv(header(step::RESULT), ResultHeader::LEN)?;
            let h = ResultHeader::decode(&b, s.max_intersection())?;
            // h.count <= min(n_L, n_F) <= u32::MAX.
            let count = usize::try_from(h.count).map_err(|_| {
                PsiError::BadResult(format!("{} results do not fit in memory", h.count))
            })?;
            let chunk = s.peer_chunk() as usize;
            let mut positions =
                Vec::with_capacity(count.min(usize::try_from(s.own_items()).unwrap_or(usize::MAX)));
            while positions.len() < count {
                let n = (count - positions.len()).min(chunk);
                let b = ch.recv(header(step::INDICES), n * 4)?;
                let prev = positions.last().copied();
                positions.extend(msgs::decode_indices(&b, n, s.own_items(), prev)?);
            }
            s.finish_with_positions(&positions)
        }
    };
    ch.flush()?;
    out.stats = ch.stats();
    Ok(out)
}

/// Which side of the protocol this party plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// [`run_leader`]: sends first, compares.
    Leader,
    /// [`run_follower`].
    Follower,
}

/// Runs `side` over the group `curve`, chosen at run time: the one place where a caller's
/// [`CurveId`](unseen_crypto::CurveId) becomes a group type, so callers never match on it.
///
/// # Errors
///
/// As [`run_leader`] and [`run_follower`].
pub fn run_on<T, C, R>(
    curve: unseen_crypto::CurveId,
    side: Side,
    ch: &mut C,
    items: &[T],
    params: Params,
    rng: &mut R,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PsiOutput, PsiError>
where
    T: AsRef<[u8]> + Sync,
    C: Channel,
    R: CryptoRng + ?Sized,
{
    use unseen_crypto::{CurveId, Ristretto255, Sm2};
    match (curve, side) {
        (CurveId::Ristretto255, Side::Leader) => {
            run_leader::<Ristretto255, _, _, _>(ch, items, params, rng, progress)
        }
        (CurveId::Ristretto255, Side::Follower) => {
            run_follower::<Ristretto255, _, _, _>(ch, items, params, rng, progress)
        }
        (CurveId::Sm2, Side::Leader) => {
            run_leader::<Sm2, _, _, _>(ch, items, params, rng, progress)
        }
        (CurveId::Sm2, Side::Follower) => {
            run_follower::<Sm2, _, _, _>(ch, items, params, rng, progress)
        }
    }
}
