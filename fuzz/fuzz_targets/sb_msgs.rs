//! Every decoder of SecureBoost messages (hello, host hello, next, sampled features, level, split
//! requests, bitmaps, ciphertext batches, finish, predict hello) on arbitrary bytes: must never
//! panic or over-allocate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| unseen_fl::secureboost::msgs::fuzz_decode(data));
