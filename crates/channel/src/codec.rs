//! The one bounded decoder (and its encoder) of message payloads and stored files.
//!
//! A [`Reader`] borrows the bytes of one message (in the manner of rustls's
//! `rustls/src/msgs/codec.rs`) and hands out fields and sub-slices of them; it never allocates.
//! Two rules of STYLE §2 are structural here instead of repeated in every decoder:
//!
//! * **A length or count the other side announces is checked against the maximum this step
//!   allows before anything is allocated for it**: [`Reader::len_u32`] and its siblings read the
//!   number and compare it with the caller's maximum in one step, [`Reader::sub_u32`] also
//!   checks that many bytes are there, and [`Reader::take_items`] checks `count · size` against
//!   what is left (without overflowing) before it returns the slice.
//! * **Trailing bytes are rejected**: [`Reader::read_all`] runs a decoder and then
//!   [`Reader::expect_empty`].
//!
//! Every integer is little-endian, as in every message and file of unseen (the frame header
//! included), so there is one set of integer methods and no `_be`/`_le` suffixes.
//!
//! A [`CodecError`] says what was being read and carries the numbers: the length and how many
//! bytes were needed, how many trailing bytes there were, or the announced length and its
//! maximum. It does not say whose fault it is: a truncated partner message is the partner's, a
//! truncated model file is this node's; each crate maps it into its own error enum, whose
//! `fault()` knows which.
//!
//! `unseen-crypto`'s `he/common.rs` keeps a private reader of its own: `crypto` is a floor crate
//! and must not depend on `unseen-channel` (STYLE §1.4).

/// Why bytes did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes end before the field being read does.
    #[error("{what} is truncated: {len} bytes, at least {expected} needed")]
    Truncated {
        /// What was being read (the message, file or section).
        what: &'static str,
        /// Bytes there are.
        len: usize,
        /// Bytes the field being read needed, counted from the start (saturating).
        expected: usize,
    },
    /// Bytes are left after the end of what was read.
    #[error("{} trailing bytes after {what}", .len - .expected)]
    Trailing {
        /// What was read.
        what: &'static str,
        /// Bytes there are.
        len: usize,
        /// Bytes the content used.
        expected: usize,
    },
    /// A length or count is above what this step allows (nothing was allocated for it).
    #[error("{what}: {len} announced, at most {max} allowed")]
    TooLong {
        /// The length or count being read.
        what: &'static str,
        /// The announced value.
        len: u64,
        /// The maximum.
        max: u64,
    },
}

impl CodecError {
    /// What was being read.
    pub const fn what(&self) -> &'static str {
        match self {
            Self::Truncated { what, .. }
            | Self::Trailing { what, .. }
            | Self::TooLong { what, .. } => what,
        }
    }
}

