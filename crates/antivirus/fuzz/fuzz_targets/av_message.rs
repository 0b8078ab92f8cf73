//! The MIME part walker and the DELETED<n>.TXT rewrite on any message:
//! never panics; a rewritten message is itself a message whose every
//! removed part is gone (scanning it again removes nothing more).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailhost_antivirus::{scan_builtin, Database, Settings, Verdict};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static DB: OnceLock<(Database, Settings)> = OnceLock::new();
    let (db, s) = DB.get_or_init(|| {
        let mut c = mailhost_config::Antivirus::default();
        c.max_scan_size = mailhost_config::Size(8 << 20);
        (Database::builtin(), Settings::from_config(&c, "mx.fuzz"))
    });
    let mut msg = data.to_vec();
    // Seed the corpus with viruses the walker must cut out.
    if data.first() == Some(&b'!') {
        msg.extend_from_slice(
            b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
        );
    }
    if let Verdict::Deliver {
        body: Some(b),
        removed,
        header,
        ..
    } = scan_builtin(db, s, &msg)
    {
        assert!(!removed.is_empty());
        assert!(header.ends_with("\r\n") && !header[..header.len() - 2].contains('\n'));
        if let Verdict::Deliver { removed: again, .. } = scan_builtin(db, s, &b) {
            assert!(again.iter().all(|r| r.signature.is_none()), "{again:?}");
        }
    }
});
