//! Certificates, their fingerprints, and a node's own identity (certificate + private key).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::TransportError;

/// The name every node certificate carries as a DNS subject alternative name, and the server name
/// every client asks for. Pinning replaces name checks; the fixed name only keeps TLS tooling
/// (and `openssl s_client -servername`) happy.
pub const NODE_SERVER_NAME: &str = "unseen-node";

/// Longest node name accepted by [`Identity::generate`] (the X.520 upper bound on a common name).
const MAX_NAME_CHARS: usize = 64;

/// How long a generated certificate is valid. Validity dates are never checked between nodes
/// (the pin is the trust decision; to revoke, unpin), so this only matters to other tools.
const VALIDITY_YEARS: i32 = 10;

/// The SHA-256 digest of a certificate's DER encoding: what partners pin.
///
/// Written `sha256:` followed by 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl core::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = TransportError;

    /// Accepts `sha256:<64 hex>`, bare `<64 hex>`, and the colon-separated pairs that
    /// `openssl x509 -fingerprint -sha256` prints; hex digits and the prefix in any case.
    /// Anything else is [`TransportError::BadCertificate`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            TransportError::BadCertificate(format!(
                "{s:?} is not a certificate fingerprint: expected sha256: followed by 64 hex digits"
            ))
        };
        let t = s.trim();
        let t = match t.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("sha256:") => &t[7..],
            _ => t,
        };
        let hex_digits: String =
            if t.len() == 32 * 3 - 1 && t.bytes().skip(2).step_by(3).all(|b| b == b':') {
                t.split(':').collect()
            } else {
                t.to_owned()
            };
        if hex_digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&hex_digits, &mut out).map_err(|_| bad())?;
        Ok(Fingerprint(out))
    }
}

/// An X.509 certificate (DER), as a partner presents it or as it is exchanged out of band.
///
/// Its `Debug` shows only the fingerprint.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    fingerprint: Fingerprint,
}

impl Certificate {
    /// Parses a PEM text holding exactly one `CERTIFICATE` block (and nothing else) that decodes
    /// as an X.509 certificate.
    pub fn from_pem(pem: &str) -> Result<Certificate, TransportError> {
        let mut certs = Vec::new();
        for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
            let (kind, mut der) =
                item.map_err(|e| TransportError::BadCertificate(format!("not valid PEM: {e}")))?;
            if kind != SectionKind::Certificate {
                // The block may be a private key pasted by mistake: wipe it before reporting.
                der.zeroize();
                return Err(TransportError::BadCertificate(format!(
                    "expected only a CERTIFICATE block, found a {kind:?} block"
                )));
            }
            certs.push(der);
        }
        let der = match certs.len() {
            1 => certs.remove(0),
            0 => {
                return Err(TransportError::BadCertificate(
                    "no CERTIFICATE block found".into(),
                ));
            }
            n => {
                return Err(TransportError::BadCertificate(format!(
                    "found {n} CERTIFICATE blocks, expected exactly one (the node's own \
                     self-signed certificate, no chain)"
                )));
            }
        };
        Certificate::from_der(der)
    }

    /// Checks that `der` parses as an X.509 end-entity certificate.
    pub(crate) fn from_der(der: Vec<u8>) -> Result<Certificate, TransportError> {
        ParsedCertificate::try_from(&CertificateDer::from(der.as_slice())).map_err(|e| {
            TransportError::BadCertificate(format!("not a valid X.509 certificate: {e}"))
        })?;
        let fingerprint = Fingerprint::of_der(&der);
        Ok(Certificate { der, fingerprint })
    }

    /// The certificate as one PEM `CERTIFICATE` block (LF line endings, 64 columns).
    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-256 fingerprint of the DER encoding.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

impl core::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Certificate")
            .field(&self.fingerprint)
            .finish()
    }
}

/// A node's own certificate and private key.
///
/// `Debug` shows the fingerprint only; the key bytes are wiped when the identity is dropped.
pub struct Identity {
    certificate: Certificate,
    key: Zeroizing<PrivateKeyDer<'static>>,
    certified: Arc<CertifiedKey>,
}

