//! What a partner's node can send to ours before and around a job: frames (length, header) read
//! by the channel codec, then decoded as control messages. Must never panic or over-allocate.
#![no_main]

use unseen_channel::StreamChannel;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    unseen_node::control::fuzz_decode(data);
    let mut ch = StreamChannel::direct(
        Box::new(std::io::Cursor::new(data.to_vec())),
        Box::new(std::io::sink()),
    );
    // Read control frames until the bytes run out or one is refused.
    while unseen_node::control::recv_propose(&mut ch).is_ok() {}
});
