//! Every decoder of ECDH-PSI partner messages on arbitrary bytes: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| unseen_psi::msgs::fuzz_decode(data));
