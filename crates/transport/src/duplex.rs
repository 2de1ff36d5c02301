//! A full-duplex blocking TLS stream: one rustls connection, read on the caller's thread and
//! written on the channel's writer thread at the same time. See the crate documentation for why
//! the design is sound.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use unseen_channel::{Channel, ChannelError, FrameRead, Header, Stats, StreamChannel, TamperHook};

use crate::{Fingerprint, Options};

/// Ciphertext read from the socket per `read` system call.
const READ_BYTES: usize = 256 << 10;
/// Ciphertext handed to rustls per hold of the connection lock, so that the writer thread is
/// never kept from the lock for long while a large frame is received.
const FEED_BYTES_PER_LOCK: usize = 128 << 10;
/// Plaintext encrypted per hold of the connection lock (and so per socket write).
const WRITE_BYTES: usize = 256 << 10;
/// rustls's bound on buffered outgoing TLS data. Every write drains it completely, so this only
/// caps what one write may encrypt (plus a key-update answer rustls seals in front).
const TLS_BUFFER_LIMIT: usize = 2 * WRITE_BYTES;
/// Plaintext coalescing in front of the TLS writer: small frames are batched into large TLS
/// writes, frames at least this large bypass the copy.
const PLAINTEXT_BUFFER_BYTES: usize = 64 << 10;
/// Frames the channel's writer thread may hold before `send` waits (as the plain TCP channel).
const SEND_QUEUE_FRAMES: usize = crate::tcp::SEND_QUEUE_FRAMES;

/// What the read half, the write half and the shutdown handles share.
struct Link {
    conn: Mutex<rustls::Connection>,
    tcp: TcpStream,
    /// Set by [`ShutdownHandle::shutdown`], so the halves report a local cancellation rather than
    /// the peer closing.
    shut: AtomicBool,
}

impl Link {
    fn locally_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    fn shut_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the connection was shut down locally",
        )
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a thread panicked while holding it; rustls keeps its own state
    // consistent between calls (a failed call leaves a sticky error), so carrying on is sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read half: plaintext for the frame decoder.
struct TlsReader {
    link: Arc<Link>,
    /// Ciphertext read from the socket and not yet handed to rustls: `buf[start..end]`.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The deadline of the frame being read (see [`FrameRead`]): every socket read, including
    /// the repeated ones while a TLS record trickles in, waits at most until then.
    deadline: Option<Instant>,
}

impl FrameRead for TlsReader {
    fn set_deadline(&mut self, deadline: Instant) -> io::Result<()> {
        self.deadline = Some(deadline);
        Ok(())
    }
}

impl TlsReader {
    /// Bounds the next socket read by the frame's deadline.
    fn arm_timeout(&self) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.link.tcp.set_read_timeout(Some(left))
    }
}