/// A cursor over the bytes of one message or file: fields are read in order, each checked
/// against what is left. See the [module](self) documentation.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, which hold `what` (named in errors).
    pub const fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self {
            buf: bytes,
            at: 0,
            what,
        }
    }

    /// Decodes all of `bytes` with `f`, then refuses anything `f` left unread
    /// ([`CodecError::Trailing`]).
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, or the trailing bytes.
    pub fn read_all<T, E: From<CodecError>>(
        bytes: &'a [u8],
        what: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut r = Self::new(bytes, what);
        let v = f(&mut r)?;
        r.expect_empty()?;
        Ok(v)
    }

    /// What these bytes hold.
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Bytes read so far.
    pub const fn used(&self) -> usize {
        self.at
    }

    /// Bytes not read yet.
    pub const fn left(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Whether bytes are left.
    pub const fn any_left(&self) -> bool {
        self.at < self.buf.len()
    }

    /// Refuses bytes left unread.
    ///
    /// # Errors
    ///
    /// [`CodecError::Trailing`].
    pub const fn expect_empty(&self) -> Result<(), CodecError> {
        if self.any_left() {
            return Err(CodecError::Trailing {
                what: self.what,
                len: self.buf.len(),
                expected: self.at,
            });
        }
        Ok(())
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] if fewer are left (nothing is consumed then).
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.left() {
            return Err(self.truncated(n));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    /// The next `count · size` bytes: `count` items of `size` bytes each (split them with
    /// `chunks_exact(size)`). The product is checked against what is left without overflowing,
    /// so a count a peer chose cannot wrap around.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn take_items(&mut self, count: usize, size: usize) -> Result<&'a [u8], CodecError> {
        match count.checked_mul(size) {
            Some(n) => self.take(n),
            None => Err(self.truncated(usize::MAX)),
        }
    }

    /// The next `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Everything left (possibly nothing).
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.at..];
        self.at = self.buf.len();
        s
    }

    /// A reader over the next `n` bytes, which hold `what`; this reader moves past them.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] (of this reader).
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Self, CodecError> {
        Ok(Self::new(self.take(n)?, what))
    }

    /// One byte.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian IEEE 754 `f64` (any bit pattern, NaN included: range checks are the
    /// caller's).
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn f64(&mut self) -> Result<f64, CodecError> {
        self.u64().map(f64::from_bits)
    }

    /// A one-byte length or count `what`, at most `max`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`], [`CodecError::TooLong`].
    pub fn len_u8(&mut self, what: &'static str, max: usize) -> Result<usize, CodecError> {
        let n = self.u8()?;
        bounded(what, u64::from(n), max)
    }

    /// A `u16` length or count `what`, at most `max`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`], [`CodecError::TooLong`].
    pub fn len_u16(&mut self, what: &'static str, max: usize) -> Result<usize, CodecError> {
        let n = self.u16()?;
        bounded(what, u64::from(n), max)
    }

    /// A `u32` length or count `what`, at most `max`: checked before the caller allocates
    /// anything for it.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`], [`CodecError::TooLong`].
    pub fn len_u32(&mut self, what: &'static str, max: usize) -> Result<usize, CodecError> {
        let n = self.u32()?;
        bounded(what, u64::from(n), max)
    }

    /// A `u64` length or count `what`, at most `max` (so it also fits a `usize`).
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`], [`CodecError::TooLong`].
    pub fn len_u64(&mut self, what: &'static str, max: usize) -> Result<usize, CodecError> {
        let n = self.u64()?;
        bounded(what, n, max)
    }

    /// A `u16` length `n ≤ max`, then a reader over the `n` bytes that follow, which hold
    /// `what`.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLong`] before anything else is read, [`CodecError::Truncated`].
    pub fn sub_u16(&mut self, what: &'static str, max: usize) -> Result<Self, CodecError> {
        let n = self.len_u16(what, max)?;
        self.sub(n, what)
    }

    /// A `u32` length `n ≤ max`, then a reader over the `n` bytes that follow, which hold
    /// `what`.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLong`] before anything else is read, [`CodecError::Truncated`].
    pub fn sub_u32(&mut self, what: &'static str, max: usize) -> Result<Self, CodecError> {
        let n = self.len_u32(what, max)?;
        self.sub(n, what)
    }

    fn truncated(&self, n: usize) -> CodecError {
        CodecError::Truncated {
            what: self.what,
            len: self.buf.len(),
            expected: self.at.saturating_add(n),
        }
    }
}

fn bounded(what: &'static str, n: u64, max: usize) -> Result<usize, CodecError> {
    match usize::try_from(n) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(CodecError::TooLong {
            what,
            len: n,
            max: max as u64,
        }),
    }
}

/// Builds a message or file: the same little-endian integers as [`Reader`], and length
/// prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub const fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Forgets the bytes written, keeping the allocation (to reuse one buffer for many
    /// chunks).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// Appends one byte.
    pub fn u8(&mut self, x: u8) -> &mut Self {
        self.buf.push(x);
        self
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, x: u16) -> &mut Self {
        self.bytes(&x.to_le_bytes())
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, x: u32) -> &mut Self {
        self.bytes(&x.to_le_bytes())
    }

    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, x: u64) -> &mut Self {
        self.bytes(&x.to_le_bytes())
    }

    /// Appends a little-endian `f64`.
    pub fn f64(&mut self, x: f64) -> &mut Self {
        self.u64(x.to_bits())
    }

    /// Appends a length or count as one byte.
    ///
    /// The caller's invariant bounds `n` (every length written has a maximum the reader
    /// checks); should it not hold, the prefix saturates, and the message no longer decodes on
    /// the other side instead of panicking here.
    pub fn len_u8(&mut self, n: usize) -> &mut Self {
        self.u8(u8::try_from(n).unwrap_or(u8::MAX))
    }

    /// Appends a length or count as a `u16` (saturating: see [`Writer::len_u8`]).
    pub fn len_u16(&mut self, n: usize) -> &mut Self {
        self.u16(u16::try_from(n).unwrap_or(u16::MAX))
    }

    /// Appends a length or count as a `u32` (saturating: see [`Writer::len_u8`]).
    pub fn len_u32(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Appends a length or count as a `u64`.
    pub fn len_u64(&mut self, n: usize) -> &mut Self {
        self.u64(n as u64)
    }

    /// Appends `b` after its length as a `u16` (what [`Reader::sub_u16`] reads).
    pub fn bytes_u16(&mut self, b: &[u8]) -> &mut Self {
        self.len_u16(b.len()).bytes(b)
    }

    /// Appends `b` after its length as a `u32` (what [`Reader::sub_u32`] reads).
    pub fn bytes_u32(&mut self, b: &[u8]) -> &mut Self {
        self.len_u32(b.len()).bytes(b)
    }
}

