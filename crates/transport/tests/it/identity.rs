//! Identities, certificates and fingerprints.

use sha2::{Digest, Sha256};
use unseen_transport::{Certificate, Fingerprint, Identity, TransportError};

#[test]
fn pem_round_trip_keeps_certificate_key_and_fingerprint() {
    let id = Identity::generate("bank-a").unwrap();
    let cert_pem = id.cert_pem();
    let key_pem = id.key_pem();
    assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let back = Identity::from_pem(&cert_pem, &key_pem).unwrap();
    assert_eq!(back.fingerprint(), id.fingerprint());
    assert_eq!(back.certificate().der(), id.certificate().der());
    assert_eq!(back.cert_pem(), cert_pem);
    assert_eq!(*back.key_pem(), *key_pem);
    let cert = Certificate::from_pem(&cert_pem).unwrap();
    assert_eq!(cert.fingerprint(), id.fingerprint());
    assert_eq!(cert.to_pem(), cert_pem);
    // CRLF line endings (a PEM file edited on Windows) parse to the same certificate.
    let crlf = cert_pem.replace('\n', "\r\n");
    assert_eq!(
        Certificate::from_pem(&crlf).unwrap().fingerprint(),
        id.fingerprint()
    );
}

#[test]
fn fingerprint_is_sha256_of_der_and_stable() {
    let id = Identity::generate("bank-b").unwrap();
    let der = id.certificate().der();
    let expected: [u8; 32] = Sha256::digest(der).into();
    assert_eq!(id.fingerprint().as_bytes(), &expected);
    assert_eq!(Fingerprint::of_der(der), id.fingerprint());
    assert_eq!(id.certificate().fingerprint(), id.fingerprint());
    let text = id.fingerprint().to_string();
    assert_eq!(text, format!("sha256:{}", hex::encode(expected)));
    assert_eq!(format!("{:?}", id.fingerprint()), text);
    // Each generation is a fresh key, hence a fresh fingerprint.
    assert_ne!(
        Identity::generate("bank-b").unwrap().fingerprint(),
        id.fingerprint()
    );
}

#[test]
fn fingerprint_parses_the_usual_spellings() {
    let fp = Fingerprint::of_der(b"not a certificate, but any bytes hash");
    let hex = hex::encode(fp.as_bytes());
    let openssl = fp
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    for s in [
        fp.to_string(),
        hex.clone(),
        hex.to_uppercase(),
        format!("SHA256:{}", hex.to_uppercase()),
        format!("  {fp}\n"),
        openssl.clone(),
        format!("sha256:{openssl}"),
    ] {
        assert_eq!(s.parse::<Fingerprint>().unwrap(), fp, "{s:?}");
    }
    for bad in [
        "",
        "sha256:",
        &hex[..62],
        &format!("{hex}00"),
        &format!("sha1:{hex}"),
        &hex.replace(&hex[..1], "g"),
        &format!("md5:{}", &hex[..32]),
    ] {
        let e = bad.parse::<Fingerprint>().unwrap_err();
        assert!(
            matches!(e, TransportError::BadCertificate(_)),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn mismatched_key_is_bad_key() {
    let a = Identity::generate("a").unwrap();
    let b = Identity::generate("b").unwrap();
    let e = Identity::from_pem(&a.cert_pem(), &b.key_pem()).unwrap_err();
    assert!(matches!(e, TransportError::BadKey(_)), "{e}");
    assert!(e.to_string().contains(&a.fingerprint().to_string()), "{e}");
    for bad_key in ["", "hello", &a.cert_pem()] {
        let e = Identity::from_pem(&a.cert_pem(), bad_key).unwrap_err();
        assert!(matches!(e, TransportError::BadKey(_)), "{e}");
    }
    // Base64 that decodes, but not to a key.
    let junk = "-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----\n";
    let e = Identity::from_pem(&a.cert_pem(), junk).unwrap_err();
    assert!(matches!(e, TransportError::BadKey(_)), "{e}");
}

#[test]
fn bad_certificate_pem_is_rejected() {
    let a = Identity::generate("a").unwrap();
    let b = Identity::generate("b").unwrap();
    let not_x509 = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
    let truncated = {
        let pem = a.cert_pem();
        pem[..pem.len() - 30].to_string()
    };
    let cases = [
        String::new(),
        "garbage".to_string(),
        not_x509.to_string(),
        truncated,
        format!("{}{}", a.cert_pem(), b.cert_pem()),
        format!("{}{}", a.cert_pem(), &*a.key_pem()),
        a.key_pem().to_string(),
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_string(),
    ];
    for pem in &cases {
        let e = Certificate::from_pem(pem).unwrap_err();
        assert!(
            matches!(e, TransportError::BadCertificate(_)),
            "{pem:?}: {e}"
        );
        let e = Identity::from_pem(pem, &a.key_pem()).unwrap_err();
        assert!(
            matches!(e, TransportError::BadCertificate(_)),
            "{pem:?}: {e}"
        );
    }
    // The error for a key pasted as a certificate does not echo the key.
    let e = Certificate::from_pem(&a.key_pem()).unwrap_err().to_string();
    let body = a.key_pem().lines().nth(1).unwrap().to_string();
    assert!(!e.contains(&body), "{e}");
}

#[test]
fn debug_never_shows_the_key() {
    let id = Identity::generate("secretive").unwrap();
    let debug = format!("{id:?} {:#?}", id);
    let key_pem = id.key_pem();
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!debug.contains(line), "{debug}");
    }
    assert!(!debug.contains("PRIVATE"), "{debug}");
    assert!(debug.contains(&id.fingerprint().to_string()), "{debug}");
    let cert_debug = format!("{:?}", id.certificate());
    assert_eq!(cert_debug, format!("Certificate({})", id.fingerprint()));
}

#[test]
fn generated_names() {
    use rustls::client::verify_server_name;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::server::ParsedCertificate;

    let id = Identity::generate("bank-a.example").unwrap();
    let der = CertificateDer::from(id.certificate().der());
    let parsed = ParsedCertificate::try_from(&der).unwrap();
    let name = |n: &'static str| ServerName::try_from(n).unwrap();
    verify_server_name(&parsed, &name("unseen-node")).unwrap();
    verify_server_name(&parsed, &name("bank-a.example")).unwrap();
    assert!(verify_server_name(&parsed, &name("bank-b.example")).is_err());

    // Not a DNS name: only the fixed name, and the common name is kept as given.
    let id = Identity::generate("Bank Ä (Zürich)").unwrap();
    let der = CertificateDer::from(id.certificate().der());
    let parsed = ParsedCertificate::try_from(&der).unwrap();
    verify_server_name(&parsed, &name("unseen-node")).unwrap();

    for bad in ["", "tab\there", &"x".repeat(65)] {
        let e = Identity::generate(bad).unwrap_err();
        assert!(
            matches!(e, TransportError::BadCertificate(_)),
            "{bad:?}: {e}"
        );
    }
}
