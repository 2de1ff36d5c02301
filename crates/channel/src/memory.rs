//! In-memory duplex: two [`StreamChannel`]s joined by pipes, for tests and single-process demos.

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, Sender};

use crate::{FrameRead, StreamChannel};

/// Two connected channels. Bytes written by one are read by the other through the same frame codec
/// as TCP, so tests exercise the real decoder.
pub fn duplex() -> (StreamChannel, StreamChannel) {
    let (a_tx, b_rx) = std::sync::mpsc::channel();
    let (b_tx, a_rx) = std::sync::mpsc::channel();
    let a = StreamChannel::direct(Box::new(PipeReader::new(a_rx)), Box::new(PipeWriter(a_tx)));
    let b = StreamChannel::direct(Box::new(PipeReader::new(b_rx)), Box::new(PipeWriter(b_tx)));
    (a, b)
}

struct PipeWriter(Sender<Vec<u8>>);

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A peer that has gone away is noticed when reading, as with a socket whose buffer
        // accepts bytes nobody will read: the reader then sees the peer's last (possibly
        // truncated) frame and the end of the stream, which is the error worth reporting.
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl PipeReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl FrameRead for PipeReader {
    fn set_deadline(&mut self, _: std::time::Instant) -> std::io::Result<()> {
        // In-memory channels have no frame timeout (`StreamChannel::direct`).
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.buf = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
