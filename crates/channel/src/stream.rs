//! [`StreamChannel`]: the frame codec over any byte stream.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::frame::{encode_prefix, read_frame};
use crate::{AbortCategory, Channel, ChannelError, FrameRead, Header, Stats};

/// What a test's tampering hook does with an outgoing message (see [`StreamChannel::with_tamper`]).
#[derive(Debug)]
pub enum Tamper {
    /// Send the message unchanged.
    Pass,
    /// Send this header and payload instead.
    Replace(Header, Vec<u8>),
    /// Write these raw bytes instead of the frame (the peer's decoder sees them as they are).
    Raw(Vec<u8>),
    /// Write these raw bytes, then close the connection.
    RawThenClose(Vec<u8>),
}

/// A hook that sees every outgoing message (its index from 0, header and payload) and decides
/// what goes on the wire. For hostile-peer tests only.
pub type TamperHook = Box<dyn FnMut(u64, Header, &[u8]) -> Tamper + Send>;

enum Writer {
    /// Writes go straight to the sink (in-memory pipes never block).
    Direct(Box<dyn Write + Send>),
    /// Writes go to a writer thread through a bounded queue (sockets may block).
    Threaded {
        tx: SyncSender<Vec<u8>>,
        flush_rx: Receiver<()>,
        pending: Arc<Mutex<u64>>,
        error: Arc<Mutex<Option<String>>>,
        handle: Option<JoinHandle<()>>,
    },
    Closed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Sent,
    Received,
}

/// The frame codec over a reader and a writer, counting bytes and rounds.
pub struct StreamChannel {
    reader: Box<dyn FrameRead>,
    writer: Writer,
    stats: Stats,
    last: Option<Dir>,
    frame_timeout: Option<Duration>,
    tamper: Option<TamperHook>,
    aborted: Option<AbortCategory>,
}

