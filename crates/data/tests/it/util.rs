//! Shared helpers: temporary input files and an independent identity-number generator.

use std::path::PathBuf;

/// A fresh temporary directory holding `name` with `bytes`.
pub(crate) fn file(name: &str, bytes: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// The GB 11643-1999 check character of 17 digits, computed independently of the crate: the
/// ISO 7064 MOD 11-2 weight of position i (1-based) is 2^(18-i) mod 11, and the check value is
/// the c with S + c ≡ 1 (mod 11), written X for 10.
pub(crate) fn check_char(first17: &str) -> char {
    assert_eq!(first17.len(), 17);
    let s: u64 = first17
        .bytes()
        .enumerate()
        .map(|(i, d)| u64::from(d - b'0') * ((1u64 << (17 - i)) % 11))
        .sum();
    let c = (12 - s % 11) % 11;
    if c == 10 {
        'X'
    } else {
        char::from_digit(c as u32, 10).unwrap()
    }
}

/// A valid 18-character number from area code, birth date `YYYYMMDD` and a sequence number.
pub(crate) fn id(area: &str, birth: &str, seq: u32) -> String {
    let first17 = format!("{area}{birth}{seq:03}");
    format!("{first17}{}", check_char(&first17))
}

/// `id` with its check character replaced by a wrong one; returns (number, wrong, expected).
pub(crate) fn id_bad_check(area: &str, birth: &str, seq: u32) -> (String, char, char) {
    let good = id(area, birth, seq);
    let expected = good.chars().last().unwrap();
    let wrong = if expected == '3' { '4' } else { '3' };
    (format!("{}{wrong}", &good[..17]), wrong, expected)
}
