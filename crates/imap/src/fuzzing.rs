//! The FETCH/SEARCH/STORE handling a fuzz target drives
//! (`crates/imap/fuzz`): sets resolved against a view and search keys
//! evaluated on messages, with the invariants they must keep, without a
//! store or a socket. Not part of the server's API.

use crate::view::Selected;
use mailhost_imap_proto::frame::{Frame, Framer, Limits};
use mailhost_imap_proto::types::{Command, SearchKey};
use mailhost_store::{FetchRow, MsgState};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A message the text keys can look into.
const MESSAGE: &[u8] = b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nTo: a@b.example, \"Group\": c@d.example;\r\nSubject: =?iso-8859-1?q?Caf=E9?= report\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQ=\r\n--x--\r\n";

/// Runs every command framed from `data` against a view made from its
/// first bytes; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(3));
    let n = head.first().map_or(0, |b| *b as usize * 4);
    let gap = head.get(1).map_or(1, |b| (*b as u32 % 7) + 1);
    let seed = head.get(2).copied().unwrap_or(0) as i64;
    let msgs: Vec<MsgState> = (0..n)
        .map(|i| MsgState {
            uid: 1 + i as u32 * gap,
            flags: (seed.wrapping_mul(i as i64 + 1)) & 0x7f,
            modseq: 1 + (i as u64 * 7) % 50,
        })
        .collect();
    let rows: HashMap<u32, FetchRow> = msgs
        .iter()
        .map(|m| {
            (
                m.uid,
                FetchRow {
                    uid: m.uid,
                    size: 100 + m.uid as u64,
                    internal_ms: m.uid as i64 * 86_400_000,
                    data: Some(MESSAGE.to_vec()),
                    ..Default::default()
                },
            )
        })
        .collect();
    let sel = Selected {
        folder: 1,
        name: "INBOX".into(),
        read_only: false,
        msgs: Arc::new(msgs),
        modseq: 50,
        pending: HashSet::new(),
        recent: vec![(2, 9)],
    };
    let saved: Vec<u32> = sel.msgs.iter().step_by(2).map(|m| m.uid).collect();
    let keywords = vec![(5, "$Work".to_string()), (6, "urgent".to_string())];
    let mut framer = Framer::new(Limits::default());
    framer.push(rest);
    while let Some(frame) = framer.next_frame() {
        let Frame::Command(c) = frame else { continue };
        let Ok(req) = mailhost_imap_proto::parse::parse(&c) else {
            continue;
        };
        match req.command {
            Command::Fetch { uid, set, .. }
            | Command::Store { uid, set, .. }
            | Command::Copy { uid, set, .. }
            | Command::Move { uid, set, .. } => check_resolve(&sel, &set, uid, &saved),
            Command::UidExpunge(set) => check_resolve(&sel, &set, true, &saved),
            Command::Search { uid: _, search } => {
                let hits =
                    crate::search::matching(&search.key, &sel.msgs, &rows, &keywords, Some(&saved));
                assert!(hits.windows(2).all(|w| w[0] < w[1]));
                assert!(hits.iter().all(|&i| i < sel.msgs.len()));
                // NOT inverts, exactly.
                let not = SearchKey::Not(Box::new(search.key.clone()));
                let misses =
                    crate::search::matching(&not, &sel.msgs, &rows, &keywords, Some(&saved));
                assert_eq!(hits.len() + misses.len(), sel.msgs.len());
                let _ = crate::search::key_level(&search.key);
            }
            _ => {}
        }
    }
}

fn check_resolve(
    sel: &Selected,
    set: &mailhost_imap_proto::seqset::SeqSet,
    uid: bool,
    saved: &[u32],
) {
    let Ok(idx) = sel.resolve(set, uid, Some(saved)) else {
        // Only a sequence number past the end is refused.
        assert!(!uid);
        return;
    };
    assert!(idx.iter().all(|&i| i < sel.msgs.len()));
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
}
