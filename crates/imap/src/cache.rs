//! A node's copies of folders' message lists (UID, flags, MODSEQ), so that
//! SELECT of a large folder reads what changed since the copy — usually
//! nothing, one indexed row — instead of every message (RFC 9051 §6.3.2
//! wants EXISTS, UIDNEXT and the view at once; a 100,000-message INBOX
//! would otherwise be 100,000 rows per SELECT).
//!
//! A copy is labelled with the folder's MODSEQ as read before its
//! messages; anything newer that slipped into it is read again with the
//! next delta, which is harmless since applying a change twice gives the
//! same list. The copies hold at most [`MAX_MESSAGES`] messages in all;
//! the least recently used go first.

use mailhost_store::{Changes, Folder, MsgState, Store};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// 24 bytes a message: 2,000,000 messages are 48 MB.
pub const MAX_MESSAGES: usize = 2_000_000;
/// Folders smaller than this are read whole: a copy would not pay.
const MIN_CACHED: usize = 1000;

struct Copy {
    loaded: Loaded,
    used: u64,
}

/// A folder's messages as SELECT needs them.
#[derive(Clone)]
pub struct Loaded {
    pub msgs: Arc<Vec<MsgState>>,
    /// The MODSEQ they reflect.
    pub modseq: u64,
    /// The index of the first message without \Seen (IMAP4rev1 UNSEEN).
    pub first_unseen: Option<usize>,
    /// Every flag bit some message has (which keywords to name).
    pub all_flags: i64,
}

impl Loaded {
    fn new(msgs: Vec<MsgState>, modseq: u64) -> Loaded {
        Loaded {
            first_unseen: msgs
                .iter()
                .position(|m| m.flags & mailhost_store::folders::SEEN == 0),
            all_flags: msgs.iter().fold(0, |a, m| a | m.flags),
            msgs: Arc::new(msgs),
            modseq,
        }
    }
}

#[derive(Default)]
pub struct FolderCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<i64, Copy>,
    held: usize,
    tick: u64,
}

/// Applies `ch` to a list sorted by UID: changed and new messages by UID,
/// expunged ones removed.
pub fn apply(msgs: &mut Vec<MsgState>, ch: &Changes) {
    for c in &ch.changed {
        match msgs.binary_search_by_key(&c.uid, |m| m.uid) {
            Ok(i) => msgs[i] = *c,
            Err(i) if i == msgs.len() => msgs.push(*c),
            Err(i) => msgs.insert(i, *c),
        }
    }
    if !ch.expunged.is_empty() {
        let gone: HashSet<u32> = ch.expunged.iter().copied().collect();
        msgs.retain(|m| !gone.contains(&m.uid));
    }
}

impl FolderCache {
    /// The messages of `folder` (its row just read), shared with the
    /// cached copy when there is one: a session copies them only when it
    /// changes its view.
    pub async fn load(&self, store: &Store, folder: &Folder) -> mailhost_store::Result<Loaded> {
        let have = {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            g.tick += 1;
            let tick = g.tick;
            g.map.get_mut(&folder.id).map(|c| {
                c.used = tick;
                c.loaded.clone()
            })
        };
        let loaded = match have {
            Some(l) if l.modseq == folder.modseq => return Ok(l),
            Some(l) => match store.folder_changes(folder.id, l.modseq).await? {
                Some(ch) => {
                    let mut v = (*l.msgs).clone();
                    apply(&mut v, &ch);
                    Loaded::new(v, ch.folder.modseq.max(l.modseq))
                }
                None => return Ok(Loaded::new(Vec::new(), folder.modseq)),
            },
            None => Loaded::new(store.folder_messages(folder.id).await?, folder.modseq),
        };
        if loaded.msgs.len() >= MIN_CACHED {
            self.keep(folder.id, &loaded);
        }
        Ok(loaded)
    }

    fn keep(&self, folder: i64, loaded: &Loaded) {
        let n = loaded.msgs.len();
        if n > MAX_MESSAGES / 2 {
            return;
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.tick += 1;
        let tick = g.tick;
        if let Some(old) = g.map.remove(&folder) {
            g.held -= old.loaded.msgs.len();
        }
        while g.held + n > MAX_MESSAGES {
            let Some((&oldest, _)) = g.map.iter().min_by_key(|(_, c)| c.used) else {
                break;
            };
            if let Some(c) = g.map.remove(&oldest) {
                g.held -= c.loaded.msgs.len();
            }
        }
        g.held += n;
        g.map.insert(
            folder,
            Copy {
                loaded: loaded.clone(),
                used: tick,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(uid: u32, flags: i64, modseq: u64) -> MsgState {
        MsgState { uid, flags, modseq }
    }

    #[test]
    fn apply_is_idempotent() {
        let mut v = vec![m(1, 0, 1), m(2, 0, 2), m(5, 0, 3)];
        let ch = Changes {
            changed: vec![m(2, 1, 7), m(3, 0, 6), m(9, 0, 8)],
            expunged: vec![5, 4],
            ..Default::default()
        };
        apply(&mut v, &ch);
        let once = v.clone();
        apply(&mut v, &ch);
        assert_eq!(v, once);
        assert_eq!(v, vec![m(1, 0, 1), m(2, 1, 7), m(3, 0, 6), m(9, 0, 8)]);
    }
}
