//! Validation of values before they are written.

use crate::error::{StoreError, bounded};

/// Longest partner, dataset, job id or job kind name, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// Longest single-line text field (address, fingerprint, column names, audit actor …), in bytes.
pub(crate) const MAX_LINE: usize = 1024;
/// Longest path, in bytes.
pub(crate) const MAX_PATH: usize = 4096;
/// Longest certificate PEM, in bytes.
pub(crate) const MAX_PEM: usize = 65_536;
/// Longest job failure reason, in bytes; longer reasons are cut, not refused, so that a failure
/// is always recorded.
pub(crate) const MAX_REASON: usize = 4096;
/// Longest JSON document (job parameters and results, audit parameters), in bytes.
pub(crate) const MAX_JSON: usize = 1_048_576;
/// Most columns a dataset may list.
pub(crate) const MAX_COLUMNS: usize = 4096;

/// Checks a partner, dataset, job id or job kind name: 1 to 64 characters of `[A-Za-z0-9_.-]`,
/// starting with a letter or digit.
///
/// `kind` names what is being checked (`partner`, `dataset`, …) and appears in the error.
///
/// ```
/// assert!(unseen_store::validate_name("partner", "bank-b.sh_01").is_ok());
/// assert!(unseen_store::validate_name("partner", ".hidden").is_err());
/// ```
pub fn validate_name(kind: &str, name: &str) -> Result<(), StoreError> {
    let fail = |reason: String| StoreError::InvalidName {
        kind: kind.to_owned(),
        name: bounded(name),
        reason,
    };
    let len = name.chars().count();
    if len == 0 {
        return Err(fail("must not be empty".into()));
    }
    if len > MAX_NAME_LEN {
        return Err(fail(format!(
            "must be at most {MAX_NAME_LEN} characters, found {len}"
        )));
    }
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(fail(format!(
            "only letters, digits, '_', '.' and '-' are allowed, found {c:?} at position {}",
            i + 1
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(fail("must start with a letter or digit".into()));
    }
    Ok(())
}

/// Checks a required single-line text field: non-empty, at most `max` bytes, no control
/// characters (they would let a stored value forge lines in logs and listings).
pub(crate) fn line(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty".into()));
    }
    optional_line(field, value, max)
}

/// As [`line`], but the empty string is allowed.
pub(crate) fn optional_line(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), StoreError> {
    too_long(field, value, max)?;
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(invalid(
            field,
            format!("must not contain control characters, found {c:?}"),
        ));
    }
    Ok(())
}

/// Checks a required multi-line text field: non-empty, at most `max` bytes, no NUL.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty".into()));
    }
    too_long(field, value, max)?;
    if value.contains('\0') {
        return Err(invalid(field, "must not contain NUL".into()));
    }
    Ok(())
}

/// Serialises a JSON value for storage, refusing documents above [`MAX_JSON`].
pub(crate) fn json(field: &'static str, value: &serde_json::Value) -> Result<String, StoreError> {
    let text = crate::canonical_json(value);
    too_long(field, &text, MAX_JSON)?;
    Ok(text)
}

/// Converts a count to SQLite's signed integer.
pub(crate) fn count(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| invalid(field, format!("{value} is above 2^63 - 1")))
}

/// Cuts `reason` to at most [`MAX_REASON`] bytes at a character boundary.
pub(crate) fn reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON {
        return reason.to_owned();
    }
    let mut end = MAX_REASON - '…'.len_utf8();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.len() > max {
        return Err(invalid(
            field,
            format!("must be at most {max} bytes, found {}", value.len()),
        ));
    }
    Ok(())
}

fn invalid(field: &'static str, reason: String) -> StoreError {
    StoreError::Invalid { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_REASON);
        let cut = reason(&long);
        assert!(cut.len() <= MAX_REASON);
        assert!(cut.ends_with('…'));
        assert_eq!(reason("short"), "short");
    }
}
