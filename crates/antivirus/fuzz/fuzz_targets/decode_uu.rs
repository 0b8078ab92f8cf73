//! The decoder of UUEncode and `begin-base64` blocks in any text: never
//! panics, stays within its limits, and gives the same result twice.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailhost_antivirus_fuzz::check_members(data, mailhost_decode::uu::decode);
});
