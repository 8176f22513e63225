//! Any byte string given to the daily decoder is an error or a valid panel,
//! never a panic; valid bodies re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servicewatch_shared::codec::{decode_panel, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok((daily, _panel)) = decode_panel(data) {
        assert_eq!(encode(&daily), data);
    }
});