impl core::fmt::Debug for StreamChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamChannel")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl StreamChannel {
    /// A channel whose writes go directly to `writer` (use only when writes cannot block for
    /// long, e.g. in-memory pipes).
    pub fn direct(reader: Box<dyn FrameRead>, writer: Box<dyn Write + Send>) -> Self {
        Self::new(reader, Writer::Direct(writer), None)
    }

    /// A channel whose writes are performed by a background thread fed through a queue of at most
    /// `queue_frames` frames, so `send` never waits for the peer to read unless the queue is full.
    ///
    /// With a `frame_timeout`, each received frame must arrive whole within it (plus its length
    /// at [`crate::MIN_FRAME_RATE`]) from when `recv` began to wait for it, else `recv` fails
    /// with [`ChannelError::Timeout`] (nothing came) or [`ChannelError::SlowFrame`].
    pub fn threaded(
        reader: Box<dyn FrameRead>,
        writer: Box<dyn Write + Send>,
        queue_frames: usize,
        frame_timeout: Option<Duration>,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(queue_frames.max(1));
        let (flush_tx, flush_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let error = Arc::new(Mutex::new(None));
        let pending = Arc::new(Mutex::new(0u64));
        let thread_error = Arc::clone(&error);
        let thread_pending = Arc::clone(&pending);
        let handle = std::thread::Builder::new()
            .name("unseen-channel-writer".into())
            .spawn(move || writer_loop(writer, &rx, &flush_tx, &thread_pending, &thread_error))
            .ok();
        let writer = match handle {
            Some(handle) => Writer::Threaded {
                tx,
                flush_rx,
                pending,
                error,
                handle: Some(handle),
            },
            None => Writer::Closed,
        };
        Self::new(reader, writer, frame_timeout)
    }

    fn new(reader: Box<dyn FrameRead>, writer: Writer, frame_timeout: Option<Duration>) -> Self {
        Self {
            reader,
            writer,
            stats: Stats::default(),
            last: None,
            frame_timeout,
            tamper: None,
            aborted: None,
        }
    }

    /// Installs a tampering hook on outgoing messages (hostile-peer tests).
    #[must_use]
    pub fn with_tamper(mut self, hook: TamperHook) -> Self {
        self.tamper = Some(hook);
        self
    }

    fn note(&mut self, dir: Dir) {
        if self.last != Some(dir) {
            self.stats.rounds += 1;
            self.last = Some(dir);
        }
    }

    fn write_bytes(&mut self, bytes: Vec<u8>) -> Result<(), ChannelError> {
        match &mut self.writer {
            Writer::Direct(w) => {
                w.write_all(&bytes)?;
                Ok(())
            }
            Writer::Threaded {
                tx, pending, error, ..
            } => {
                if let Some(e) = lock(error).clone() {
                    return Err(ChannelError::LocalClosed(e));
                }
                *lock(pending) += 1;
                tx.send(bytes).map_err(|_| {
                    ChannelError::LocalClosed(
                        lock(error)
                            .clone()
                            .unwrap_or_else(|| "writer stopped".into()),
                    )
                })
            }
            Writer::Closed => Err(ChannelError::LocalClosed("closed".into())),
        }
    }

    fn close_writer(&mut self) {
        let old = std::mem::replace(&mut self.writer, Writer::Closed);
        if let Writer::Threaded { tx, handle, .. } = old {
            drop(tx);
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
    }
}

impl Drop for StreamChannel {
    fn drop(&mut self) {
        self.close_writer();
    }
}

impl Channel for StreamChannel {
    fn send(&mut self, header: Header, payload: Vec<u8>) -> Result<(), ChannelError> {
        let index = self.stats.messages_sent;
        let (header, payload) = match self.tamper.as_mut().map(|t| t(index, header, &payload)) {
            None | Some(Tamper::Pass) => (header, payload),
            Some(Tamper::Replace(h, p)) => (h, p),
            Some(Tamper::Raw(bytes)) => {
                self.stats.messages_sent += 1;
                return self.write_bytes(bytes);
            }
            Some(Tamper::RawThenClose(bytes)) => {
                self.stats.messages_sent += 1;
                self.write_bytes(bytes)?;
                self.close_writer();
                return Ok(());
            }
        };
        let prefix = encode_prefix(header, payload.len())?;
        let mut frame = Vec::with_capacity(prefix.len() + payload.len());
        frame.extend_from_slice(&prefix);
        frame.extend_from_slice(&payload);
        drop(payload);
        self.note(Dir::Sent);
        self.stats.bytes_sent += frame.len() as u64;
        self.stats.messages_sent += 1;
        self.write_bytes(frame)
    }

    fn recv(&mut self, expect: Header, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let payload = read_frame(&mut *self.reader, expect, max_len, self.frame_timeout)
            .inspect_err(|e| {
                if let ChannelError::PeerAborted { category } = e {
                    self.aborted = Some(*category);
                }
            })?;
        self.note(Dir::Received);
        self.stats.bytes_received += (crate::FRAME_HEADER_LEN + payload.len()) as u64;
        self.stats.messages_received += 1;
        Ok(payload)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        match &mut self.writer {
            Writer::Direct(w) => Ok(w.flush()?),
            Writer::Threaded {
                flush_rx,
                pending,
                error,
                ..
            } => loop {
                if let Some(e) = lock(error).clone() {
                    return Err(ChannelError::LocalClosed(e));
                }
                if *lock(pending) == 0 {
                    return Ok(());
                }
                // The writer signals after each drained batch; a disconnect means it stopped.
                if flush_rx.recv().is_err() {
                    return Err(ChannelError::LocalClosed(
                        lock(error)
                            .clone()
                            .unwrap_or_else(|| "writer stopped".into()),
                    ));
                }
            },
            Writer::Closed => Ok(()),
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn peer_aborted(&self) -> Option<AbortCategory> {
        self.aborted
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the data (a counter or
    // an error string) is still meaningful.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn writer_loop(
    mut w: Box<dyn Write + Send>,
    rx: &Receiver<Vec<u8>>,
    flushed: &SyncSender<()>,
    pending: &Mutex<u64>,
    error: &Mutex<Option<String>>,
) {
    let fail = |e: std::io::Error| {
        *lock(error) = Some(format!("write failed: {e}"));
    };
    while let Ok(first) = rx.recv() {
        let mut written = 1u64;
        if let Err(e) = w.write_all(&first) {
            return fail(e);
        }
        while let Ok(next) = rx.try_recv() {
            written += 1;
            if let Err(e) = w.write_all(&next) {
                return fail(e);
            }
        }
        if let Err(e) = w.flush() {
            return fail(e);
        }
        {
            let mut p = lock(pending);
            *p = p.saturating_sub(written);
        }
        let _ = flushed.try_send(());
    }
    let _ = w.flush();
}
