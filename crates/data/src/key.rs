//! Join-key normalisation: resident identity card numbers, mainland mobile numbers, plain strings.
//!
//! Both parties of a PSI must turn the same person into the same byte string, whatever the export
//! looked like (`11010519491231002x` vs `11010519491231002X`, `+86 138-1234-5678` vs
//! `13812345678`). Each [`KeyType`] therefore has exactly one canonical form, produced by
//! [`normalize_key`], and anything that cannot be brought to that form is a [`KeyError`] rather
//! than a silently different key.
//!
//! # Resident identity card numbers (`id-card`)
//!
//! Standard: GB 11643-1999 *Citizen identification number* (18 characters), and its predecessor
//! GB 11643-1989 (15 digits).
//!
//! 1. Trim surrounding whitespace; a lowercase `x` check character becomes `X`.
//! 2. **18 characters**: positions 1–6 area code, 7–14 birth date `YYYYMMDD`, 15–17 sequence
//!    code, 18 check character. Positions 1–17 must be ASCII digits, position 18 a digit or `X`.
//! 3. **Birth date** (positions 7–14): year in `1900..=2100`, month `01`–`12`, day valid for that
//!    month in the proleptic Gregorian calendar (29 February only in leap years). The year range
//!    is a plausibility bound, not a comparison with today's date, so normalisation is
//!    deterministic and both parties agree regardless of their clocks.
//! 4. **Check character** (GB 11643-1999 §5.5, ISO 7064 MOD 11-2): with `a_1..a_17` the first 17
//!    digits and weights `W = 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2`, let
//!    `S = Σ a_i·W_i mod 11`; the check character is `1,0,X,9,8,7,6,5,4,3,2` for `S = 0..10`
//!    (computed by [`crate::synth::id_card_check_char`], the one implementation).
//! 5. **15-digit legacy numbers** (GB 11643-1989: 6-digit area code, `YYMMDD`, 3-digit sequence
//!    code, no check character) are converted to 18 characters by inserting `19` before the
//!    two-digit year and appending the check character computed as in step 4. This is the
//!    conversion the issuing authority applied when the 18-digit number replaced the 15-digit one.
//!    Only births in the 1900s received 15-digit numbers in practice (they were replaced from
//!    1999), so the `19` century is assumed; the date is then validated as in step 3.
//!
//! The area code is **not** checked against the list of administrative divisions: codes are
//! retired and reassigned over time, and a stale list would reject genuine people.
//!
//! # Mainland mobile numbers (`phone`)
//!
//! 1. Remove whitespace, `-`, `(` and `)`.
//! 2. Remove a country prefix `+86`, `0086` or `86`, but only when exactly 11 digits follow it
//!    (`+86` is always removed; any other `+` prefix is an error).
//! 3. The result must be 11 ASCII digits, the first `1` and the second `3`–`9`.
//!
//! # Strings (`string`)
//!
//! Surrounding whitespace is trimmed; the rest is kept byte for byte. An empty key is an error.
//!
//! # Masking
//!
//! Error messages end up in logs, so [`mask_key`] hides the middle of a value before it is shown
//! (`110101********123X`, `138****5678`). [`KeyError`] itself never contains the value; it only
//! names the component that is wrong (a birth month of `13`, a check digit of `3`).

use std::fmt;
use std::str::FromStr;

use crate::ParseNameError;
use crate::synth::check_byte;

/// How the join key column is interpreted and normalised; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Resident identity card number (GB 11643-1999, 18 characters; 15-digit legacy accepted).
    IdCard,
    /// Mainland China mobile phone number (11 digits, optional `+86`/`0086`/`86` prefix).
    Phone,
    /// Any non-empty string, trimmed.
    String,
}

impl KeyType {
    /// All key types, in the order shown in help texts.
    pub const ALL: [KeyType; 3] = [KeyType::IdCard, KeyType::Phone, KeyType::String];

    /// The name used on the command line: `id-card`, `phone` or `string`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::IdCard => "id-card",
            KeyType::Phone => "phone",
            KeyType::String => "string",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|kt| kt.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseNameError::new("key type", s, &["id-card", "phone", "string"]))
    }
}

