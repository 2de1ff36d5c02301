//! The two parts of a trained model, each kept by its own party, and their file format.
//!
//! A part is saved by its party as the bytes of [`LrGuestModel::to_bytes`] /
//! [`LrHostModel::to_bytes`] (the caller writes the file; protocol code does no I/O):
//!
//! ```text
//! magic "ULRM" | format version u8 (1) | role u8 (1 guest, 2 host) | model id [16]
//! | features u32 LE | has intercept u8 | intercept f64 LE
//! | per feature: mean f64 LE, std f64 LE, weight f64 LE
//! ```
//!
//! Both parts carry the same random [`ModelId`], chosen by the guest when training starts;
//! prediction compares the ids in its handshake ([`super::LrError::ModelMismatch`]).

use super::LrError;
use super::fixed::Standardizer;

/// Magic bytes of a model file.
pub const MAGIC: [u8; 4] = *b"ULRM";
/// Version of the model file format.
pub const FORMAT_VERSION: u8 = 1;
const ROLE_GUEST: u8 = 1;
const ROLE_HOST: u8 = 2;
const FIXED_LEN: usize = 4 + 1 + 1 + 16 + 4 + 1 + 8;

/// The random id shared by the two parts of one model: 16 bytes, written as 32 lowercase hex
/// digits ([`Display`](core::fmt::Display), parsed back by [`FromStr`](core::str::FromStr)), the
/// form the node uses in JSON, file names and on the command line.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId(pub [u8; 16]);

impl core::fmt::Display for ModelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for ModelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ModelId({self})")
    }
}

impl core::str::FromStr for ModelId {
    type Err = ParseModelIdError;

    /// Exactly 32 lowercase hex digits (`0-9a-f`): the one spelling [`ModelId`]'s `Display`
    /// writes, so that an id has one form in file names and JSON.
    fn from_str(s: &str) -> Result<Self, ParseModelIdError> {
        let err = || ParseModelIdError(s.to_owned());
        let digits = s.as_bytes();
        if digits.len() != 32 {
            return Err(err());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut id = [0u8; 16];
        for (b, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(err());
            };
            *b = hi << 4 | lo;
        }
        Ok(ModelId(id))
    }
}

/// A string that is not 32 lowercase hex digits, refused by [`ModelId`]'s `FromStr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseModelIdError(String);

impl core::fmt::Display for ParseModelIdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:?} is not a model id (32 lowercase hex digits)",
            self.0
        )
    }
}

impl std::error::Error for ParseModelIdError {}

/// As its 32 hex digits (the `Display` form).
#[cfg(feature = "serde")]
impl serde::Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From its 32 lowercase hex digits (the `FromStr` form).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ModelId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The guest's part: its standardization, weights and intercept.
#[derive(Clone, PartialEq)]
pub struct LrGuestModel {
    /// Shared id of the model.
    pub model_id: ModelId,
    /// Column means and stds of the guest's training features.
    pub standardizer: Standardizer,
    /// Weights of the standardized guest features, in input column order.
    pub weights: Vec<f64>,
    /// The intercept, if fitted.
    pub intercept: Option<f64>,
}

/// The host's part: its standardization and weights.
#[derive(Clone, PartialEq)]
pub struct LrHostModel {
    /// Shared id of the model.
    pub model_id: ModelId,
    /// Column means and stds of the host's training features.
    pub standardizer: Standardizer,
    /// Weights of the standardized host features, in input column order.
    pub weights: Vec<f64>,
}

// Weights are the party's secret: never printed.
impl core::fmt::Debug for LrGuestModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LrGuestModel({}, {} features)",
            self.model_id,
            self.weights.len()
        )
    }
}

impl core::fmt::Debug for LrHostModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LrHostModel({}, {} features)",
            self.model_id,
            self.weights.len()
        )
    }
}

/// `Σ_j w_j·z_j` of one raw row (standardized with `st`, clipped as in training).
fn partial(st: &Standardizer, w: &[f64], row: &[f64]) -> Result<f64, LrError> {
    if row.len() != w.len() {
        return Err(LrError::InvalidInput("row length differs from the model's"));
    }
    if row.iter().any(|v| !v.is_finite()) {
        return Err(LrError::InvalidInput("a feature value is not finite"));
    }
    Ok(row
        .iter()
        .enumerate()
        .map(|(j, &x)| w[j] * st.z(j, x))
        .sum())
}

/// The logistic function.
pub fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

impl LrGuestModel {
    /// The guest's linear term of one raw row, intercept included.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a row of the wrong length or a non-finite value.
    pub fn partial_score(&self, row: &[f64]) -> Result<f64, LrError> {
        Ok(partial(&self.standardizer, &self.weights, row)? + self.intercept.unwrap_or(0.0))
    }

    /// Probabilities `σ(u_A + u_B)` of `rows` given the host's partial scores.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a count mismatch or a bad row.
    pub fn scores(&self, rows: &[Vec<f64>], host_partial: &[f64]) -> Result<Vec<f64>, LrError> {
        if rows.len() != host_partial.len() {
            return Err(LrError::InvalidInput(
                "host scores and guest rows differ in count",
            ));
        }
        rows.iter()
            .zip(host_partial)
            .map(|(r, b)| Ok(sigmoid(self.partial_score(r)? + b)))
            .collect()
    }

    /// The file bytes of this part.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            ROLE_GUEST,
            &self.model_id,
            &self.standardizer,
            &self.weights,
            self.intercept,
        )
    }

    /// Reads a guest part.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a wrong magic, version, role, length or value.
    pub fn from_bytes(b: &[u8]) -> Result<Self, LrError> {
        let (model_id, standardizer, weights, intercept) = decode(ROLE_GUEST, b)?;
        Ok(Self {
            model_id,
            standardizer,
            weights,
            intercept,
        })
    }
}

