//! Who gets a node's partner-facing resources: connections still in the TLS handshake, sessions
//! with authenticated partners, and this node's own outgoing sessions per partner.
//!
//! # Responder: two pools
//!
//! * **Handshakes** (at most [`Limits::handshakes`], of which at most
//!   [`Limits::handshakes_per_source`] from one source: an IPv4 address or an IPv6 /64). A
//!   connection stays here until its TLS handshake ends, which is bounded by the hello deadline
//!   (its first bytes) and the handshake deadline (`[timeouts] handshake_s`). When a new
//!   connection finds the pool (or its source's share) full, the pool does not refuse it: it
//!   closes the **oldest pending connection that has not sent a byte yet**, or failing that the
//!   oldest pending one, to make room. A real partner sends its ClientHello at once and finishes
//!   in milliseconds, so idle or slow connections are shed first and a flood that re-opens its
//!   sockets keeps evicting itself. Refusing the newest instead would let the flood hold the
//!   pool; a cap per source alone would also refuse a partner behind the same address (NAT,
//!   loopback tests).
//! * **Sessions** (at most [`Limits::sessions`]): only connections that completed the handshake
//!   with a pinned certificate. A stranger can never occupy one. When they are all taken, the
//!   partner is told "busy" over TLS before it proposes anything, and its `connect` fails with
//!   the retryable [`unseen_transport::TransportError::Busy`].
//!
//! # Initiator: a queue per partner
//!
//! [`Outgoing`] lets at most [`MAX_OUTGOING_PER_PARTNER`] jobs of this node talk to one partner
//! at once; later jobs wait (state `proposed`, cancellable) in a queue of at most
//! [`MAX_QUEUED_PER_PARTNER`], beyond which they fail with "partner busy". A connection that
//! fails transiently before the proposal is sent (busy, or closed/reset during the handshake)
//! is retried with exponential backoff for up to [`CONNECT_RETRY_FOR`] (see `jobs::initiate`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Jobs of this node in session with one partner at once; the responder serves
/// [`crate::daemon::MAX_CONNECTIONS`] sessions, so a few initiators fit beside each other.
pub const MAX_OUTGOING_PER_PARTNER: usize = 16;

/// Jobs that may wait for one of those sessions; one more fails with "partner busy".
pub const MAX_QUEUED_PER_PARTNER: usize = 1_024;

/// How long an initiator retries a connection that failed transiently (busy, or dropped during
/// the handshake) before the job fails.
pub const CONNECT_RETRY_FOR: Duration = Duration::from_secs(60);

/// The pools' sizes on the responder.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Sessions with authenticated partners served at once.
    pub sessions: usize,
    /// Connections in the TLS handshake at once.
    pub handshakes: usize,
    /// Connections in the TLS handshake from one source (IPv4 address, IPv6 /64) at once.
    pub handshakes_per_source: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sessions: crate::daemon::MAX_CONNECTIONS,
            handshakes: 32,
            handshakes_per_source: 8,
        }
    }
}

/// Where a connection comes from, as far as shares are concerned: an IPv4 address, or the /64
/// of an IPv6 address (one host usually owns a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source of a peer address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Self(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A connection in the handshake pool.
struct Pending {
    id: u64,
    source: Source,
    /// Set once its first bytes arrived.
    spoke: Arc<AtomicBool>,
    /// A clone of its socket, to close it when it is evicted.
    tcp: TcpStream,
}

/// The handshake pool (oldest first).
pub(crate) struct Handshakes {
    limits: Limits,
    inner: Mutex<(u64, VecDeque<Pending>)>,
}

/// A place in the handshake pool; leaving it (drop) frees it.
pub(crate) struct HandshakeSlot {
    pool: Arc<Handshakes>,
    id: u64,
    spoke: Arc<AtomicBool>,
}

impl HandshakeSlot {
    /// The connection sent its first bytes: it is evicted only after the silent ones.
    pub(crate) fn spoke(&self) {
        self.spoke.store(true, Ordering::Release);
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        lock(&self.pool.inner).1.retain(|p| p.id != self.id);
    }
}

impl Handshakes {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Enters a new connection (whose socket clone is `tcp`), evicting older pending ones as
    /// the limits require. Returns its slot and how many were evicted.
    pub(crate) fn enter(
        self: &Arc<Self>,
        source: Source,
        tcp: TcpStream,
    ) -> (HandshakeSlot, usize) {
        let mut g = lock(&self.inner);
        let mut evicted = 0;
        let per_source = self.limits.handshakes_per_source.max(1);
        while g.1.iter().filter(|p| p.source == source).count() >= per_source {
            if !evict(&mut g.1, |p| p.source == source) {
                break;
            }
            evicted += 1;
        }
        while g.1.len() >= self.limits.handshakes.max(1) {
            if !evict(&mut g.1, |_| true) {
                break;
            }
            evicted += 1;
        }
        let id = g.0;
        g.0 += 1;
        let spoke = Arc::new(AtomicBool::new(false));
        g.1.push_back(Pending {
            id,
            source,
            spoke: Arc::clone(&spoke),
            tcp,
        });
        (
            HandshakeSlot {
                pool: Arc::clone(self),
                id,
                spoke,
            },
            evicted,
        )
    }

    /// Connections in the pool now.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.inner).1.len()
    }
}