impl From<Writer> for Vec<u8> {
    fn from(w: Writer) -> Self {
        w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_little_endian() {
        let mut w = Writer::with_capacity(32);
        w.u8(0xab)
            .u16(0x0102)
            .u32(0x0304_0506)
            .u64(0x0708_090a_0b0c_0d0e)
            .f64(-1.5);
        let b = w.into_vec();
        assert_eq!(&b[..7], &[0xab, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03]);
        let mut r = Reader::new(&b, "ints");
        assert_eq!(r.u8(), Ok(0xab));
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u32(), Ok(0x0304_0506));
        assert_eq!(r.u64(), Ok(0x0708_090a_0b0c_0d0e));
        assert_eq!(r.f64(), Ok(-1.5));
        assert_eq!(r.used(), 23);
        assert!(!r.any_left());
        assert_eq!(r.expect_empty(), Ok(()));
    }

    #[test]
    fn each_integer_refuses_truncation_without_consuming() {
        let b = [1u8, 2, 3];
        let mut r = Reader::new(&b, "short");
        let t = |expected| CodecError::Truncated {
            what: "short",
            len: 3,
            expected,
        };
        assert_eq!(r.u32().unwrap_err(), t(4));
        assert_eq!(r.u64().unwrap_err(), t(8));
        assert_eq!(r.f64().unwrap_err(), t(8));
        assert_eq!(r.used(), 0);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(r.u16().unwrap_err(), t(4));
        assert_eq!(r.u8(), Ok(3));
        assert_eq!(r.u8().unwrap_err(), t(4));
        assert_eq!(r.array::<2>().unwrap_err(), t(5));
        assert_eq!(
            Reader::new(&[], "empty").u8(),
            Err(CodecError::Truncated {
                what: "empty",
                len: 0,
                expected: 1
            })
        );
    }

    #[test]
    fn take_array_rest_and_sub() {
        let b = [1u8, 2, 3, 4, 5, 6, 7];
        let mut r = Reader::new(&b, "msg");
        assert_eq!(r.take(0), Ok(&[][..]));
        assert_eq!(r.take(2), Ok(&[1u8, 2][..]));
        assert_eq!(r.array::<1>(), Ok([3]));
        let mut s = r.sub(3, "inner").unwrap();
        assert_eq!(r.left(), 1);
        assert_eq!(s.what(), "inner");
        assert_eq!(
            s.take(4),
            Err(CodecError::Truncated {
                what: "inner",
                len: 3,
                expected: 4
            })
        );
        assert_eq!(s.rest(), &[4u8, 5, 6][..]);
        assert_eq!(s.rest(), &[][..]);
        assert_eq!(s.expect_empty(), Ok(()));
        assert_eq!(
            r.sub(2, "x").unwrap_err(),
            CodecError::Truncated {
                what: "msg",
                len: 7,
                expected: 8
            }
        );
        assert_eq!(
            r.take(8).unwrap_err(),
            CodecError::Truncated {
                what: "msg",
                len: 7,
                expected: 14
            }
        );
        assert_eq!(r.rest(), &[7u8][..]);
    }

    #[test]
    fn take_items_checks_the_product_without_overflow() {
        let b = [0u8; 12];
        let mut r = Reader::new(&b, "points");
        assert_eq!(r.take_items(2, 4).map(<[u8]>::len), Ok(8));
        assert_eq!(
            r.take_items(2, 4),
            Err(CodecError::Truncated {
                what: "points",
                len: 12,
                expected: 16
            })
        );
        // usize::MAX items of 32 bytes: the product overflows; refused, saturated, no panic.
        assert_eq!(
            r.take_items(usize::MAX, 32),
            Err(CodecError::Truncated {
                what: "points",
                len: 12,
                expected: usize::MAX
            })
        );
        assert_eq!(r.take_items(usize::MAX, 0), Ok(&[][..]));
        assert_eq!(r.left(), 4);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let b = [0u8; 5];
        let mut r = Reader::new(&b, "hello");
        r.u16().unwrap();
        let e = r.expect_empty().unwrap_err();
        assert_eq!(
            e,
            CodecError::Trailing {
                what: "hello",
                len: 5,
                expected: 2
            }
        );
        assert_eq!(e.to_string(), "3 trailing bytes after hello");
        let all = Reader::read_all(&b, "hello", |r| r.u32());
        assert_eq!(
            all,
            Err(CodecError::Trailing {
                what: "hello",
                len: 5,
                expected: 4
            })
        );
        assert_eq!(Reader::read_all(&b[..4], "hello", |r| r.u32()), Ok(0));
        // The decoder's own error comes first.
        assert_eq!(
            Reader::read_all(&b[..1], "hello", |r| r.u32()),
            Err(CodecError::Truncated {
                what: "hello",
                len: 1,
                expected: 4
            })
        );
    }