/// Why a raw key could not be normalised. Never contains the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty after trimming.
    #[error("key is empty")]
    Empty,
    /// An identity card number of the wrong length (in characters, after trimming).
    #[error(
        "invalid id-card number: expected 18 digits (or 15 for a legacy number), found {found}"
    )]
    IdCardLength {
        /// Number of characters found.
        found: usize,
    },
    /// A character other than a digit where a digit is required (or a digit/`X` at position 18).
    #[error(
        "invalid id-card number: character {position} is {found:?}, expected a digit{}",
        if *position == 18 { " or X" } else { "" }
    )]
    IdCardCharacter {
        /// 1-based position in the number.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Birth year outside the plausibility range `1900..=2100`.
    #[error("invalid id-card number: birth year {year} is outside 1900..=2100")]
    IdCardBirthYear {
        /// The year found.
        year: u32,
    },
    /// Birth month outside `01..=12`.
    #[error("invalid id-card number: birth month is {month:02}, expected 01-12")]
    IdCardBirthMonth {
        /// The month found.
        month: u32,
    },
    /// Birth day that does not exist in its month.
    #[error("invalid id-card number: birth day {day:02} does not exist in {year}-{month:02}")]
    IdCardBirthDay {
        /// The year found.
        year: u32,
        /// The month found.
        month: u32,
        /// The day found.
        day: u32,
    },
    /// The ISO 7064 MOD 11-2 check character does not match the first 17 digits.
    #[error("invalid id-card number: check digit is {found}, expected {expected}")]
    IdCardCheckDigit {
        /// The check character in the number.
        found: char,
        /// The check character computed from the first 17 digits.
        expected: char,
    },
    /// A character that is neither a digit nor one of the removed separators.
    #[error("invalid phone number: unexpected character {found:?}")]
    PhoneCharacter {
        /// The offending character.
        found: char,
    },
    /// An international prefix other than `+86`.
    #[error("invalid phone number: country code must be +86")]
    PhoneCountryCode,
    /// Not 11 digits after removing separators and the country prefix.
    #[error("invalid phone number: expected 11 digits, found {found}")]
    PhoneLength {
        /// Number of digits found.
        found: usize,
    },
    /// 11 digits that do not start with `13`–`19`.
    #[error("invalid phone number: a mobile number starts with 13-19, found {found}")]
    PhonePrefix {
        /// The first two digits.
        found: String,
    },
}

/// Normalises `raw` to the canonical form of `kt`; see the [module docs](self) for the rules.
///
/// ```
/// use unseen_data::{normalize_key, KeyType};
/// assert_eq!(normalize_key(KeyType::IdCard, " 11010519491231002x ")?, "11010519491231002X");
/// assert_eq!(normalize_key(KeyType::Phone, "+86 138-1234-5678")?, "13812345678");
/// # Ok::<(), unseen_data::KeyError>(())
/// ```
pub fn normalize_key(kt: KeyType, raw: &str) -> Result<String, KeyError> {
    match kt {
        KeyType::IdCard => normalize_id_card(raw),
        KeyType::Phone => normalize_phone(raw),
        KeyType::String => match raw.trim() {
            "" => Err(KeyError::Empty),
            s => Ok(s.to_owned()),
        },
    }
}

/// Most characters [`mask_key`] shows (kept, masked or escaped characters together, before its
/// length marker).
pub const MAX_MASKED_CHARS: usize = 32;

/// Masks the middle of a value for error messages and logs.
///
/// At least 15 characters: the first 6 and last 4 are kept (`110101********123X`); 11 to 14: the
/// first 3 and last 4 (`138****5678`); shorter values are masked entirely. Control characters
/// among the kept ones are escaped so the result stays on one line. A value of more than
/// [`MAX_MASKED_CHARS`] characters (no valid key is that long) shows its first 6, masks the
/// next ones up to that many, and ends with `…(N bytes)`: a 50 MB field gives a 40-byte text.
pub fn mask_key(raw: &str) -> String {
    let raw = raw.trim();
    // Counting stops past the cap, so a huge value costs no more than a short one.
    let n = raw.chars().take(MAX_MASKED_CHARS + 1).count();
    if n > MAX_MASKED_CHARS {
        let mut out = String::with_capacity(64);
        for (i, c) in raw.chars().take(MAX_MASKED_CHARS).enumerate() {
            if i < 6 {
                out.extend(c.escape_debug());
            } else {
                out.push('*');
            }
        }
        out.push_str(&format!("…({} bytes)", raw.len()));
        return out;
    }
    let (head, tail) = match n {
        15.. => (6, 4),
        11..=14 => (3, 4),
        _ => (0, 0),
    };
    let mut out = String::with_capacity(n + 8);
    for (i, c) in raw.chars().enumerate() {
        if i < head || i >= n - tail {
            out.extend(c.escape_debug());
        } else {
            out.push('*');
        }
    }
    out
}

