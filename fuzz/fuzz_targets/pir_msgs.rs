//! Every decoder of keyword-PIR messages (setup, hint, blinded, evaluated, query, answer) on
//! arbitrary bytes: must never panic or over-allocate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| unseen_pir::keyword::msgs::fuzz_decode(data));
