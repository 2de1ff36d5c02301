//! Plain TCP channels (no TLS): the frame codec of `unseen-channel`
//! ([`StreamChannel::threaded`]) over a socket. For loopback use only: the direct `unseen psi`
//! command (which refuses other addresses), benchmarks and tests. Nodes talk over mutual TLS
//! ([`connect`](crate::connect), [`Acceptor`](crate::Acceptor)).
//!
//! Sends never wait for the peer to read: frames go to a writer thread through a bounded queue
//! ([`SEND_QUEUE_FRAMES`]), so protocols can pipeline chunks in both directions without
//! deadlocking on full socket buffers, while memory stays bounded. Reads happen on the caller's
//! thread, each frame within [`TcpOptions::read_timeout`].

use std::io::{BufReader, BufWriter, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use unseen_channel::{ChannelError, FrameRead, StreamChannel};

/// Frames the writer thread may hold before `send` waits.
pub const SEND_QUEUE_FRAMES: usize = 32;

const BUF_BYTES: usize = 1 << 20;

/// Timeouts of a TCP channel.
#[derive(Clone, Copy, Debug)]
pub struct TcpOptions {
    /// How long `connect` keeps retrying while the listener is not up yet.
    pub connect_timeout: Duration,
    /// How long a `recv` waits for a whole frame (plus its length at
    /// [`unseen_channel::MIN_FRAME_RATE`]) before failing with [`ChannelError::Timeout`] or
    /// [`ChannelError::SlowFrame`].
    pub read_timeout: Duration,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(300),
        }
    }
}

/// Connects to `addr`, retrying until `opts.connect_timeout` (the peer may start later).
pub fn connect<A: ToSocketAddrs>(addr: A, opts: TcpOptions) -> Result<StreamChannel, ChannelError> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let deadline = Instant::now() + opts.connect_timeout;
    loop {
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(5)) {
                Ok(s) => return from_stream(s, opts),
                Err(e) => last = Some(e),
            }
        }
        if Instant::now() >= deadline {
            return Err(ChannelError::Io(last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "address resolved to nothing")
            })));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Accepts one connection on `listener`, waiting at most `wait` for the peer to connect
/// ([`ChannelError::NoPeer`] after that).
pub fn accept(
    listener: &TcpListener,
    opts: TcpOptions,
    wait: Duration,
) -> Result<StreamChannel, ChannelError> {
    let deadline = Instant::now() + wait;
    listener.set_nonblocking(true)?;
    let accepted = loop {
        match listener.accept() {
            Ok((s, _)) => break Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    break Err(ChannelError::NoPeer {
                        seconds: wait.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(ChannelError::Io(e)),
        }
    };
    listener.set_nonblocking(false)?;
    let s = accepted?;
    s.set_nonblocking(false)?;
    from_stream(s, opts)
}

/// Wraps a connected stream.
pub fn from_stream(s: TcpStream, opts: TcpOptions) -> Result<StreamChannel, ChannelError> {
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(opts.read_timeout))?;
    s.set_write_timeout(Some(opts.read_timeout))?;
    let w = s.try_clone()?;
    Ok(StreamChannel::threaded(
        Box::new(SocketReader(BufReader::with_capacity(BUF_BYTES, s))),
        Box::new(BufWriter::with_capacity(BUF_BYTES, w)),
        SEND_QUEUE_FRAMES,
        Some(opts.read_timeout),
    ))
}

/// A buffered socket whose read timeout follows the frame deadline.
struct SocketReader(BufReader<TcpStream>);

impl Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl FrameRead for SocketReader {
    fn set_deadline(&mut self, deadline: Instant) -> std::io::Result<()> {
        // A `BufReader` read makes at most one read of the socket, so bounding each socket read
        // by the time left bounds the frame.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.0.get_ref().set_read_timeout(Some(left))
    }
}

#[cfg(test)]
mod tests {
    use unseen_channel::{Channel, Header};

    use super::*;

    const H1: Header = Header::new(0x0001, 1, 1);
    const H2: Header = Header::new(0x0001, 1, 2);

    #[test]
    fn loopback_pipelines_both_directions() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let opts = TcpOptions::default();
        let t = std::thread::spawn(move || {
            let mut s = accept(&listener, opts, Duration::from_secs(30)).unwrap();
            // Both sides queue 16 MiB before reading anything: the writer threads must not deadlock
            // as long as the queue holds the frames in flight.
            for i in 0..16u8 {
                s.send(H1, vec![i; 1 << 20]).unwrap();
            }
            for i in 0..16u8 {
                assert_eq!(s.recv(H2, 1 << 20).unwrap()[0], i);
            }
            s.flush().unwrap();
            s.stats()
        });
        let mut c = connect(addr, opts).unwrap();
        let mut got = Vec::new();
        for i in 0..16u8 {
            c.send(H2, vec![i; 1 << 20]).unwrap();
        }
        while got.len() < 16 {
            got.push(c.recv(H1, 1 << 20).unwrap()[0]);
        }
        c.flush().unwrap();
        let server = t.join().unwrap();
        assert_eq!(got, (0..16).collect::<Vec<u8>>());
        assert_eq!(server.bytes_received, c.stats().bytes_sent);
        assert_eq!(server.bytes_sent, c.stats().bytes_received);
    }

    #[test]
    fn accept_gives_up_when_nobody_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let opts = TcpOptions::default();
        let e = accept(&listener, opts, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, ChannelError::NoPeer { seconds: 0 }));
    }
}