    #[test]
    fn lengths_are_checked_against_the_maximum_before_anything_else() {
        // u32::MAX announced, and only 4 bytes there: the maximum is what refuses it, from the
        // prefix alone (a caller allocating `n` would never see it).
        let b = u32::MAX.to_le_bytes();
        let e = Reader::new(&b, "hello")
            .len_u32("points", 1 << 20)
            .unwrap_err();
        assert_eq!(
            e,
            CodecError::TooLong {
                what: "points",
                len: u64::from(u32::MAX),
                max: 1 << 20
            }
        );
        assert_eq!(
            e.to_string(),
            "points: 4294967295 announced, at most 1048576 allowed"
        );
        assert_eq!(e.what(), "points");
        let b = u64::MAX.to_le_bytes();
        assert_eq!(
            Reader::new(&b, "index").len_u64("keys", usize::MAX),
            if usize::BITS == 64 {
                Ok(usize::MAX)
            } else {
                Err(CodecError::TooLong {
                    what: "keys",
                    len: u64::MAX,
                    max: usize::MAX as u64,
                })
            }
        );
        assert_eq!(
            Reader::new(&b, "index").len_u64("keys", 1 << 28),
            Err(CodecError::TooLong {
                what: "keys",
                len: u64::MAX,
                max: 1 << 28
            })
        );
        let mut r = Reader::new(&[200, 0x01, 0x01, 7, 0, 9], "m");
        assert_eq!(
            r.len_u8("label", 32),
            Err(CodecError::TooLong {
                what: "label",
                len: 200,
                max: 32
            })
        );
        assert_eq!(
            r.len_u16("bins", 256),
            Err(CodecError::TooLong {
                what: "bins",
                len: 257,
                max: 256
            })
        );
        assert_eq!(r.len_u16("bins", 7), Ok(7));
        assert_eq!(r.len_u8("x", 9), Ok(9));
        assert_eq!(r.len_u8("x", 9).unwrap_err().what(), "m");
    }

    #[test]
    fn sub_readers_check_the_prefix_then_the_bytes() {
        let mut w = Writer::new();
        w.bytes_u16(b"key").bytes_u32(b"metadata").u8(1);
        let b = w.into_vec();
        let mut r = Reader::new(&b, "setup");
        let mut k = r.sub_u16("public key", 3).unwrap();
        assert_eq!(k.rest(), b"key");
        let m = r.sub_u32("metadata", 8).unwrap();
        assert_eq!((m.what(), m.left()), ("metadata", 8));
        assert_eq!(r.u8(), Ok(1));
        // Above the maximum: refused before the bytes are looked at.
        let mut r = Reader::new(&b, "setup");
        assert_eq!(
            r.sub_u16("public key", 2).unwrap_err(),
            CodecError::TooLong {
                what: "public key",
                len: 3,
                max: 2
            }
        );
        // Within the maximum but beyond the message.
        let mut big = Writer::new();
        big.u32(u32::MAX);
        let b = big.into_vec();
        assert_eq!(
            Reader::new(&b, "setup")
                .sub_u32("metadata", usize::MAX)
                .unwrap_err(),
            CodecError::Truncated {
                what: "setup",
                len: 4,
                expected: 4 + u32::MAX as usize
            }
        );
        assert_eq!(
            Reader::new(&b, "setup")
                .sub_u32("metadata", 1 << 16)
                .unwrap_err(),
            CodecError::TooLong {
                what: "metadata",
                len: u64::from(u32::MAX),
                max: 1 << 16
            }
        );
    }

    #[test]
    fn writer_lengths_saturate_and_report_size() {
        let mut w = Writer::default();
        assert!(w.is_empty());
        w.u8(1).clear();
        w.len_u8(300).len_u16(70_000).len_u32(7).len_u64(9);
        assert_eq!(w.len(), 1 + 2 + 4 + 8);
        assert_eq!(&w.as_slice()[..3], &[0xff, 0xff, 0xff]);
        let v: Vec<u8> = w.into();
        let mut r = Reader::new(&v, "w");
        r.take(3).unwrap();
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.u64(), Ok(9));
    }
}
