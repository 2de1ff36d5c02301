//! The loopback benchmark delivers every byte (correctness, not speed).

use unseen_transport::{TransportError, bench_loopback};

#[test]
fn bench_loopback_delivers_every_byte() {
    let r = bench_loopback(8 << 20, 64 << 10).unwrap();
    assert_eq!(r.bytes, 8 << 20);
    assert_eq!(r.frame_bytes, 64 << 10);
    assert!(r.seconds > 0.0 && r.gbytes_per_s > 0.0, "{r:?}");
    assert!(r.cipher_suite.starts_with("TLS13_"), "{r:?}");
    // A total that is not a multiple of the frame size ends with a short frame.
    assert_eq!(bench_loopback(1_000_003, 4096).unwrap().bytes, 1_000_003);
    assert!(matches!(
        bench_loopback(1, 0).unwrap_err(),
        TransportError::Channel(_)
    ));
}