/// Closes and removes the oldest pending connection among those `eligible`, silent ones first.
/// Returns whether one was found.
fn evict(list: &mut VecDeque<Pending>, eligible: impl Fn(&Pending) -> bool) -> bool {
    let pick = list
        .iter()
        .position(|p| eligible(p) && !p.spoke.load(Ordering::Acquire))
        .or_else(|| list.iter().position(&eligible));
    let Some(i) = pick else {
        return false;
    };
    if let Some(p) = list.remove(i) {
        // Its handshake thread then fails at once (end of stream) and leaves.
        let _ = p.tcp.shutdown(Shutdown::Both);
    }
    true
}

/// The initiator's sessions per partner, and the queue in front of them.
#[derive(Debug)]
pub(crate) struct Outgoing {
    per_partner: usize,
    max_queued: usize,
    /// Partner → (in session, waiting).
    state: Mutex<HashMap<String, (usize, usize)>>,
    freed: Condvar,
}

impl Default for Outgoing {
    fn default() -> Self {
        Self::new(MAX_OUTGOING_PER_PARTNER, MAX_QUEUED_PER_PARTNER)
    }
}

/// A session with a partner; dropping it lets the next queued job go.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    owner: &'a Outgoing,
    partner: String,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut g = lock(&self.owner.state);
        if let Some(e) = g.get_mut(&self.partner) {
            e.0 = e.0.saturating_sub(1);
            if *e == (0, 0) {
                g.remove(&self.partner);
            }
        }
        drop(g);
        self.owner.freed.notify_all();
    }
}

impl Outgoing {
    pub(crate) fn new(per_partner: usize, max_queued: usize) -> Self {
        Self {
            per_partner: per_partner.max(1),
            max_queued,
            state: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
        }
    }

    /// Waits for a session with `partner` (in arrival order of the wake-ups, roughly FIFO);
    /// fails when the queue is full or the job is cancelled while it waits.
    pub(crate) fn acquire(&self, partner: &str, cancel: &AtomicBool) -> Result<Permit<'_>, String> {
        let mut g = lock(&self.state);
        let entry = g.entry(partner.to_owned()).or_insert((0, 0));
        if entry.0 < self.per_partner {
            entry.0 += 1;
            return Ok(Permit {
                owner: self,
                partner: partner.to_owned(),
            });
        }
        if entry.1 >= self.max_queued {
            return Err(format!(
                "partner busy: {} jobs of this node are already waiting for partner {partner} \
                 (at most {} run with it at once); retry later",
                entry.1, self.per_partner
            ));
        }
        entry.1 += 1;
        loop {
            g = self
                .freed
                .wait_timeout(g, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            let entry = g.entry(partner.to_owned()).or_insert((0, 1));
            if cancel.load(Ordering::SeqCst) {
                entry.1 = entry.1.saturating_sub(1);
                return Err("cancelled while waiting for a session with the partner".into());
            }
            if entry.0 < self.per_partner {
                entry.1 = entry.1.saturating_sub(1);
                entry.0 += 1;
                return Ok(Permit {
                    owner: self,
                    partner: partner.to_owned(),
                });
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The pools hold plain counters and sockets; a panic elsewhere leaves them consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::TcpListener;

    use super::*;

    fn socket_pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn full_pool_evicts_the_oldest_silent_connection_first() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = Arc::new(Handshakes::new(Limits {
            sessions: 1,
            handshakes: 3,
            handshakes_per_source: 3,
        }));
        let src = Source::of("127.0.0.1".parse().unwrap());
        let conns: Vec<_> = (0..3).map(|_| socket_pair(&l)).collect();
        let (first, _) = pool.enter(src, conns[0].1.try_clone().unwrap());
        first.spoke();
        let (_second, _) = pool.enter(src, conns[1].1.try_clone().unwrap());
        let (_third, _) = pool.enter(src, conns[2].1.try_clone().unwrap());
        let (c4, s4) = socket_pair(&l);
        let (_fourth, evicted) = pool.enter(src, s4.try_clone().unwrap());
        assert_eq!(evicted, 1);
        assert_eq!(pool.len(), 3);
        // The second (oldest silent) was closed, not the first (which spoke).
        let mut buf = [0u8; 1];
        use std::io::Read;
        assert_eq!((&conns[1].0).read(&mut buf).unwrap(), 0);
        conns[0].0.set_nonblocking(true).unwrap();
        assert!((&conns[0].0).read(&mut buf).is_err(), "still open");
        drop((c4, first));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn ipv6_sources_are_grouped_by_64() {
        let a = Source::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Source::of("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = Source::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Source::of("::ffff:10.0.0.1".parse().unwrap()),
            Source::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn outgoing_queue_is_bounded_and_cancellable() {
        let out = Outgoing::new(1, 1);
        let no = AtomicBool::new(false);
        let p = out.acquire("b", &no).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| out.acquire("b", &no).map(|_| ()));
            std::thread::sleep(Duration::from_millis(300));
            // One waits; the queue (1) is full.
            assert!(out.acquire("b", &no).unwrap_err().contains("partner busy"));
            drop(p);
            waiter.join().unwrap().unwrap();
        });
        let p = out.acquire("b", &no).unwrap();
        let yes = AtomicBool::new(true);
        assert!(out.acquire("b", &yes).unwrap_err().contains("cancelled"));
        drop(p);
        assert!(lock(&out.state).is_empty());
    }
}
