//! Change notices for a node's IMAP sessions (IDLE, RFC 2177): whoever
//! changes a mailbox's mail on this node (a delivery, a POP3 deletion,
//! another IMAP session) wakes the sessions of that mailbox at once.
//! Sessions also look at the store now and then for what other nodes
//! changed; this only makes the common case immediate.

use crate::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Notifier {
    map: Mutex<HashMap<i64, Weak<Notify>>>,
}

impl Store {
    /// The notice of `account`'s changes; hold it while interested.
    pub fn watch(&self, account: i64) -> Arc<Notify> {
        let mut map = self.notifier.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get(&account).and_then(Weak::upgrade) {
            return n;
        }
        // Forget mailboxes nobody watches any more, every 256 new
        // entries (a Weak keeps its allocation until it is dropped).
        if map.len() >= 256 && map.len().is_multiple_of(256) {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let n = Arc::new(Notify::new());
        map.insert(account, Arc::downgrade(&n));
        n
    }

    /// Wakes the sessions watching `account`.
    pub fn changed(&self, account: i64) {
        let n = self
            .notifier
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&account)
            .and_then(Weak::upgrade);
        if let Some(n) = n {
            n.notify_waiters();
        }
    }
}
