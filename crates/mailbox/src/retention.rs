//! The background job of R-POP-2: read mail goes `read_retention` after
//! its first retrieval, even if the client leaves it on the server.
//!
//! Each pass walks the entries read before the cut-off in index order, in
//! batches of [`BATCH`] (one transaction each, each followed by a pause as
//! long as it took), at most [`PASS`] entries, then sleeps; a backlog (a million read messages after a restart) is
//! worked off pass after pass without holding the writer for long. A crash
//! mid-pass loses nothing: the next pass finds what is left.

use mailhost_store::{now_ms, Store};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const BATCH: i64 = 250;
pub const PASS: u64 = 20_000;

/// Which first reads a pass counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOver {
    /// R-POP-2: retrieved over POP3.
    Pop3,
    /// R-POP-5: read over IMAP (`policy.imap_read_retention`).
    Imap,
}

/// One pass: deletes up to [`PASS`] entries read before `now - retention`.
/// Returns how many went and whether more may be due.
pub async fn pass(store: &Store, retention: Duration) -> mailhost_store::Result<(u64, bool)> {
    pass_over(store, retention, ReadOver::Pop3).await
}

/// [`pass`] for mail first read over POP3 or over IMAP.
pub async fn pass_over(
    store: &Store,
    retention: Duration,
    over: ReadOver,
) -> mailhost_store::Result<(u64, bool)> {
    let before = now_ms() - retention.as_millis() as i64;
    let mut cursor = (-1, 0);
    let mut done = 0;
    let mut looked = 0;
    loop {
        let t = std::time::Instant::now();
        let p = match over {
            ReadOver::Pop3 => store.purge_read(before, cursor, BATCH).await?,
            ReadOver::Imap => store.purge_imap_read(before, cursor, BATCH).await?,
        };
        // A background job yields the store's one writer: after each
        // batch it waits as long as the batch took, so deliveries wait
        // for at most one batch and get half the writer's time or more.
        tokio::time::sleep(t.elapsed()).await;
        done += p.entries;
        looked += BATCH as u64;
        match p.next {
            Some(next) if looked < PASS => cursor = next,
            Some(_) => return Ok((done, true)),
            None => return Ok((done, false)),
        }
    }
}

/// How long a login stays in its user's list of recent logins.
const LOGINS_KEPT: Duration = Duration::from_secs(90 * 86_400);

/// Runs passes until `shutdown`; also forgets autoresponder answers older
/// than `autoreply_interval` (R-IN-5), and logins past 90 days, once a
/// minute.
pub async fn run(
    store: Store,
    retention: Duration,
    imap_retention: Duration,
    autoreply_interval: Duration,
    shutdown: CancellationToken,
) {
    // A pass a quarter of the retention apart (for a 2 s test setting,
    // every half second), at least once a minute.
    let shortest = if imap_retention.is_zero() {
        retention
    } else {
        retention.min(imap_retention)
    };
    let every = (shortest / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    let mut last_forget = std::time::Instant::now();
    loop {
        let mut more = false;
        for (over, keep, rule) in [
            (ReadOver::Pop3, retention, "R-POP-2"),
            (ReadOver::Imap, imap_retention, "R-POP-5"),
        ] {
            // "0s" turns IMAP's retention off (IMAP users keep mail).
            if keep.is_zero() {
                continue;
            }
            match pass_over(&store, keep, over).await {
                Ok((n, m)) => {
                    if n > 0 {
                        tracing::info!(deleted = n, rule, "read mail past its retention deleted");
                    }
                    more |= m;
                }
                Err(e) => {
                    tracing::warn!(rule, "read-mail retention pass failed (retried): {e}");
                }
            }
        }
        if last_forget.elapsed() >= Duration::from_secs(60) {
            last_forget = std::time::Instant::now();
            if let Err(e) = store.autoreply_forget(autoreply_interval).await {
                tracing::warn!("forgetting old autoresponder answers: {e}");
            }
            // The recent-logins list a user sees keeps 90 days.
            let before = mailhost_store::now_ms() - LOGINS_KEPT.as_millis() as i64;
            if let Err(e) = store.logins_prune(before).await {
                tracing::warn!("forgetting old logins: {e}");
            }
        }
        let wait = if more {
            Duration::from_millis(10)
        } else {
            every
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
