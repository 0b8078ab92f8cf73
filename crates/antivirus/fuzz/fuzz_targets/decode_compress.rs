//! The unix compress (.Z) decoder: never panics, stays within its limit,
//! and a prefix of the input decodes to a prefix of the output.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_decode::{compress, Limits};

const LIMITS: Limits = Limits {
    max_total: 1 << 20,
    max_member: 1 << 20,
    max_members: 1,
};

fuzz_target!(|data: &[u8]| {
    let Ok(out) = compress::decode(data, &LIMITS) else {
        return;
    };
    assert!(out.len() as u64 <= LIMITS.max_total);
    if data.len() > 3 {
        if let Ok(part) = compress::decode(&data[..data.len() - 1], &LIMITS) {
            assert!(out.starts_with(&part));
        }
    }
});
