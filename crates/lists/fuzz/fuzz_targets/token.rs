//! Token checking on arbitrary text: never panics; nothing but a token
//! the key issued verifies (both forms), and one that does names the
//! claims it was issued with.
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

#[path = "../../src/token.rs"]
mod token;

use token::{Claims, Purpose};

const KEY: &[u8] = b"fuzzing key, not a real one";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for p in [
        Purpose::Confirm,
        Purpose::Unsubscribe,
        Purpose::Bounce,
        Purpose::Moderate,
    ] {
        // Forging a MAC by chance is out of reach: any success is a bug.
        assert!(token::verify(KEY, p, &text, 0).is_err(), "{text}");
        if let Some(c) = token::parse_compact(&text) {
            let _ = (c.key_hex(), c.post_id());
            assert!(
                token::verify_compact(KEY, p, &c, "news@example.com", "a@b.example", 0).is_err()
            );
        }
    }
    let _ = token::key_from_hex(&text);
    let _ = token::hash(&text);
    // Issued from fuzzed claims, a token round-trips.
    let s = String::from_utf8_lossy(&data[..data.len().min(300)]).into_owned();
    let c = Claims {
        purpose: Purpose::Unsubscribe,
        list: "news@example.com".into(),
        member: s.clone(),
        nonce: data.len() as u64,
        expires: 0,
    };
    let t = token::issue_compact(KEY, &c, [1, 2, 3, 4, 5, 6]);
    let parsed = token::parse_compact(&t).expect("our own compact token parses");
    let back = token::verify_compact(
        KEY,
        Purpose::Unsubscribe,
        &parsed,
        "news@example.com",
        &s,
        0,
    )
    .expect("our own compact token verifies");
    assert_eq!(back.member, s);
    let t1 = token::issue(KEY, &c);
    if t1.len() <= token::MAX_TOKEN_LEN {
        assert_eq!(
            token::verify(KEY, Purpose::Unsubscribe, &t1, 0)
                .unwrap()
                .member,
            s
        );
    }
});
