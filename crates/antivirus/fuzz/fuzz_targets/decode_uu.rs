//! The UUEncode and `begin-base64` blocks in any text decoder: never panics, stays within its limits, and gives
//! the same result twice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_decode::{uu, Limits};

const LIMITS: Limits = Limits {
    max_total: 1 << 20,
    max_member: 1 << 18,
    max_members: 64,
};

fuzz_target!(|data: &[u8]| {
    let r = uu::decode(data, &LIMITS);
    if let Ok(members) = &r {
        assert!(members.len() <= LIMITS.max_members as usize);
        let total: usize = members.iter().map(|m| m.data.len()).sum();
        assert!(total as u64 <= LIMITS.max_total);
        assert!(members
            .iter()
            .all(|m| m.data.len() as u64 <= LIMITS.max_member));
    }
    assert_eq!(r, uu::decode(data, &LIMITS));
});