impl Identity {
    /// Generates a fresh self-signed identity: ECDSA P-256 with SHA-256, common name `name`, DNS
    /// names `unseen-node` (and `name` when it is a valid DNS name), valid from yesterday for ten
    /// years.
    pub fn generate(name: &str) -> Result<Identity, TransportError> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(TransportError::BadCertificate(format!(
                "node name {name:?} must have 1 to {MAX_NAME_CHARS} characters and no control \
                 characters"
            )));
        }
        let gen_err =
            |e: rcgen::Error| TransportError::BadCertificate(format!("cannot generate: {e}"));
        let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let mut sans = vec![SanType::DnsName(
            NODE_SERVER_NAME.try_into().map_err(gen_err)?,
        )];
        if name != NODE_SERVER_NAME && DnsName::try_from(name).is_ok() {
            sans.push(SanType::DnsName(name.try_into().map_err(gen_err)?));
        }
        params.subject_alt_names = sans;
        let ((y0, m0, d0), (y1, m1, d1)) = validity(SystemTime::now());
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key_pair).map_err(gen_err)?;

        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialized_der().to_vec()));
        Identity::from_parts(Certificate::from_der(cert.der().to_vec())?, key)
    }

    /// Loads an identity from its certificate PEM and private-key PEM (PKCS#8, SEC1 or PKCS#1),
    /// checking that the key belongs to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Identity, TransportError> {
        let certificate = Certificate::from_pem(cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TransportError::BadKey(format!("no private key found in PEM: {e}")))?;
        Identity::from_parts(certificate, key)
    }

    fn from_parts(
        certificate: Certificate,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, TransportError> {
        let key = Zeroizing::new(key);
        let provider = crate::provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TransportError::BadKey(format!("unsupported or malformed key: {e}")))?;
        let certified =
            CertifiedKey::new(vec![CertificateDer::from(certificate.der.clone())], signing);
        let fp = certificate.fingerprint;
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(TransportError::BadKey(format!(
                    "the private key does not belong to certificate {fp}"
                )));
            }
            Err(e) => {
                return Err(TransportError::BadKey(format!(
                    "cannot check that the private key belongs to certificate {fp}: {e}"
                )));
            }
        }
        Ok(Identity {
            certificate,
            key,
            certified: Arc::new(certified),
        })
    }

    /// The certificate as PEM, to hand to partners (with its fingerprint, out of band).
    pub fn cert_pem(&self) -> String {
        self.certificate.to_pem()
    }

    /// The private key as PEM, for the node's key file. Wiped when dropped.
    pub fn key_pem(&self) -> Zeroizing<String> {
        let label = match &*self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        Zeroizing::new(pem_encode(label, self.key.secret_der()))
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certificate's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.certificate.fingerprint
    }

    /// Certificate and signing key, as rustls configurations take them.
    pub(crate) fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.certified)
    }
}

impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Identity")
            .field("certificate", &self.certificate.fingerprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// PEM armour (RFC 7468): standard base64 with padding, 64 columns, LF line endings. The string
/// is allocated at its final size up front so that no partial copy of a key is left behind by a
/// reallocation.
fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b64_len = der.len().div_ceil(3) * 4;
    let line_breaks = b64_len.div_ceil(64);
    let armour = "-----BEGIN -----\n".len() + "-----END -----\n".len() + 2 * label.len();
    let mut out = String::with_capacity(armour + b64_len + line_breaks);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut column = 0;
    for chunk in der.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let sextets = [
            b0 >> 2,
            (b0 & 0x03) << 4 | b1 >> 4,
            (b1 & 0x0f) << 2 | b2 >> 6,
            b2 & 0x3f,
        ];
        for (i, s) in sextets.iter().enumerate() {
            // A chunk of n bytes yields n + 1 significant characters, then padding.
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[usize::from(*s)])
            } else {
                '='
            });
            column += 1;
            if column == 64 {
                out.push('\n');
                column = 0;
            }
        }
    }
    if column != 0 {
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

type Ymd = (i32, u8, u8);

/// Validity of a generated certificate as (year, month, day) UTC: from yesterday (tolerating
/// clock skew) for [`VALIDITY_YEARS`]. Always valid dates, so `rcgen::date_time_ymd` cannot panic.
fn validity(now: SystemTime) -> (Ymd, Ymd) {
    let days = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    // Clamp to dates the `time` crate (years up to 9999) represents, so rcgen cannot panic.
    let days = i64::try_from(days).unwrap_or(0).min(2_900_000);
    let not_before = civil_from_days(days - 1);
    let (y, m, d) = civil_from_days(days);
    // Day 28 exists in every month, so the date is valid whatever today is (29 February).
    (not_before, (y + VALIDITY_YEARS, m, d.min(28)))
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
fn civil_from_days(days: i64) -> Ymd {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // In range by construction: 1 <= m <= 12, 1 <= d <= 31, and `days` is clamped by the caller.
    (
        i32::try_from(y).unwrap_or(1970),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn pem_encoding_matches_rcgen() {
        // rcgen armours with the `pem` crate: an independent encoder to compare against.
        for _ in 0..4 {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let cert = CertificateParams::new(vec!["a.example".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            assert_eq!(pem_encode("CERTIFICATE", cert.der()), cert.pem());
            assert_eq!(
                pem_encode("PRIVATE KEY", key.serialized_der()),
                key.serialize_pem()
            );
        }
        for len in 0..70 {
            let der: Vec<u8> = (0..len).map(|i: u8| i.wrapping_mul(37)).collect();
            let pem = pem_encode("CERTIFICATE", &der);
            let (kind, back) = <(SectionKind, Vec<u8>)>::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(kind, SectionKind::Certificate);
            assert_eq!(back, der);
            assert_eq!(pem.capacity(), pem.len(), "allocated at its final size");
        }
    }

    #[test]
    fn validity_spans_ten_years() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(11_016 * 86_400 + 5);
        assert_eq!(validity(t), ((2000, 2, 28), (2010, 2, 28)));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(19_723 * 86_400);
        assert_eq!(validity(t), ((2023, 12, 31), (2034, 1, 1)));
    }
}