fn normalize_id_card(raw: &str) -> Result<String, KeyError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(KeyError::Empty);
    }
    if !s.is_ascii() {
        // Report a stray multi-byte character (a full-width digit, say) as a character at its
        // position, not as a wrong byte length.
        return Err(match s.chars().count() {
            n @ (15 | 18) => s
                .chars()
                .enumerate()
                .find(|&(i, c)| {
                    !(c.is_ascii_digit() || (n == 18 && i == 17 && matches!(c, 'X' | 'x')))
                })
                .map_or(KeyError::IdCardLength { found: n }, |(i, found)| {
                    KeyError::IdCardCharacter {
                        position: i + 1,
                        found,
                    }
                }),
            found => KeyError::IdCardLength { found },
        });
    }
    let b = s.as_bytes();
    let not_digit = |i: usize| KeyError::IdCardCharacter {
        position: i + 1,
        found: char::from(b[i]),
    };
    let mut id = [0u8; 18];
    match b.len() {
        18 => {
            if let Some(i) = b[..17].iter().position(|d| !d.is_ascii_digit()) {
                return Err(not_digit(i));
            }
            id.copy_from_slice(b);
            id[17] = match b[17] {
                d @ b'0'..=b'9' => d,
                b'X' | b'x' => b'X',
                _ => return Err(not_digit(17)),
            };
            check_birth_date(&id[6..14])?;
            let expected = char::from(check_byte(&id[..17]));
            let found = char::from(id[17]);
            if found != expected {
                return Err(KeyError::IdCardCheckDigit { found, expected });
            }
        }
        15 => {
            if let Some(i) = b.iter().position(|d| !d.is_ascii_digit()) {
                return Err(not_digit(i));
            }
            // Area code, then "19" before the two-digit year, then YYMMDD and the sequence code.
            id[..6].copy_from_slice(&b[..6]);
            id[6..8].copy_from_slice(b"19");
            id[8..17].copy_from_slice(&b[6..]);
            check_birth_date(&id[6..14])?;
            id[17] = check_byte(&id[..17]);
        }
        found => return Err(KeyError::IdCardLength { found }),
    }
    Ok(id.iter().map(|&d| char::from(d)).collect())
}

/// Validates `YYYYMMDD` (ASCII digits, already checked).
fn check_birth_date(date: &[u8]) -> Result<(), KeyError> {
    let num = |b: &[u8]| {
        b.iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(&date[..4]), num(&date[4..6]), num(&date[6..8]));
    if !(1900..=2100).contains(&year) {
        return Err(KeyError::IdCardBirthYear { year });
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(KeyError::IdCardBirthMonth { month }),
    };
    if !(1..=days).contains(&day) {
        return Err(KeyError::IdCardBirthDay { year, month, day });
    }
    Ok(())
}

fn normalize_phone(raw: &str) -> Result<String, KeyError> {
    let s: String = raw
        .chars()
        .filter(|&c| !(c.is_whitespace() || matches!(c, '-' | '(' | ')')))
        .collect();
    if s.is_empty() {
        return Err(KeyError::Empty);
    }
    let digits = if let Some(rest) = s.strip_prefix('+') {
        rest.strip_prefix("86").ok_or(KeyError::PhoneCountryCode)?
    } else {
        match s.len() {
            15 => s.strip_prefix("0086").unwrap_or(&s),
            13 => s.strip_prefix("86").unwrap_or(&s),
            _ => &s,
        }
    };
    if let Some(found) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(KeyError::PhoneCharacter { found });
    }
    let b = digits.as_bytes();
    if b.len() != 11 {
        return Err(KeyError::PhoneLength { found: b.len() });
    }
    if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
        return Err(KeyError::PhonePrefix {
            found: digits[..2].to_owned(),
        });
    }
    Ok(digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_days() {
        assert!(check_birth_date(b"20000229").is_ok());
        assert!(check_birth_date(b"19960229").is_ok());
        assert_eq!(
            check_birth_date(b"19000229"),
            Err(KeyError::IdCardBirthDay {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            check_birth_date(b"19990000"),
            Err(KeyError::IdCardBirthMonth { month: 0 })
        );
        assert_eq!(
            check_birth_date(b"19990431"),
            Err(KeyError::IdCardBirthDay {
                year: 1999,
                month: 4,
                day: 31
            })
        );
        assert_eq!(
            check_birth_date(b"18991231"),
            Err(KeyError::IdCardBirthYear { year: 1899 })
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_key("11010519491231002X"), "110105********002X");
        assert_eq!(mask_key("13812345678"), "138****5678");
        assert_eq!(mask_key("1234"), "****");
        assert_eq!(mask_key(""), "");
        assert_eq!(mask_key("ab\ncdefghijk"), "ab\\n*****hijk");
        // Long values: the head, masked up to 32 characters, then the length.
        let long = "1".repeat(50_000_000);
        let m = mask_key(&long);
        assert_eq!(m, format!("111111{}…(50000000 bytes)", "*".repeat(26)));
        let at_cap = "a".repeat(MAX_MASKED_CHARS);
        assert_eq!(mask_key(&at_cap).len(), MAX_MASKED_CHARS);
    }
}
