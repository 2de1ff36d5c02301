//! Shared helpers: temporary input files and identity numbers built from their fields.

use std::path::PathBuf;

/// A fresh temporary directory holding `name` with `bytes`.
pub(crate) fn file(name: &str, bytes: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// A valid 18-character number from area code, birth date `YYYYMMDD` and a sequence number.
pub(crate) fn id(area: &str, birth: &str, seq: u32) -> String {
    unseen_data::synth::id_card(&format!("{area}{birth}{seq:03}")).unwrap()
}

/// `id` with its check character replaced by a wrong one; returns (number, wrong, expected).
pub(crate) fn id_bad_check(area: &str, birth: &str, seq: u32) -> (String, char, char) {
    let good = id(area, birth, seq);
    let expected = good.chars().last().unwrap();
    let wrong = if expected == '3' { '4' } else { '3' };
    (format!("{}{wrong}", &good[..17]), wrong, expected)
}
