//! The key type both parties normalised their items with, as it travels in the hello.

use crate::PsiError;

/// Longest [`KeyLabel`] in bytes.
pub const MAX_KEY_LABEL: usize = 32;

/// The name of the key normalisation both parties applied to their items before the protocol
/// (e.g. `id-card`, `phone`, `string`): 1..=[`MAX_KEY_LABEL`] bytes of `a-z`, `0-9`, `-`, `_`,
/// `.` and `:`.
///
/// It travels in the hello and is part of the hash-to-group domain ([`crate::hash_dst`]): two
/// parties that read their keys differently (an ID number with a lowercase `x` check digit is
/// upper-cased as `id-card`, kept as `string`) fail at the hello instead of silently matching a
/// subset. The protocol does not interpret it beyond comparing it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyLabel {
    len: u8,
    bytes: [u8; MAX_KEY_LABEL],
}

impl KeyLabel {
    /// A label from its name.
    ///
    /// # Errors
    ///
    /// [`PsiError::Local`] if `name` is empty, longer than [`MAX_KEY_LABEL`] bytes or holds a
    /// character outside `a-z 0-9 - _ . :`.
    pub fn new(name: &str) -> Result<Self, PsiError> {
        Self::from_bytes(name.as_bytes()).ok_or_else(|| {
            PsiError::Local(format!(
                "key type label of {} bytes is not 1..={MAX_KEY_LABEL} bytes of a-z 0-9 - _ . :",
                name.len()
            ))
        })
    }

    /// Parses a label's bytes (our own or the peer's); `None` if not well-formed.
    pub(crate) fn from_bytes(b: &[u8]) -> Option<Self> {
        let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.:".contains(c);
        if b.is_empty() || b.len() > MAX_KEY_LABEL || !b.iter().all(ok) {
            return None;
        }
        let mut bytes = [0u8; MAX_KEY_LABEL];
        bytes[..b.len()].copy_from_slice(b);
        // b.len() <= MAX_KEY_LABEL = 32, checked above.
        let len = u8::try_from(b.len()).ok()?;
        Some(Self { len, bytes })
    }

    /// The label's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (from_bytes), so this never falls back.
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }
}

impl core::fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for KeyLabel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyLabel({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_are_bounded_and_plain() {
        assert_eq!(KeyLabel::new("id-card").unwrap().as_str(), "id-card");
        assert_eq!(KeyLabel::new(&"a".repeat(32)).unwrap().as_bytes().len(), 32);
        for bad in ["", "ID-CARD", "id card", "é", &"a".repeat(33)] {
            assert!(
                matches!(KeyLabel::new(bad), Err(PsiError::Local(_))),
                "{bad}"
            );
        }
    }
}