impl Read for TlsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let mut filled = 0;
            {
                let mut conn = lock(&self.link.conn);
                let mut fed = 0;
                loop {
                    match conn.reader().read(&mut out[filled..]) {
                        // Closed cleanly (close_notify), and everything before it was read.
                        Ok(0) => return Ok(filled),
                        Ok(n) => {
                            filled += n;
                            if filled == out.len() {
                                return Ok(filled);
                            }
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // TCP EOF without close_notify. The frame layer's lengths detect a
                        // truncated message, so this is reported as an end of stream like any
                        // other; a bare TCP close cannot forge data.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            if filled == 0 && self.link.locally_shut() {
                                return Err(Link::shut_error());
                            }
                            return Ok(filled);
                        }
                        Err(e) => return Err(e),
                    }
                    // rustls's plaintext buffer is empty: hand it more ciphertext, if we have
                    // some and have not held the lock too long already.
                    if self.start == self.end || fed >= FEED_BYTES_PER_LOCK {
                        break;
                    }
                    let mut pending = &self.buf[self.start..self.end];
                    let fed_now = conn.read_tls(&mut pending).and_then(|n| {
                        conn.process_new_packets()
                            .map(|_| n)
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                    });
                    match fed_now {
                        Ok(n) => {
                            self.start += n;
                            fed += n;
                        }
                        Err(e) => {
                            drop(conn);
                            // The session is dead (rustls errors are sticky, and a record rustls
                            // cannot buffer is a protocol violation): stop the writer too.
                            let _ = self.link.tcp.shutdown(Shutdown::Both);
                            return Err(e);
                        }
                    }
                }
            }
            if filled > 0 {
                return Ok(filled);
            }
            if self.start < self.end {
                // Lock released for fairness; more ciphertext is already here.
                continue;
            }
            if self.link.locally_shut() {
                return Err(Link::shut_error());
            }
            // Block on the socket without holding the lock, so the writer keeps going.
            self.arm_timeout()?;
            let n = match (&self.link.tcp).read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if self.link.locally_shut() => {
                    drop(e);
                    return Err(Link::shut_error());
                }
                // Includes the read timeout (WouldBlock / TimedOut), which the frame decoder
                // reports as `ChannelError::Timeout`.
                Err(e) => return Err(e),
            };
            self.start = 0;
            self.end = n;
            if n == 0 {
                // TCP EOF: let rustls record it, so its reader reports a clean or unclean close.
                let mut conn = lock(&self.link.conn);
                conn.read_tls(&mut io::empty())?;
            }
        }
    }
}

/// Write half: plaintext from the channel's writer thread.
struct TlsWriter {
    link: Arc<Link>,
    /// TLS records drained from rustls under the lock, written to the socket without it.
    records: Vec<u8>,
    /// How long one batch of records may take to be written (the read timeout).
    write_timeout: Duration,
}

impl TlsWriter {
    /// Encrypts up to [`WRITE_BYTES`] of `plain` (after anything rustls had queued), then writes
    /// the records to the socket. Returns how much plaintext was taken.
    fn write_some(&mut self, plain: &[u8]) -> io::Result<usize> {
        if self.link.locally_shut() {
            return Err(Link::shut_error());
        }
        let taken = {
            let mut conn = lock(&self.link.conn);
            let take = plain.len().min(WRITE_BYTES);
            let taken = if take == 0 {
                0
            } else {
                conn.writer().write(&plain[..take])?
            };
            self.records.clear();
            while conn.wants_write() {
                conn.write_tls(&mut self.records)?;
            }
            taken
        };
        if !self.records.is_empty() {
            self.send_records()
                .map_err(|e| match self.link.locally_shut() {
                    true => Link::shut_error(),
                    false => e,
                })?;
        }
        if taken == 0 && !plain.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the TLS session accepts no more data",
            ));
        }
        Ok(taken)
    }
}

impl TlsWriter {
    /// Writes the drained records (at most about [`WRITE_BYTES`]) to the socket, all within the
    /// write timeout plus their length at [`unseen_channel::MIN_FRAME_RATE`]: a deadline for the
    /// batch, not per `write`, so a peer that reads one byte at a time cannot hold us forever.
    fn send_records(&self) -> io::Result<()> {
        let allowance = self.records.len() as u64 / unseen_channel::MIN_FRAME_RATE;
        let deadline = Instant::now() + self.write_timeout + Duration::from_secs(allowance);
        let mut rest = &self.records[..];
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the partner reads too slowly: a batch of records was not taken in time",
                ));
            }
            self.link.tcp.set_write_timeout(Some(left))?;
            match (&self.link.tcp).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Plaintext is never held back here (every write encrypts and sends at once); this only
        // sends whatever rustls may still have queued.
        self.write_some(&[]).map(|_| ())
    }
}

impl Drop for TlsWriter {
    fn drop(&mut self) {
        // The channel is closing its sending side (dropped, or a hostile test closing after
        // raw bytes): say so with close_notify, so the peer sees a clean end of stream, then
        // half-close the socket. Errors are moot here: the peer may already be gone.
        if self.link.locally_shut() {
            return;
        }
        lock(&self.link.conn).send_close_notify();
        let _ = self.write_some(&[]);
        let _ = self.link.tcp.shutdown(Shutdown::Write);
    }
}

