//! Character encodings of input files: UTF-8 and GB18030 (read for GBK, its subset).
//!
//! Chinese bank exports come in UTF-8 (with or without a BOM) or in GBK. Everything inside the
//! crate is UTF-8; decoding happens once, on the whole file, before CSV parsing.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use encoding_rs::DecoderResult;

use crate::{DataError, ParseNameError};

/// The UTF-8 encoding of U+FEFF, which some exporters put first (even before GBK bytes).
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// The GB18030 encoding of U+FEFF.
const GB18030_BOM: &[u8] = b"\x84\x31\x95\x33";

/// The character encoding to read an input file with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Strip a UTF-8 BOM if present; UTF-8 if the bytes are valid UTF-8, else GB18030.
    #[default]
    Auto,
    /// UTF-8 (a leading BOM is stripped).
    Utf8,
    /// GB18030, which is a superset of GBK and GB2312 (a leading UTF-8 or GB18030 BOM is
    /// stripped).
    Gb18030,
}

impl Encoding {
    /// The canonical name: `auto`, `utf-8` or `gb18030`.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = ParseNameError;

    /// Accepts `auto`, `utf-8`, `utf8`, `gbk`, `gb2312` and `gb18030` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb2312" | "gb18030" => Ok(Encoding::Gb18030),
            _ => Err(ParseNameError::new(
                "encoding",
                s,
                &["auto", "utf-8", "gbk", "gb18030"],
            )),
        }
    }
}

/// A whole file decoded to UTF-8.
pub(crate) struct Decoded {
    /// The text; starts after any BOM at `start`.
    pub(crate) text: String,
    /// Byte offset of the first character after the BOM.
    pub(crate) start: usize,
    /// `"utf-8"` or `"gb18030"`.
    pub(crate) encoding: &'static str,
    /// Whether a byte order mark was found and stripped.
    pub(crate) bom: bool,
}

/// Decodes the bytes of `path` according to `enc`, taking ownership to avoid a copy for UTF-8.
pub(crate) fn decode(path: &Path, bytes: Vec<u8>, enc: Encoding) -> Result<Decoded, DataError> {
    let utf8_bom = bytes.starts_with(UTF8_BOM);
    match enc {
        Encoding::Utf8 | Encoding::Auto => match String::from_utf8(bytes) {
            Ok(text) => Ok(Decoded {
                text,
                start: if utf8_bom { UTF8_BOM.len() } else { 0 },
                encoding: "utf-8",
                bom: utf8_bom,
            }),
            Err(e) if enc == Encoding::Utf8 => {
                let at = e.utf8_error().valid_up_to();
                Err(DataError::Encoding {
                    path: path.to_owned(),
                    line: line_of(e.as_bytes(), at),
                    encoding: "utf-8",
                })
            }
            Err(e) => {
                let bytes = e.into_bytes();
                let skip = if utf8_bom { UTF8_BOM.len() } else { 0 };
                decode_gb18030(path, &bytes, skip, "utf-8 or gb18030")
            }
        },
        Encoding::Gb18030 => {
            let skip = if utf8_bom {
                UTF8_BOM.len()
            } else if bytes.starts_with(GB18030_BOM) {
                GB18030_BOM.len()
            } else {
                0
            };
            decode_gb18030(path, &bytes, skip, "gb18030")
        }
    }
}

/// Decodes `bytes[skip..]` as GB18030; a malformed sequence is an error naming its line.
fn decode_gb18030(
    path: &Path,
    bytes: &[u8],
    skip: usize,
    expected: &'static str,
) -> Result<Decoded, DataError> {
    let src = &bytes[skip..];
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    // GB18030 never expands by more than 3/2 (two bytes -> three); the decoder's own bound is
    // used and, should it be exceeded anyway, the loop below grows the buffer.
    let cap = decoder
        .max_utf8_buffer_length_without_replacement(src.len())
        .unwrap_or(src.len());
    let mut text = String::with_capacity(cap);
    let mut read = 0;
    loop {
        let (result, n) =
            decoder.decode_to_string_without_replacement(&src[read..], &mut text, true);
        read += n;
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => text.reserve((src.len() - read).max(16) * 2),
            DecoderResult::Malformed(bad, extra) => {
                let at = read.saturating_sub(usize::from(bad) + usize::from(extra));
                return Err(DataError::Encoding {
                    path: path.to_owned(),
                    line: line_of(src, at),
                    encoding: expected,
                });
            }
        }
    }
    Ok(Decoded {
        text,
        start: 0,
        encoding: "gb18030",
        bom: skip > 0,
    })
}

/// The 1-based line of byte offset `at`.
pub(crate) fn line_of(bytes: &[u8], at: usize) -> u64 {
    let newlines = bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u64::try_from(newlines).map_or(u64::MAX, |n| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [Encoding::Auto, Encoding::Utf8, Encoding::Gb18030] {
            assert_eq!(e.name().parse::<Encoding>().ok(), Some(e));
        }
        assert_eq!("GBK".parse::<Encoding>().ok(), Some(Encoding::Gb18030));
        assert!("latin1".parse::<Encoding>().is_err());
    }

    #[test]
    fn line_of_counts_newlines_before() {
        assert_eq!(line_of(b"a\nb\nc", 0), 1);
        assert_eq!(line_of(b"a\nb\nc", 2), 2);
        assert_eq!(line_of(b"a\nb\nc", 4), 3);
    }
}
