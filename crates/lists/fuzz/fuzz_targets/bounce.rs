//! bounce::parse on arbitrary bytes: never panics, and what it returns is
//! bounded (recipients, status texts, addresses, original headers).
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

#[path = "../../src/bounce.rs"]
mod bounce;
#[path = "../../src/headers.rs"]
mod headers;

use bounce::Report;

fn address_ok(a: &Option<String>) -> bool {
    a.as_ref().is_none_or(|a| a.len() <= 320 && a.contains('@'))
}

fuzz_target!(|data: &[u8]| {
    match bounce::parse(data) {
        Some(Report::Dsn(f) | Report::Text(f)) => {
            assert!(f.len() <= bounce::MAX_RECIPIENTS);
            for x in &f {
                // c.s.d with at most 3 digits each, or a 3-digit reply.
                assert!((3..=11).contains(&x.status.len()), "{:?}", x.status);
                assert!(
                    matches!(x.status.as_bytes()[0], b'4' | b'5'),
                    "{:?}",
                    x.status
                );
                assert!(address_ok(&x.recipient), "{:?}", x.recipient);
            }
        }
        Some(Report::Complaint {
            feedback_type,
            original_rcpt,
            original_headers,
        }) => {
            assert!(!feedback_type.is_empty() && feedback_type.len() <= 64);
            assert!(address_ok(&original_rcpt));
            assert!(original_headers.is_none_or(|h| !h.is_empty() && h.len() <= 64 * 1024));
        }
        None => {}
    }
});
