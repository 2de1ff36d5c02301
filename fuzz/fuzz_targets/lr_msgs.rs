//! Every decoder of logistic-regression messages (guest and host hello, public key, ciphertext
//! batches, masked gradients, convergence flag, prediction request, model id, partial scores)
//! on arbitrary bytes: must never panic or over-allocate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| unseen_fl::lr::msgs::fuzz_decode(data));
