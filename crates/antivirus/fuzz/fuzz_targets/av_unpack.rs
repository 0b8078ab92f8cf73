//! The nested unpacker on any bytes as one attachment, with small limits:
//! never panics, never reads past its budget. Third-party readers run
//! under catch_unwind in the walker; a panic in ours would surface here.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_antivirus::{unpack::Walker, Database, Limits};
use std::sync::OnceLock;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    static DB: OnceLock<Database> = OnceLock::new();
    let db = DB.get_or_init(Database::builtin);
    let limits = Limits {
        depth: 8,
        files: 200,
        total: 8 << 20,
        file: 4 << 20,
        ratio: 250,
        ratio_floor: 1 << 20,
        time: Duration::from_secs(5),
        decoder_memory: 16 << 20,
    };
    let f = Walker::new(db, limits).part(data, "fuzz", false);
    assert!(f.files <= limits.files + 1);
});