impl LrHostModel {
    /// The host's linear term of one raw row.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a row of the wrong length or a non-finite value.
    pub fn partial_score(&self, row: &[f64]) -> Result<f64, LrError> {
        partial(&self.standardizer, &self.weights, row)
    }

    /// The host's linear terms of `rows`.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a bad row.
    pub fn partial_scores(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>, LrError> {
        rows.iter().map(|r| self.partial_score(r)).collect()
    }

    /// The file bytes of this part.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            ROLE_HOST,
            &self.model_id,
            &self.standardizer,
            &self.weights,
            None,
        )
    }

    /// Reads a host part.
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] for a wrong magic, version, role, length or value.
    pub fn from_bytes(b: &[u8]) -> Result<Self, LrError> {
        let (model_id, standardizer, weights, intercept) = decode(ROLE_HOST, b)?;
        if intercept.is_some() {
            return Err(LrError::InvalidInput("a host model part has no intercept"));
        }
        Ok(Self {
            model_id,
            standardizer,
            weights,
        })
    }
}

fn encode(role: u8, id: &ModelId, st: &Standardizer, w: &[f64], intercept: Option<f64>) -> Vec<u8> {
    let mut v = Vec::with_capacity(FIXED_LEN + 24 * w.len());
    v.extend_from_slice(&MAGIC);
    v.push(FORMAT_VERSION);
    v.push(role);
    v.extend_from_slice(&id.0);
    // At most MAX_FEATURES weights.
    v.extend_from_slice(&u32::try_from(w.len()).unwrap_or(u32::MAX).to_le_bytes());
    v.push(u8::from(intercept.is_some()));
    v.extend_from_slice(&intercept.unwrap_or(0.0).to_le_bytes());
    for ((m, s), w) in st.means.iter().zip(&st.stds).zip(w) {
        v.extend_from_slice(&m.to_le_bytes());
        v.extend_from_slice(&s.to_le_bytes());
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

type Decoded = (ModelId, Standardizer, Vec<f64>, Option<f64>);

fn decode(role: u8, b: &[u8]) -> Result<Decoded, LrError> {
    let bad = |m| Err(LrError::InvalidInput(m));
    if b.len() < FIXED_LEN || b[0..4] != MAGIC {
        return bad("not an unseen LR model part");
    }
    if b[4] != FORMAT_VERSION {
        return bad("unsupported LR model format version");
    }
    if b[5] != role {
        return bad("the model part belongs to the other party");
    }
    let f = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        f64::from_le_bytes(a)
    };
    let mut id = [0u8; 16];
    id.copy_from_slice(&b[6..22]);
    let n = u32::from_le_bytes([b[22], b[23], b[24], b[25]]) as usize;
    if n > super::MAX_FEATURES || b.len() != FIXED_LEN + 24 * n {
        return bad("model part has the wrong length");
    }
    let intercept = match b[26] {
        0 => None,
        1 => Some(f(27)),
        _ => return bad("intercept flag other than 0 or 1"),
    };
    let (mut means, mut stds, mut weights) = (vec![], vec![], vec![]);
    for j in 0..n {
        let o = FIXED_LEN + 24 * j;
        means.push(f(o));
        stds.push(f(o + 8));
        weights.push(f(o + 16));
    }
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !(finite(&means) && finite(&weights) && intercept.is_none_or(f64::is_finite)) {
        return bad("model part holds a non-finite value");
    }
    if stds.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return bad("model part holds a standard deviation that is not positive");
    }
    Ok((
        ModelId(id),
        Standardizer { means, stds },
        weights,
        intercept,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn model_id_prints_and_parses_as_32_lowercase_hex_digits() {
        let id = ModelId([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        let s = "00112233445566778899aabbccddeeff";
        assert_eq!(id.to_string(), s);
        assert_eq!(format!("{id:?}"), format!("ModelId({s})"));
        assert_eq!(s.parse::<ModelId>(), Ok(id));
        let all: Vec<ModelId> = (0..=255u8).map(|b| ModelId([b; 16])).collect();
        for id in all {
            assert_eq!(id.to_string().parse::<ModelId>(), Ok(id));
        }
    }

    #[test]
    fn model_id_refuses_every_other_spelling() {
        for bad in [
            "",
            "00112233445566778899aabbccddeef",   // 31 digits
            "00112233445566778899aabbccddeeff0", // 33
            "00112233445566778899AABBCCDDEEFF",  // upper case
            "0x112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeeg0",
            " 0112233445566778899aabbccddeeff",
            "+0112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeeé", // 32 bytes, not 32 digits
        ] {
            let e = bad.parse::<ModelId>().unwrap_err();
            assert_eq!(e, ParseModelIdError(bad.to_owned()));
            assert_eq!(
                e.to_string(),
                format!("{bad:?} is not a model id (32 lowercase hex digits)")
            );
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn model_id_deserializes_from_its_hex_digits() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;
        let s = "00112233445566778899aabbccddeeff";
        let id = ModelId::deserialize(s.into_deserializer()).map_err(|e: Error| e);
        assert_eq!(id.unwrap().to_string(), s);
        let e = ModelId::deserialize("0011".into_deserializer()).map_err(|e: Error| e);
        assert_eq!(
            e.unwrap_err().to_string(),
            "\"0011\" is not a model id (32 lowercase hex digits)"
        );
    }
}