/// Cancels a [`TlsChannel`] from any thread: shuts its socket down both ways, so a `recv` or
/// `flush` blocked on another thread returns an error promptly.
#[derive(Clone)]
pub struct ShutdownHandle {
    link: Arc<Link>,
}

impl ShutdownHandle {
    /// Shuts the connection down. Idempotent; later operations on the channel fail.
    pub fn shutdown(&self) {
        self.link.shut.store(true, Ordering::Release);
        let _ = self.link.tcp.shutdown(Shutdown::Both);
    }
}

impl core::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("shut", &self.link.locally_shut())
            .finish()
    }
}

/// An authenticated, encrypted [`Channel`] to one pinned partner (from [`crate::connect`] or
/// [`crate::Acceptor::accept`]).
///
/// Sends are queued to a writer thread (at most 32 frames), as with the plain TCP channel.
/// Dropping the channel waits until queued frames are written, then closes the session with
/// `close_notify`.
pub struct TlsChannel {
    inner: StreamChannel,
    peer: Fingerprint,
    cipher_suite: &'static str,
    link: Arc<Link>,
}

impl TlsChannel {
    /// Wraps an established session whose socket is `tcp`.
    pub(crate) fn new(
        mut conn: rustls::Connection,
        tcp: TcpStream,
        peer: Fingerprint,
        opts: &Options,
    ) -> io::Result<Self> {
        tcp.set_read_timeout(Some(opts.read_timeout))?;
        // A peer that stops reading for as long as we would wait for it to write is stalled.
        tcp.set_write_timeout(Some(opts.read_timeout))?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown");
        let link = Arc::new(Link {
            conn: Mutex::new(conn),
            tcp,
            shut: AtomicBool::new(false),
        });
        let reader = TlsReader {
            link: Arc::clone(&link),
            buf: vec![0u8; READ_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            deadline: None,
        };
        let writer = TlsWriter {
            link: Arc::clone(&link),
            records: Vec::with_capacity(WRITE_BYTES + (WRITE_BYTES >> 6)),
            write_timeout: opts.read_timeout,
        };
        let inner = StreamChannel::threaded(
            Box::new(reader),
            Box::new(BufWriter::with_capacity(PLAINTEXT_BUFFER_BYTES, writer)),
            SEND_QUEUE_FRAMES,
            Some(opts.read_timeout),
        );
        Ok(Self {
            inner,
            peer,
            cipher_suite,
            link,
        })
    }

    /// The fingerprint of the partner's certificate (verified during the handshake).
    pub fn peer(&self) -> Fingerprint {
        self.peer
    }

    /// The negotiated TLS 1.3 cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub fn cipher_suite(&self) -> &'static str {
        self.cipher_suite
    }

    /// A handle that cancels this channel from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            link: Arc::clone(&self.link),
        }
    }

    /// Installs a tampering hook on outgoing messages, below the framing and above TLS
    /// (hostile-peer tests only).
    #[must_use]
    pub fn with_tamper(self, hook: TamperHook) -> Self {
        let Self {
            inner,
            peer,
            cipher_suite,
            link,
        } = self;
        Self {
            inner: inner.with_tamper(hook),
            peer,
            cipher_suite,
            link,
        }
    }
}

impl core::fmt::Debug for TlsChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsChannel")
            .field("peer", &self.peer)
            .field("cipher_suite", &self.cipher_suite)
            .field("stats", &self.inner.stats())
            .finish_non_exhaustive()
    }
}

impl Channel for TlsChannel {
    fn send(&mut self, header: Header, payload: Vec<u8>) -> Result<(), ChannelError> {
        self.inner.send(header, payload)
    }

    fn recv(&mut self, expect: Header, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        self.inner.recv(expect, max_len)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    fn peer_aborted(&self) -> Option<unseen_channel::AbortCategory> {
        self.inner.peer_aborted()
    }
}
