//! The bulk-mail window in memory (R-OUT-8): every node's index of the
//! content clusters and the recipients each has reached, built from the
//! store's log (`bulk_log`) at start and kept current by following it, so
//! that the end-of-DATA check reads no database.
//!
//! Memory, for windows of millions of recipients: most mail is personal,
//! one piece of content to one person, so a cluster with one recipient is
//! what must be small. It is an 80-byte slab entry holding the first
//! recipient and sender inline and one byte per MinHash value, plus 13
//! four-byte cells in two keyless hash tables (12 LSH bands and its key)
//! at a load of 0.7 to 0.9: about 150 bytes in all. Further recipients cost 8 bytes each (a 32-bit
//! key and a 100 ms tick). Accounts and customers are interned.
//! `bench/policy.sh` measures the total per tracked recipient.
//!
//! Applying a log row is idempotent (a recipient keeps its latest time, a
//! cluster its latest row), so rows may be read twice: that is how a node
//! following PostgreSQL covers ids that commit out of order.

use crate::fingerprint::{customer_key, mix, Fingerprint, K};
use mailhost_store::{BulkRow, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Clusters counted together for one message (the best matches).
pub const MAX_MATCHES: usize = 8;
/// LSH bands of the index, two signature bytes each, from the first 24 of
/// the 32: a pair of messages alike at s shares a band with probability
/// 1-(1-s²)^12, 97% at s = 0.5 and 99.97% at 0.7 (personalised copies of
/// one campaign are 0.8 and more, and a copy needs to find one earlier
/// copy of many). All 32 bytes are compared once found. Twelve bands
/// rather than sixteen save 20 bytes per piece of content.
const BANDS: usize = 12;
/// Times are kept in ticks of this many milliseconds, as u32 counted from
/// the index's base: 13 years of uptime, at a precision that does not
/// matter for windows of seconds to days.
const TICK_MS: i64 = 100;

pub struct BulkIndex {
    window_ms: i64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Clusters in a slab; `free` lists the unused slots.
    clusters: Vec<Cluster>,
    free: Vec<u32>,
    /// Cluster key → slot.
    by_key: SlotTable,
    /// LSH band → slots, for clusters with a signature.
    bands: SlotTable,
    /// Customers (their 64-bit keys) and accounts, interned.
    customers: Vec<u64>,
    customer_ids: HashMap<u64, u32>,
    accounts: Vec<String>,
    account_ids: HashMap<String, u32>,
    /// The time that tick 0 stands for, set by the first time seen.
    base_ms: Option<i64>,
    /// The highest log id applied.
    cursor: i64,
}

/// One piece of content of one customer and whom it reached: 80 bytes,
/// with the first recipient and sender inline because most content goes
/// to one person; more go to `more`.
struct Cluster {
    key: i64,
    flags: u32,
    customer: u32,
    /// Ticks of the cluster's latest log row and latest send.
    row_at: u32,
    last_at: u32,
    /// The low byte of each MinHash value (b-bit minwise hashing, Li and
    /// König 2010): two unrelated values agree by chance one time in 256,
    /// which moves a similarity by less than 0.4%, for a quarter of the
    /// memory.
    sig: [u8; K],
    rcpt: Stamp,
    sender: Stamp,
    more: Option<Box<More>>,
}

const IN_USE: u32 = 1;
const SIGNED: u32 = 2;

/// A recipient key (its low 32 bits: a collision merges two recipients
/// of one count, about once in four billion pairs) or an account, with
/// the tick it was last seen; tick 0 means none.
#[derive(Clone, Copy, Default, PartialEq)]
struct Stamp {
    id: u32,
    at: u32,
}

#[derive(Default)]
struct More {
    rcpts: Vec<Stamp>,
    senders: Vec<Stamp>,
}

impl Cluster {
    fn empty(key: i64) -> Cluster {
        Cluster {
            key,
            flags: IN_USE,
            customer: 0,
            row_at: 0,
            last_at: 0,
            sig: [0; K],
            rcpt: Stamp::default(),
            sender: Stamp::default(),
            more: None,
        }
    }

    fn rcpts(&self) -> impl Iterator<Item = &Stamp> {
        std::iter::once(&self.rcpt)
            .filter(|s| s.at != 0)
            .chain(self.more.iter().flat_map(|m| m.rcpts.iter()))
    }

    fn senders(&self) -> impl Iterator<Item = &Stamp> {
        std::iter::once(&self.sender)
            .filter(|s| s.at != 0)
            .chain(self.more.iter().flat_map(|m| m.senders.iter()))
    }

    /// Records `id` at `at` in the inline stamp or in `more`'s list: one
    /// stamp per id, keeping its latest time.
    fn stamp(
        inline: &mut Stamp,
        more: &mut Option<Box<More>>,
        list: fn(&mut More) -> &mut Vec<Stamp>,
        id: u32,
        at: u32,
    ) {
        if inline.at == 0 || inline.id == id {
            if inline.at < at {
                *inline = Stamp { id, at };
            }
            return;
        }
        let list = list(more.get_or_insert_with(Default::default));
        match list.iter_mut().find(|s| s.id == id) {
            Some(s) => s.at = s.at.max(at),
            None => list.push(Stamp { id, at }),
        }
    }

    fn similarity(&self, sig: &[u8; K]) -> f64 {
        self.sig.iter().zip(sig).filter(|(a, b)| a == b).count() as f64 / K as f64
    }

    /// Drops stamps older than `since`.
    fn retain(&mut self, since: u32) {
        fn keep(inline: &mut Stamp, list: &mut Vec<Stamp>, since: u32) {
            list.retain(|s| s.at >= since);
            if inline.at < since {
                *inline = list.pop().unwrap_or_default();
            }
            if list.len() < list.capacity() / 2 {
                list.shrink_to_fit();
            }
        }
        let mut m = self.more.take().unwrap_or_default();
        keep(&mut self.rcpt, &mut m.rcpts, since);
        keep(&mut self.sender, &mut m.senders, since);
        if !(m.rcpts.is_empty() && m.senders.is_empty()) {
            self.more = Some(m);
        }
    }
}

/// The signature bytes kept for a fingerprint.
fn sig_of(fp: &Fingerprint) -> [u8; K] {
    fp.mins.map(|v| v as u8)
}

/// The signature as `bulk_log` stores it: the index's 32 bytes, all any
/// node reads back.
pub fn log_signature(fp: &Fingerprint) -> Vec<u8> {
    sig_of(fp).to_vec()
}

/// A signature from the log: 32 bytes, or a whole fingerprint (128 bytes,
/// as logged before the index kept one byte per value).
fn sig_from_log(b: &[u8]) -> Option<[u8; K]> {
    match b.len() {
        K => b.try_into().ok(),
        _ => Fingerprint::from_bytes(b).map(|f| sig_of(&f)),
    }
}

/// The LSH keys of a signature within one customer's mail.
fn band_hashes(customer: u64, sig: &[u8; K]) -> [u64; BANDS] {
    std::array::from_fn(|b| {
        mix(
            mix(customer ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                ^ (sig[2 * b] as u64 | (sig[2 * b + 1] as u64) << 8),
        )
    })
}

fn key_hash(key: i64) -> u64 {
    mix(key as u64 ^ 0x5bd1_e995)
}

/// A multimap from 64-bit hashes to slots that stores neither the hashes
/// nor the keys: four bytes per entry, a slot and six bits of its hash.
/// Every slot found is a candidate that the caller checks against the
/// cluster itself (its key, or its customer and signature), so the table
/// needs no more. Linear probing over one array (a lookup reads the run of
/// cells from the hash's position to the next empty one, mostly one cache
/// line); removal leaves a tombstone, and the table is rebuilt from the
/// clusters when it fills (load 0.9) or when tombstones pile up.
#[derive(Default)]
struct SlotTable {
    cells: Vec<u32>,
    live: usize,
    dead: usize,
}

const EMPTY: u32 = 0;
const DEAD: u32 = 1;
const TAG_BITS: u32 = 6;
/// Slots the table can name (67 million clusters, 5 GB of index).
const MAX_SLOT: u32 = (u32::MAX >> TAG_BITS) - 1;

impl SlotTable {
    fn with_capacity(entries: usize) -> SlotTable {
        // Rebuilt to a load of 0.7, so that a rebuild is followed by 28%
        // growth before the next. Linear probing stays fast up to 0.9
        // here: a lookup reads every cell of its run anyway (about 50 at
        // 0.9, in a few cache lines), and the tag skips most foreign ones.
        SlotTable {
            cells: vec![EMPTY; (entries * 10 / 7).max(64)],
            live: 0,
            dead: 0,
        }
    }

    fn cell(h: u64, slot: u32) -> u32 {
        (slot + 1) << TAG_BITS | (h as u32 & ((1 << TAG_BITS) - 1))
    }

    /// Lemire's multiply-shift range reduction: any table size works.
    fn home(&self, h: u64) -> usize {
        ((h as u128 * self.cells.len() as u128) >> 64) as usize
    }

    /// Whether `n` more entries would fill the table past its load limit.
    fn needs_room(&self, n: usize) -> bool {
        (self.live + self.dead + n) * 10 > self.cells.len() * 9
    }

    /// Inserts; the caller rebuilds first when [`SlotTable::needs_room`].
    fn insert(&mut self, h: u64, slot: u32) {
        let n = self.cells.len();
        let mut i = self.home(h);
        while self.cells[i] > DEAD {
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        if self.cells[i] == DEAD {
            self.dead -= 1;
        }
        self.cells[i] = Self::cell(h, slot);
        self.live += 1;
    }

    fn remove(&mut self, h: u64, slot: u32) {
        let n = self.cells.len();
        if n == 0 {
            return;
        }
        let want = Self::cell(h, slot);
        let mut i = self.home(h);
        while self.cells[i] != EMPTY {
            if self.cells[i] == want {
                self.cells[i] = DEAD;
                self.live -= 1;
                self.dead += 1;
                return;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Calls `f` with every slot filed under a hash like `h`.
    fn candidates(&self, h: u64, mut f: impl FnMut(u32)) {
        let n = self.cells.len();
        if n == 0 {
            return;
        }
        let tag = h as u32 & ((1 << TAG_BITS) - 1);
        let mut i = self.home(h);
        loop {
            let c = self.cells[i];
            if c == EMPTY {
                return;
            }
            if c != DEAD && c & ((1 << TAG_BITS) - 1) == tag {
                f((c >> TAG_BITS) - 1);
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }
}

impl Inner {
    fn tick(&mut self, ms: i64, window_ms: i64) -> u32 {
        let base = *self.base_ms.get_or_insert(ms - 2 * window_ms);
        (((ms - base).max(0) / TICK_MS) + 1).min(u32::MAX as i64) as u32
    }

    /// The first tick at or after `ms` (0 before the base: everything).
    fn since(&self, ms: i64) -> u32 {
        match self.base_ms {
            Some(base) if ms > base => {
                (((ms - base) + TICK_MS - 1) / TICK_MS + 1).min(u32::MAX as i64) as u32
            }
            _ => 0,
        }
    }

    fn find(&self, key: i64) -> Option<u32> {
        let mut found = None;
        self.by_key.candidates(key_hash(key), |s| {
            if found.is_none()
                && self.clusters[s as usize].flags & IN_USE != 0
                && self.clusters[s as usize].key == key
            {
                found = Some(s);
            }
        });
        found
    }

    fn cluster(&self, key: i64) -> Option<&Cluster> {
        self.find(key).map(|s| &self.clusters[s as usize])
    }

    fn slot_of(&mut self, key: i64) -> Option<u32> {
        if let Some(s) = self.find(key) {
            return Some(s);
        }
        if self.by_key.needs_room(1) {
            // Before the new cluster is in the slab: the rebuild files
            // every cluster that is.
            self.rebuild_keys(self.by_key.live + 1);
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.clusters[s as usize] = Cluster::empty(key);
                s
            }
            None if self.clusters.len() as u32 > MAX_SLOT => return None,
            None => {
                self.clusters.push(Cluster::empty(key));
                (self.clusters.len() - 1) as u32
            }
        };
        self.by_key.insert(key_hash(key), slot);
        Some(slot)
    }

    fn rebuild_keys(&mut self, entries: usize) {
        let mut t = SlotTable::with_capacity(entries);
        for (s, c) in self.clusters.iter().enumerate() {
            if c.flags & IN_USE != 0 {
                t.insert(key_hash(c.key), s as u32);
            }
        }
        self.by_key = t;
    }

    fn rebuild_bands(&mut self, entries: usize) {
        let mut t = SlotTable::with_capacity(entries);
        for (s, c) in self.clusters.iter().enumerate() {
            if c.flags & (IN_USE | SIGNED) == IN_USE | SIGNED {
                for h in band_hashes(self.customers[c.customer as usize], &c.sig) {
                    t.insert(h, s as u32);
                }
            }
        }
        self.bands = t;
    }

    fn intern_customer(&mut self, c: u64) -> u32 {
        if let Some(i) = self.customer_ids.get(&c) {
            return *i;
        }
        self.customers.push(c);
        let i = (self.customers.len() - 1) as u32;
        self.customer_ids.insert(c, i);
        i
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

    fn remove(&mut self, slot: u32) {
        let c = &self.clusters[slot as usize];
        let (key, signed) = (c.key, c.flags & SIGNED != 0);
        if signed {
            // Band keys are recomputed from the signature: the index keeps
            // no copy of them.
            for h in band_hashes(self.customers[c.customer as usize], &c.sig) {
                self.bands.remove(h, slot);
            }
        }
        self.by_key.remove(key_hash(key), slot);
        self.clusters[slot as usize] = Cluster {
            flags: 0,
            ..Cluster::empty(0)
        };
        self.free.push(slot);
    }
}

impl BulkIndex {
    pub fn new(window: Duration) -> BulkIndex {
        BulkIndex {
            window_ms: window.as_millis() as i64,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The customer's clusters active since `since` whose content is at
    /// least `similarity` alike, best first (their keys).
    pub fn matches(
        &self,
        customer: &str,
        fp: &Fingerprint,
        similarity: f64,
        since: i64,
    ) -> Vec<i64> {
        let g = self.lock();
        let ckey = customer_key(customer);
        let Some(&cust) = g.customer_ids.get(&ckey) else {
            return Vec::new();
        };
        let sig = sig_of(fp);
        let since = g.since(since);
        let mut seen = Vec::new();
        let mut out: Vec<(f64, i64)> = Vec::new();
        for h in band_hashes(ckey, &sig) {
            g.bands.candidates(h, |slot| {
                if seen.contains(&slot) {
                    return;
                }
                seen.push(slot);
                let cl = &g.clusters[slot as usize];
                if cl.flags & (IN_USE | SIGNED) != IN_USE | SIGNED
                    || cl.customer != cust
                    || cl.last_at < since
                {
                    return;
                }
                let s = cl.similarity(&sig);
                if s >= similarity {
                    out.push((s, cl.key));
                }
            });
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.truncate(MAX_MATCHES);
        out.into_iter().map(|m| m.1).collect()
    }

    /// Distinct recipients the clusters reached since `since`, together
    /// with `rcpts`.
    pub fn reach(&self, ids: &[i64], since: i64, rcpts: &[i64]) -> i64 {
        let g = self.lock();
        let since = g.since(since);
        let mut all: HashSet<u32> = rcpts.iter().map(|r| *r as u32).collect();
        for cl in ids.iter().filter_map(|id| g.cluster(*id)) {
            all.extend(cl.rcpts().filter(|s| s.at >= since).map(|s| s.id));
        }
        all.len() as i64
    }

    /// The accounts that sent the clusters' content since `since`.
    pub fn senders(&self, ids: &[i64], since: i64) -> Vec<String> {
        let g = self.lock();
        let since = g.since(since);
        let mut out: Vec<String> = ids
            .iter()
            .filter_map(|id| g.cluster(*id))
            .flat_map(|cl| {
                cl.senders()
                    .filter(|s| s.at >= since)
                    .map(|s| g.accounts[s.id as usize].clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether a send of this cluster at `now` must introduce the cluster
    /// in the log (new content, or its introduction is half a window old).
    pub fn needs_intro(&self, cluster: i64, now: i64) -> bool {
        let g = self.lock();
        match g.cluster(cluster) {
            Some(cl) => cl.flags & SIGNED == 0 || cl.row_at < g.since(now - self.window_ms / 2),
            None => true,
        }
    }

    pub fn add_cluster(&self, cluster: i64, customer: &str, fp: Fingerprint, at: i64) {
        self.add_signed(cluster, customer, sig_of(&fp), at)
    }

    fn add_signed(&self, cluster: i64, customer: &str, sig: [u8; K], at: i64) {
        let ckey = customer_key(customer);
        let mut guard = self.lock();
        let g = &mut *guard;
        let at = g.tick(at, self.window_ms);
        let cust = g.intern_customer(ckey);
        let Some(slot) = g.slot_of(cluster) else {
            return;
        };
        let cl = &mut g.clusters[slot as usize];
        cl.row_at = cl.row_at.max(at);
        cl.last_at = cl.last_at.max(at);
        if cl.flags & SIGNED != 0 {
            return;
        }
        if g.bands.needs_room(BANDS) {
            // Before this cluster is signed: the rebuild files every
            // cluster that is.
            g.rebuild_bands(g.bands.live + BANDS);
        }
        let cl = &mut g.clusters[slot as usize];
        cl.flags |= SIGNED;
        cl.customer = cust;
        cl.sig = sig;
        for h in band_hashes(ckey, &sig) {
            g.bands.insert(h, slot);
        }
    }

    pub fn add_send(&self, cluster: i64, account: &str, rcpts: &[i64], at: i64) {
        let mut g = self.lock();
        let at = g.tick(at, self.window_ms);
        let acct = g.account_id(account);
        let Some(slot) = g.slot_of(cluster) else {
            return;
        };
        let cl = &mut g.clusters[slot as usize];
        cl.last_at = cl.last_at.max(at);
        for r in rcpts {
            Cluster::stamp(&mut cl.rcpt, &mut cl.more, |m| &mut m.rcpts, *r as u32, at);
        }
        Cluster::stamp(&mut cl.sender, &mut cl.more, |m| &mut m.senders, acct, at);
    }
    /// Learns what this node just committed (the log has it too; reading
    /// it again later changes nothing).
    pub fn learn(&self, t: &mailhost_store::BulkTrack) {
        if let Some((customer, sig)) = &t.intro {
            if let Some(sig) = sig_from_log(sig) {
                self.add_signed(t.cluster, customer, sig, t.at);
            }
        }
        self.add_send(t.cluster, &t.account, &t.rcpts, t.at);
    }

    fn apply(&self, r: &BulkRow) {
        if let Some((customer, sig)) = &r.intro {
            if let Some(sig) = sig_from_log(sig) {
                self.add_signed(r.cluster, customer, sig, r.at);
            }
        }
        self.add_send(r.cluster, &r.account, &r.rcpts, r.at);
        let mut g = self.lock();
        g.cursor = g.cursor.max(r.id);
    }

    /// Forgets what left the window before `now`.
    pub fn prune(&self, now: i64) {
        let mut guard = self.lock();
        let g = &mut *guard;
        let since = g.since(now - self.window_ms);
        let mut gone = Vec::new();
        for (slot, cl) in g.clusters.iter_mut().enumerate() {
            if cl.flags & IN_USE == 0 {
                continue;
            }
            if cl.last_at < since {
                gone.push(slot as u32);
            } else {
                cl.retain(since);
            }
        }
        for slot in gone {
            g.remove(slot);
        }
        // Tombstones slow lookups down: past a third of the table, rebuild.
        if g.bands.dead * 3 > g.bands.cells.len() {
            g.rebuild_bands(g.bands.live);
        }
        if g.by_key.dead * 3 > g.by_key.cells.len() {
            g.rebuild_keys(g.by_key.live);
        }
    }

    /// (clusters, tracked recipients) in memory.
    pub fn size(&self) -> (usize, usize) {
        let g = self.lock();
        let live = g.clusters.iter().filter(|c| c.flags & IN_USE != 0);
        (g.by_key.live, live.map(|c| c.rcpts().count()).sum())
    }

    /// Loads the window from the store's log, with room made first for the
    /// clusters it introduces (growing the tables one step at a time
    /// would file every band several times over).
    pub async fn load(&self, store: &Store, now: i64) -> mailhost_store::Result<usize> {
        let intros = store
            .bulk_intros(now - self.window_ms * 3 / 2)
            .await?
            .max(0) as usize;
        {
            let mut g = self.lock();
            let g = &mut *g;
            g.clusters.reserve(intros);
            if g.bands.needs_room(intros * BANDS) {
                g.rebuild_bands(g.bands.live + intros * BANDS);
            }
            if g.by_key.needs_room(intros) {
                g.rebuild_keys(g.by_key.live + intros);
            }
        }
        self.follow(store, 0, now).await
    }

    /// Reads the store's log from where this index stands. `lookback`
    /// re-reads that many ids before the cursor (PostgreSQL may commit ids
    /// out of order when several nodes write). Rows up to 1.5 windows old
    /// are read for the clusters they introduce; recipients older than the
    /// window are then pruned. Returns the rows applied.
    pub async fn follow(
        &self,
        store: &Store,
        lookback: i64,
        now: i64,
    ) -> mailhost_store::Result<usize> {
        const PAGE: i64 = 10_000;
        let mut applied = 0;
        let mut after = (self.lock().cursor - lookback).max(0);
        loop {
            let rows = store
                .bulk_log_after(after, now - self.window_ms * 3 / 2, PAGE)
                .await?;
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

/// Keeps a node's index current (R-OUT-8): follows the log, and prunes
/// memory and the log a few times per window. Without `track` (the rules
/// are off on this node) it only prunes the log, which other nodes may
/// still write. Runs inside `serve` until `stop`.
pub async fn follow_bulk_window(
    store: Store,
    index: std::sync::Arc<BulkIndex>,
    track: bool,
    stop: tokio_util::sync::CancellationToken,
) {
    let window = Duration::from_millis(index.window_ms as u64);
    let lookback = if store.backend_name() == "postgres" {
        1000
    } else {
        0
    };
    let poll = (window / 8).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let prune_every = (window / 8).clamp(Duration::from_secs(1), Duration::from_secs(600));
    let mut last_prune = std::time::Instant::now();
    loop {
        let now = mailhost_store::now_ms();
        if track {
            if let Err(e) = index.follow(&store, lookback, now).await {
                tracing::warn!("following the bulk window: {e}");
            }
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

    const A: &str =
        "the quick brown fox jumps over the lazy dog near the river bank on a sunny day";
    const B: &str =
        "completely unrelated words about invoices payments and the quarterly tax report";

    #[test]
    fn match_reach_senders() {
        let ix = BulkIndex::new(Duration::from_secs(100));
        let f = fp(A);
        ix.add_cluster(1, "cust", f.clone(), 1000);
        ix.add_send(1, "a@x", &[10, 11], 1000);
        ix.add_send(1, "b@x", &[11, 12], 2000);
        assert_eq!(ix.matches("cust", &f, 0.5, 0), [1]);
        assert!(ix.matches("other", &f, 0.5, 0).is_empty(), "per customer");
        let g = fp(B);
        assert!(
            ix.matches("cust", &g, 0.5, 0).is_empty(),
            "different content"
        );
        assert!(
            ix.matches("cust", &f, 0.5, 3000).is_empty(),
            "outside the window"
        );
        assert_eq!(ix.reach(&[1], 0, &[12, 13]), 4);
        assert_eq!(ix.reach(&[1], 1500, &[]), 2, "only recent recipients");
        assert_eq!(ix.senders(&[1], 0), ["a@x", "b@x"]);
        assert_eq!(ix.senders(&[1], 1500), ["b@x"]);
        assert!(!ix.needs_intro(1, 1000));
        assert!(
            ix.needs_intro(1, 1000 + 50_001),
            "introduced again after half a window"
        );
        assert!(ix.needs_intro(2, 1000));
    }

    #[test]
    fn rows_apply_in_any_order_and_twice() {
        let ix = BulkIndex::new(Duration::from_secs(100));
        let f = fp(A);
        // The send first, then its cluster row, then both again.
        ix.add_send(7, "a@x", &[1, 2], 500);
        assert!(ix.matches("cust", &f, 0.5, 0).is_empty());
        ix.add_cluster(7, "cust", f.clone(), 400);
        ix.add_cluster(7, "cust", f.clone(), 400);
        ix.add_send(7, "a@x", &[1, 2], 500);
        assert_eq!(ix.matches("cust", &f, 0.5, 0), [7]);
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
        assert!(ix.matches("c", &f, 0.5, 0).is_empty());
        assert_eq!(ix.senders(&[2], 0), ["b@x"]);
    }

    #[test]
    fn many_clusters_grow_and_shrink_the_tables() {
        let ix = BulkIndex::new(Duration::from_secs(10));
        const WORDS: [&str; 10] = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        ];
        // Words, not digits (those fold into one token), make texts differ.
        let text = |i: usize| -> String {
            format!("{i:05}")
                .chars()
                .map(|c| WORDS[c as usize - '0' as usize])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let n = 3000;
        for i in 0..n {
            let f = Fingerprint::of_text(&text(i), &format!("{} {}", text(i * 7), text(i * 13)));
            let (key, at) = (i as i64 + 1, 1000 * (i as i64 % 20));
            ix.add_cluster(key, "c", f, at);
            ix.add_send(key, "a@x", &[key, -key], at);
        }
        {
            let g = ix.lock();
            assert_eq!(g.by_key.live, n);
            assert_eq!(
                g.bands.live,
                n * BANDS,
                "every band filed once, through every rebuild"
            );
            assert!(g.bands.live * 10 <= g.bands.cells.len() * 9);
        }
        assert_eq!(ix.size(), (n, 2 * n));
        assert_eq!(ix.reach(&[1, 2, 3], 0, &[1, 99]), 7);
        // Half the clusters are older than the window at 25 s.
        ix.prune(25_000);
        let kept = (0..n).filter(|i| 1000 * (*i as i64 % 20) >= 15_000).count();
        assert_eq!(ix.size(), (kept, 2 * kept));
        let g = ix.lock();
        assert_eq!(g.bands.live, kept * BANDS);
        assert_eq!(g.by_key.live, kept);
        for (i, c) in g
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.flags & IN_USE != 0)
        {
            assert_eq!(g.find(c.key), Some(i as u32));
        }
    }

    #[test]
    fn bands_depend_on_customer_and_content() {
        let (a, b) = (
            sig_of(&fp("one two three four five six")),
            sig_of(&fp("seven eight nine ten eleven twelve")),
        );
        let (c1, c2) = (customer_key("c1"), customer_key("c2"));
        assert_eq!(band_hashes(c1, &a), band_hashes(c1, &a));
        assert!(
            band_hashes(c1, &a)
                .iter()
                .zip(band_hashes(c2, &a).iter())
                .all(|(x, y)| x != y),
            "per customer"
        );
        assert!(
            band_hashes(c1, &a)
                .iter()
                .zip(band_hashes(c1, &b).iter())
                .all(|(x, y)| x != y),
            "per content"
        );
    }

    #[test]
    fn log_signatures_old_and_new() {
        let f = fp(A);
        assert_eq!(sig_from_log(&log_signature(&f)), Some(sig_of(&f)));
        assert_eq!(
            sig_from_log(&f.to_bytes()),
            Some(sig_of(&f)),
            "a row logged with the whole fingerprint"
        );
        assert_eq!(sig_from_log(b"short"), None);
    }

    #[test]
    fn a_cluster_with_one_recipient_is_small() {
        // The bulk window's memory per tracked recipient (bench/policy.sh
        // measures it as a whole) rests on this.
        assert_eq!(std::mem::size_of::<Cluster>(), 80);
    }

    #[tokio::test]
    async fn follows_the_store() {
        use mailhost_store::{BulkTrack, NewMessage, Resolved};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        store
            .domain_add("a.example", "c@a.example", None)
            .await
            .unwrap();
        store
            .user_add("u@a.example", "pw-123456", None, None)
            .await
            .unwrap();
        let Resolved::Deliver(m) = store.resolve("u@a.example").await.unwrap() else {
            panic!()
        };
        let now = mailhost_store::now_ms();
        let f = fp(A);
        for (row, rcpts) in [(true, vec![1, 2]), (false, vec![3])] {
            let track = BulkTrack {
                cluster: 42,
                intro: row.then(|| ("c@a.example".to_string(), log_signature(&f))),
                account: "u@a.example".into(),
                rcpts,
                at: now,
            };
            let msg = NewMessage {
                body: b"x".to_vec(),
                deliveries: vec![(m[0].id, vec![])],
                bulk: Some(track),
                ..Default::default()
            };
            store.deliver(msg).await.unwrap();
        }
        // Another node: starts empty, loads the window from the logs.
        let ix = BulkIndex::new(Duration::from_secs(3600));
        assert_eq!(ix.follow(&store, 0, now).await.unwrap(), 2);
        assert_eq!(ix.matches("c@a.example", &f, 0.5, 0), [42]);
        assert_eq!(ix.reach(&[42], 0, &[]), 3);
        assert_eq!(ix.follow(&store, 0, now).await.unwrap(), 0, "nothing new");
        assert_eq!(
            ix.follow(&store, 10, now).await.unwrap(),
            2,
            "a lookback re-reads, harmlessly"
        );
        assert_eq!(ix.reach(&[42], 0, &[]), 3);
    }
}
