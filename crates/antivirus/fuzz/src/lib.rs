//! What every target over a member decoder of `mailhost-decode` checks:
//! no panic, the limits kept, the same result twice.

use mailhost_decode::{Error, Limits, Member};

pub const LIMITS: Limits = Limits {
    max_total: 1 << 20,
    max_member: 1 << 18,
    max_members: 64,
};

pub fn check_members(data: &[u8], decode: fn(&[u8], &Limits) -> Result<Vec<Member>, Error>) {
    let r = decode(data, &LIMITS);
    if let Ok(members) = &r {
        assert!(members.len() <= LIMITS.max_members as usize);
        let total: usize = members.iter().map(|m| m.data.len()).sum();
        assert!(total as u64 <= LIMITS.max_total);
        assert!(members
            .iter()
            .all(|m| m.data.len() as u64 <= LIMITS.max_member));
    }
    assert_eq!(r, decode(data, &LIMITS));
}
