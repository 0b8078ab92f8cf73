//! R-OUT-8 fingerprint fuzz target: any message (MIME, HTML, broken
//! encodings, odd Unicode) yields a fingerprint without panicking; a
//! fingerprint survives its byte form and is identical to itself; the
//! one-pass reading of plain-text mail agrees with the MIME parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailhost_policy::fingerprint::Fingerprint;

fuzz_target!(|data: &[u8]| {
    let f = Fingerprint::of_message(data);
    assert_eq!(f, Fingerprint::of_parsed(data));
    assert_eq!(Fingerprint::from_bytes(&f.to_bytes()).as_ref(), Some(&f));
    assert_eq!(f.similarity(&f), 1.0);
    if let Ok(s) = std::str::from_utf8(data) {
        let (subject, body) = s.split_once('\n').unwrap_or((s, ""));
        let _ = Fingerprint::of_text(subject, body);
    }
});
