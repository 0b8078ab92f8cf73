//! FETCH, STORE, COPY, MOVE, UID EXPUNGE and SEARCH handling on a view
//! made from the input's first bytes: sets resolve to sorted indices in
//! range, searches never panic and NOT inverts them exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailhost_imap::fuzzing::run(data);
});
