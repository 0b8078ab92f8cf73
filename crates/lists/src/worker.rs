//! The list worker inside `serve` (R-LIST-4, R-LIST-6): held posts whose
//! time came take the list's next throttle slot, unless it falls outside
//! the off-peak window; scheduled posts whose slot came are expanded,
//! never within a throttle of the list's previous post; our own reports
//! about members' copies are read as bounces.

use crate::{Lists, Refusal, Result, Source, Why};
use mailhost_store::{now_ms, post_state, ListPost};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Lists {
    /// The background work of lists (inside `serve`): held posts whose
    /// time came take the list's next throttle slot (R-LIST-6); scheduled
    /// posts whose slot came are expanded. Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = self.wake.clone().unwrap_or_default();
        loop {
            let next = match self.step().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!("list worker: {e}");
                    Some(now_ms() + 1000)
                }
            };
            // Other nodes' posts are seen within a second.
            let wait = next.map_or(1000, |t| (t - now_ms()).clamp(5, 1000)) as u64;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
        }
    }

    /// One pass; returns when the next post is due.
    async fn step(&self) -> Result<Option<i64>> {
        let now = now_ms();
        let spacing = self.config.lists.throttle.std().as_millis() as i64;
        self.schedule_held(now, spacing).await?;
        self.read_reports(now).await?;
        self.send_due(now, spacing).await?;
        let a = self.store.list_next_release(post_state::HELD).await?;
        let b = self.store.list_next_release(post_state::SCHEDULED).await?;
        Ok([a, b].into_iter().flatten().min())
    }

    /// Held posts whose release time came take their slots.
    async fn schedule_held(&self, now: i64, spacing: i64) -> Result<()> {
        for p in self
            .store
            .list_posts_due(post_state::HELD, now, 100)
            .await?
        {
            // The slot it would get, checked against the window first: a
            // slot is only taken for a post that will use it.
            let next = self.store.list_next_slot(p.list_id).await?.max(now);
            if let Some(later) = self.past_window(p.list_id, next).await? {
                // Many posts in one window push the last slots past its
                // end: those wait for the next window (R-LIST-4).
                self.store
                    .list_post_move(p.id, post_state::HELD, post_state::HELD, later)
                    .await?;
                tracing::info!(
                    post = p.id,
                    "list post past the off-peak window's end: held to the next window (R-LIST-4)"
                );
                continue;
            }
            let slot = self.store.list_take_slot(p.list_id, now, spacing).await?;
            self.store
                .list_post_move(p.id, post_state::HELD, post_state::SCHEDULED, slot)
                .await?;
        }
        Ok(())
    }

    /// Our own delivery reports to members' VERP addresses.
    async fn read_reports(&self, now: i64) -> Result<()> {
        for p in self
            .store
            .list_posts_due(post_state::REPORT, now, 50)
            .await?
        {
            // Our own DSN for a member's copy (its server refused it).
            let tok = p
                .poster
                .split_once("+bounce-")
                .and_then(|(_, t)| t.split('@').next())
                .unwrap_or("")
                .to_string();
            let raw = self.store.queue_body(&p.blob_id).await.unwrap_or_default();
            let src = Source {
                method: "bounce",
                ..Default::default()
            };
            match self.bounce(&tok, &raw, &src).await {
                Ok(b) => tracing::info!(post = p.id, "our report to {}: {b:?}", p.poster),
                Err(e) => tracing::warn!(post = p.id, "our report to {}: {e}", p.poster),
            }
            self.store.list_report_done(&p).await?;
        }
        Ok(())
    }

    /// Scheduled posts whose slot came are expanded.
    async fn send_due(&self, now: i64, spacing: i64) -> Result<()> {
        // Lists whose schedule moved in this pass: their other posts are
        // read again in the next one, with their new times.
        let mut moved = std::collections::HashSet::new();
        for p in self
            .store
            .list_posts_due(post_state::SCHEDULED, now, 20)
            .await?
        {
            if moved.contains(&p.list_id) {
                continue;
            }
            // A slot is when a post may go, not a promise: when the
            // previous post went late, this one waits a full throttle
            // after it (no burst), and the list's later posts with it (no
            // reordering, R-LIST-6).
            if self.slipped(&p, spacing).await? {
                moved.insert(p.list_id);
                continue;
            }
            if let Err(e) = self.expand(&p).await {
                if self.slipped(&p, spacing).await? {
                    // Another node sent one of this list's posts meanwhile.
                    moved.insert(p.list_id);
                    continue;
                }
                // Tried again in a minute, not at once: a failing post
                // must not keep the worker spinning.
                tracing::warn!(
                    post = p.id,
                    "expanding a list post (again in a minute): {e}"
                );
                self.store
                    .list_post_move(
                        p.id,
                        post_state::SCHEDULED,
                        post_state::SCHEDULED,
                        now + 60_000,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether `p` must wait because the list's previous post went less
    /// than `spacing` ago; then the list's schedule is moved on by the
    /// shortfall.
    async fn slipped(&self, p: &ListPost, spacing: i64) -> Result<bool> {
        let now = now_ms();
        let last = self.store.list_last_sent(p.list_id, now + spacing).await?;
        let gap_end = last.map_or(0, |l| l + spacing);
        if gap_end <= now {
            return Ok(false);
        }
        // The list's first post moves to the gap's end; the posts after
        // it keep their spacing.
        self.store.list_slip(p.list_id, gap_end).await?;
        Ok(true)
    }

    /// For a list over `offpeak_threshold` members, the next window's
    /// start when `slot` falls outside every window; None when the slot
    /// may be used.
    async fn past_window(&self, list_id: i64, slot: i64) -> Result<Option<i64>> {
        let (windows, tz) = self.windows();
        if windows.is_empty() {
            return Ok(None);
        }
        let Some(list) = self.store.list_by_id(list_id).await? else {
            return Ok(None);
        };
        if list.members <= self.config.lists.offpeak_threshold as i64 {
            return Ok(None);
        }
        let ts = jiff::Timestamp::from_millisecond(slot)
            .map_err(|e| Refusal::new(Why::Internal, "", e.to_string()))?;
        if windows.contains(ts, tz) {
            return Ok(None);
        }
        Ok(windows.next_release(ts, tz).map(|t| t.as_millisecond()))
    }
}
