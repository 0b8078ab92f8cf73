//! The bulk-mail window in memory (R-OUT-8): every node's index of the
//! content clusters and the recipients each has reached, built from the
//! store's log (`bulk_log`) at start and kept current by following it, so
//! that the end-of-DATA check reads no database.
//!
//! Memory: a recipient is a `(key, time)` pair of 16 bytes in its
//! cluster's vector; a cluster is one slab entry (its signature is most of
//! it) plus 16 band entries of 8 bytes in one hash map; accounts are
//! interned. `bench/policy.sh` measures the total per tracked recipient.
//!
//! Applying a log row is idempotent (a recipient keeps its latest time, a
//! cluster its latest row), so rows may be read twice: that is how a node
//! following PostgreSQL covers ids that commit out of order.

use crate::fingerprint::{customer_key, Fingerprint, BANDS};
use mailhost_store::{BulkRow, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Clusters counted together for one message (the best matches).
pub const MAX_MATCHES: usize = 8;

pub struct BulkIndex {
    window_ms: i64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Clusters in a slab, found by key through `by_key`.
    slots: Vec<Option<Cluster>>,
    free: Vec<u32>,
    by_key: HashMap<i64, u32>,
    /// Band key (its low 32 bits: a collision only adds a candidate that
    /// the signature check removes) to a slot, or to `MANY | i` for the
    /// slots in `many[i]`.
    bands: HashMap<u32, u32>,
    many: Vec<Vec<u32>>,
    many_free: Vec<u32>,
    /// Account names, interned.
    accounts: Vec<String>,
    account_ids: HashMap<String, u32>,
    /// The highest log id applied.
    cursor: i64,
}

const MANY: u32 = 1 << 31;

struct Cluster {
    key: i64,
    customer: u64,
    /// The signature, once the cluster's row is seen (a send may be read
    /// first).
    fp: Option<Fingerprint>,
    /// Time of the cluster's latest log row.
    row_at: i64,
    last_at: i64,
    rcpts: Vec<(i64, i64)>,
    senders: Vec<(u32, i64)>,
}

impl Inner {
    fn slot_of(&mut self, key: i64) -> u32 {
        if let Some(s) = self.by_key.get(&key) {
            return *s;
        }
        let c = Cluster { key, customer: 0, fp: None, row_at: i64::MIN, last_at: i64::MIN, rcpts: Vec::new(), senders: Vec::new() };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(c);
                s
            }
            None => {
                self.slots.push(Some(c));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_key.insert(key, slot);
        slot
    }

    fn cluster(&self, slot: u32) -> Option<&Cluster> {
        self.slots.get(slot as usize).and_then(|c| c.as_ref())
    }

    fn by_key(&self, key: i64) -> Option<&Cluster> {
        self.by_key.get(&key).and_then(|s| self.cluster(*s))
    }

    fn band_slots(&self, band: i64) -> &[u32] {
        match self.bands.get(&(band as u32)) {
            None => &[],
            Some(v) if v & MANY != 0 => &self.many[(v & !MANY) as usize],
            Some(v) => std::slice::from_ref(v),
        }
    }

    fn band_add(&mut self, band: i64, slot: u32) {
        let b = band as u32;
        match self.bands.get(&b).copied() {
            None => {
                self.bands.insert(b, slot);
            }
            Some(v) if v & MANY != 0 => self.many[(v & !MANY) as usize].push(slot),
            Some(v) => {
                let list = vec![v, slot];
                let i = match self.many_free.pop() {
                    Some(i) => {
                        self.many[i as usize] = list;
                        i
                    }
                    None => {
                        self.many.push(list);
                        (self.many.len() - 1) as u32
                    }
                };
                self.bands.insert(b, MANY | i);
            }
        }
    }

    fn band_remove(&mut self, band: i64, slot: u32) {
        let b = band as u32;
        match self.bands.get(&b).copied() {
            Some(v) if v & MANY != 0 => {
                let i = (v & !MANY) as usize;
                self.many[i].retain(|s| *s != slot);
                if self.many[i].len() == 1 {
                    let only = self.many[i][0];
                    self.many[i] = Vec::new();
                    self.many_free.push(i as u32);
                    self.bands.insert(b, only);
                }
            }
            Some(v) if v == slot => {
                self.bands.remove(&b);
            }
            _ => {}
        }
    }

    fn account_id(&mut self, a: &str) -> u32 {
        if let Some(i) = self.account_ids.get(a) {
            return *i;
        }
        self.accounts.push(a.to_string());
        let i = (self.accounts.len() - 1) as u32;
        self.account_ids.insert(a.to_string(), i);
        i
    }
}

impl BulkIndex {
    pub fn new(window: Duration) -> BulkIndex {
        BulkIndex { window_ms: window.as_millis() as i64, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The customer's clusters active since `since` whose content is at
    /// least `similarity` alike, best first (their keys).
    pub fn matches(&self, customer: &str, fp: &Fingerprint, bands: &[i64; BANDS], similarity: f64, since: i64) -> Vec<i64> {
        let c = customer_key(customer);
        let g = self.lock();
        let mut seen = HashSet::new();
        let mut out: Vec<(f64, i64)> = Vec::new();
        for b in bands {
            for slot in g.band_slots(*b) {
                if !seen.insert(*slot) {
                    continue;
                }
                let Some(cl) = g.cluster(*slot) else { continue };
                let Some(f) = &cl.fp else { continue };
                if cl.customer != c || cl.last_at < since {
                    continue;
                }
                let s = f.similarity(fp);
                if s >= similarity {
                    out.push((s, cl.key));
                }
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.truncate(MAX_MATCHES);
        out.into_iter().map(|m| m.1).collect()
    }

    /// Distinct recipients the clusters reached since `since`, together
    /// with `rcpts`.
    pub fn reach(&self, ids: &[i64], since: i64, rcpts: &[i64]) -> i64 {
        let g = self.lock();
        let mut all: HashSet<i64> = rcpts.iter().copied().collect();
        for cl in ids.iter().filter_map(|id| g.by_key(*id)) {
            all.extend(cl.rcpts.iter().filter(|(_, at)| *at >= since).map(|(k, _)| *k));
        }
        all.len() as i64
    }

    /// The accounts that sent the clusters' content since `since`.
    pub fn senders(&self, ids: &[i64], since: i64) -> Vec<String> {
        let g = self.lock();
        let mut out: Vec<String> = ids
            .iter()
            .filter_map(|id| g.by_key(*id))
            .flat_map(|cl| cl.senders.iter().filter(|(_, at)| *at >= since).map(|(a, _)| g.accounts[*a as usize].clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether a send of this cluster at `now` must introduce the cluster
    /// in the log (new content, or its introduction is half a window old).
    pub fn needs_intro(&self, cluster: i64, now: i64) -> bool {
        match self.lock().by_key(cluster) {
            Some(cl) => cl.fp.is_none() || cl.row_at < now - self.window_ms / 2,
            None => true,
        }
    }

    pub fn add_cluster(&self, cluster: i64, customer: &str, fp: Fingerprint, at: i64) {
        let cust = customer_key(customer);
        let bands = fp.bands_for_key(cust);
        let mut g = self.lock();
        let slot = g.slot_of(cluster);
        let Some(cl) = g.slots[slot as usize].as_mut() else { return };
        cl.customer = cust;
        cl.row_at = cl.row_at.max(at);
        cl.last_at = cl.last_at.max(at);
        if cl.fp.is_none() {
            cl.fp = Some(fp);
            for b in bands {
                g.band_add(b, slot);
            }
        }
    }

    pub fn add_send(&self, cluster: i64, account: &str, rcpts: &[i64], at: i64) {
        let mut g = self.lock();
        let acct = g.account_id(account);
        let slot = g.slot_of(cluster);
        let Some(cl) = g.slots[slot as usize].as_mut() else { return };
        cl.last_at = cl.last_at.max(at);
        for r in rcpts {
            match cl.rcpts.iter_mut().find(|(k, _)| k == r) {
                Some((_, t)) => *t = (*t).max(at),
                None => cl.rcpts.push((*r, at)),
            }
        }
        match cl.senders.iter_mut().find(|(a, _)| *a == acct) {
            Some((_, t)) => *t = (*t).max(at),
            None => cl.senders.push((acct, at)),
        }
    }

    /// Learns what this node just committed (the log has it too; reading
    /// it again later changes nothing).
    pub fn learn(&self, t: &mailhost_store::BulkTrack) {
        if let Some((customer, sig)) = &t.intro {
            if let Some(fp) = Fingerprint::from_bytes(sig) {
                self.add_cluster(t.cluster, customer, fp, t.at);
            }
        }
        self.add_send(t.cluster, &t.account, &t.rcpts, t.at);
    }

    fn apply(&self, r: &BulkRow) {
        if let Some((customer, sig)) = &r.intro {
            if let Some(fp) = Fingerprint::from_bytes(sig) {
                self.add_cluster(r.cluster, customer, fp, r.at);
            }
        }
        self.add_send(r.cluster, &r.account, &r.rcpts, r.at);
        let mut g = self.lock();
        g.cursor = g.cursor.max(r.id);
    }

    /// Forgets what left the window before `now`.
    pub fn prune(&self, now: i64) {
        let since = now - self.window_ms;
        let mut g = self.lock();
        let mut gone = Vec::new();
        for (slot, c) in g.slots.iter_mut().enumerate() {
            let Some(cl) = c else { continue };
            if cl.last_at < since {
                gone.push(slot as u32);
                continue;
            }
            let n = cl.rcpts.len();
            cl.rcpts.retain(|(_, at)| *at >= since);
            cl.senders.retain(|(_, at)| *at >= since);
            if cl.rcpts.len() < n {
                cl.rcpts.shrink_to_fit();
            }
        }
        for slot in gone {
            let Some(cl) = g.slots[slot as usize].take() else { continue };
            g.by_key.remove(&cl.key);
            if let Some(fp) = &cl.fp {
                // Band keys are recomputed from the signature: the index
                // keeps no copy of them.
                for b in fp.bands_for_key(cl.customer) {
                    g.band_remove(b, slot);
                }
            }
            g.free.push(slot);
        }
    }

    /// (clusters, tracked recipients) in memory.
    pub fn size(&self) -> (usize, usize) {
        let g = self.lock();
        (g.by_key.len(), g.slots.iter().flatten().map(|c| c.rcpts.len()).sum())
    }

    /// Reads the store's log from where this index stands. `lookback`
    /// re-reads that many ids before the cursor (PostgreSQL may commit ids
    /// out of order when several nodes write). Rows up to 1.5 windows old
    /// are read for the clusters they introduce; recipients older than the
    /// window are then pruned. Returns the rows applied.
    pub async fn follow(&self, store: &Store, lookback: i64, now: i64) -> mailhost_store::Result<usize> {
        const PAGE: i64 = 10_000;
        let mut applied = 0;
        let mut after = (self.lock().cursor - lookback).max(0);
        loop {
            let rows = store.bulk_log_after(after, now - self.window_ms * 3 / 2, PAGE).await?;
            for r in &rows {
                self.apply(r);
            }
            applied += rows.len();
            match rows.last() {
                Some(r) if rows.len() as i64 == PAGE => after = r.id,
                _ => break,
            }
        }
        Ok(applied)
    }
}

/// Keeps a node's index current (R-OUT-8): loads the window, follows the
/// logs, and prunes memory and logs a few times per window. Runs inside
/// `serve` until `stop`.
pub async fn follow_bulk_window(store: Store, index: std::sync::Arc<BulkIndex>, stop: tokio_util::sync::CancellationToken) {
    let window = Duration::from_millis(index.window_ms as u64);
    let lookback = if store.backend_name() == "postgres" { 1000 } else { 0 };
    let poll = (window / 8).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let prune_every = (window / 8).clamp(Duration::from_secs(1), Duration::from_secs(600));
    let mut last_prune = std::time::Instant::now();
    loop {
        let now = mailhost_store::now_ms();
        if let Err(e) = index.follow(&store, lookback, now).await {
            tracing::warn!("following the bulk window: {e}");
        }
        if last_prune.elapsed() >= prune_every {
            last_prune = std::time::Instant::now();
            index.prune(now);
            let w = index.window_ms;
            if let Err(e) = store.bulk_prune(now - w * 3 / 2).await {
                tracing::warn!("pruning the bulk window: {e}");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(t: &str) -> Fingerprint {
        Fingerprint::of_text("s", t)
    }

    const A: &str = "the quick brown fox jumps over the lazy dog near the river bank on a sunny day";
    const B: &str = "completely unrelated words about invoices payments and the quarterly tax report";

    #[test]
    fn match_reach_senders() {
        let ix = BulkIndex::new(Duration::from_secs(100));
        let f = fp(A);
        ix.add_cluster(1, "cust", f.clone(), 1000);
        ix.add_send(1, "a@x", &[10, 11], 1000);
        ix.add_send(1, "b@x", &[11, 12], 2000);
        let bands = f.bands("cust");
        assert_eq!(ix.matches("cust", &f, &bands, 0.5, 0), [1]);
        assert!(ix.matches("other", &f, &f.bands("other"), 0.5, 0).is_empty(), "per customer");
        let g = fp(B);
        assert!(ix.matches("cust", &g, &g.bands("cust"), 0.5, 0).is_empty(), "different content");
        assert!(ix.matches("cust", &f, &bands, 0.5, 3000).is_empty(), "outside the window");
        assert_eq!(ix.reach(&[1], 0, &[12, 13]), 4);
        assert_eq!(ix.reach(&[1], 1500, &[]), 2, "only recent recipients");
        assert_eq!(ix.senders(&[1], 0), ["a@x", "b@x"]);
        assert_eq!(ix.senders(&[1], 1500), ["b@x"]);
        assert!(!ix.needs_intro(1, 1000));
        assert!(ix.needs_intro(1, 1000 + 50_001), "introduced again after half a window");
        assert!(ix.needs_intro(2, 1000));
    }

    #[test]
    fn rows_apply_in_any_order_and_twice() {
        let ix = BulkIndex::new(Duration::from_secs(100));
        let f = fp(A);
        // The send first, then its cluster row, then both again.
        ix.add_send(7, "a@x", &[1, 2], 500);
        assert!(ix.matches("cust", &f, &f.bands("cust"), 0.5, 0).is_empty());
        ix.add_cluster(7, "cust", f.clone(), 400);
        ix.add_cluster(7, "cust", f.clone(), 400);
        ix.add_send(7, "a@x", &[1, 2], 500);
        assert_eq!(ix.matches("cust", &f, &f.bands("cust"), 0.5, 0), [7]);
        assert_eq!(ix.reach(&[7], 0, &[]), 2);
        assert_eq!(ix.size(), (1, 2));
    }

    #[test]
    fn prune_forgets_old() {
        let ix = BulkIndex::new(Duration::from_secs(10));
        let f = fp(A);
        ix.add_cluster(1, "c", f.clone(), 0);
        ix.add_send(1, "a@x", &[1], 0);
        ix.add_cluster(2, "c", fp(B), 0);
        ix.add_send(2, "a@x", &[2], 0);
        ix.add_send(2, "b@x", &[3], 9_000);
        ix.prune(12_000);
        assert_eq!(ix.size(), (1, 1));
        assert!(ix.matches("c", &f, &f.bands("c"), 0.5, 0).is_empty());
        assert_eq!(ix.senders(&[2], 0), ["b@x"]);
    }

    #[tokio::test]
    async fn follows_the_store() {
        use mailhost_store::{BulkTrack, NewMessage, Resolved};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        store.domain_add("a.example", "c@a.example", None).await.unwrap();
        store.user_add("u@a.example", "pw-123456", None, None).await.unwrap();
        let Resolved::Deliver(m) = store.resolve("u@a.example").await.unwrap() else { panic!() };
        let now = mailhost_store::now_ms();
        let f = fp(A);
        for (row, rcpts) in [(true, vec![1, 2]), (false, vec![3])] {
            let track = BulkTrack {
                cluster: 42,
                intro: row.then(|| ("c@a.example".to_string(), f.to_bytes())),
                account: "u@a.example".into(),
                rcpts,
                at: now,
            };
            let msg = NewMessage { body: b"x".to_vec(), deliveries: vec![(m[0].id, vec![])], bulk: Some(track), ..Default::default() };
            store.deliver(msg).await.unwrap();
        }
        // Another node: starts empty, loads the window from the logs.
        let ix = BulkIndex::new(Duration::from_secs(3600));
        assert_eq!(ix.follow(&store, 0, now).await.unwrap(), 2);
        assert_eq!(ix.matches("c@a.example", &f, &f.bands("c@a.example"), 0.5, 0), [42]);
        assert_eq!(ix.reach(&[42], 0, &[]), 3);
        assert_eq!(ix.follow(&store, 0, now).await.unwrap(), 0, "nothing new");
        assert_eq!(ix.follow(&store, 10, now).await.unwrap(), 2, "a lookback re-reads, harmlessly");
        assert_eq!(ix.reach(&[42], 0, &[]), 3);
    }
}
