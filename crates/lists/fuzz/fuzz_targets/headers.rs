//! The header transforms on arbitrary bytes: never panic, strip keeps
//! what it does not remove byte for byte, and rewrite_from leaves exactly
//! one From field.
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

#[path = "../../src/headers.rs"]
mod headers;

fuzz_target!(|data: &[u8]| {
    let section = headers::header_section(data);
    assert!(data.starts_with(section));
    assert_eq!(headers::strip(data, |_| false), data);
    let stripped = headers::strip(data, headers::is_list_managed);
    assert!(stripped.len() <= data.len());
    assert!(headers::get(&stripped, "List-Id").is_empty());
    let _ = headers::get(data, "X-Loop");
    let _ = headers::loop_reason(data, |id| id == "news.example.com", "news@example.com", 3);
    let _ = headers::from_address(data);
    let out = headers::rewrite_from(data, "news@example.com", "News");
    assert_eq!(
        headers::get(&out, "From").len(),
        1,
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    let with = headers::prepend(data, "X-Loop: news@example.com\r\n");
    assert!(with.ends_with(data));
});
