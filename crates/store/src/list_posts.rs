//! Posts to mailing lists: held durably from the moment the poster hears
//! 250 (for moderation, for the off-peak window of R-LIST-4, or just for
//! the throttle's next slot of R-LIST-6), then expanded to the members in
//! one transaction that also marks the post sent, so a crash neither
//! loses a post nor sends it twice.

use crate::db::Stmt;
use crate::{now_ms, NewMessage, Result, Store, StoreError};

/// Post states.
pub mod post_state {
    /// Waiting for the owner's approval.
    pub const MODERATION: &str = "moderation";
    /// Accepted, waiting for its release time (off-peak, or now).
    pub const HELD: &str = "held";
    /// Given its throttle slot; expanded when the slot comes.
    pub const SCHEDULED: &str = "scheduled";
    pub const SENT: &str = "sent";
    pub const REJECTED: &str = "rejected";
    /// Our own delivery report to a member's VERP address, for the list
    /// worker to read as a bounce.
    pub const REPORT: &str = "report";
}

/// A post.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPost {
    pub id: i64,
    pub list_id: i64,
    pub blob_id: String,
    pub poster: String,
    pub state: String,
    pub release_at: i64,
    pub created_at: i64,
    pub message_id: Option<String>,
}

/// A post to hold.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPost {
    pub list_id: i64,
    /// The message as received.
    pub body: Vec<u8>,
    pub poster: String,
    /// [`post_state`]: moderation or held.
    pub state: &'static str,
    /// When it may go (off-peak: the window's start).
    pub release_at: i64,
    pub message_id: Option<String>,
}

/// One remote member's copy of an expanded post.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberCopy {
    /// The VERP return path (`list+bounce-TOKEN@domain`).
    pub sender: String,
    pub rcpt: String,
    /// Its own header fields (List-Unsubscribe, DKIM-Signature).
    pub prefix: Vec<u8>,
    /// When it may leave (the throttle's slot, or a later hour when the
    /// domain's hourly limit is spent: R-LIST-6).
    pub not_before: i64,
}

fn post_row(r: &crate::db::Row) -> Result<ListPost> {
    Ok(ListPost {
        id: r.i64(0)?,
        list_id: r.i64(1)?,
        blob_id: r.text(2)?,
        poster: r.text(3)?,
        state: r.text(4)?,
        release_at: r.i64(5)?,
        created_at: r.i64(6)?,
        message_id: r.opt_text(7)?,
    })
}

impl Store {
    /// Holds a post durably (its body and its row, one transaction);
    /// `also` commits with it (a notice to the poster). Returns its id.
    pub async fn list_post_add(&self, p: NewPost, also: Option<NewMessage>) -> Result<i64> {
        let NewPost {
            list_id,
            body,
            poster,
            state,
            release_at,
            message_id,
        } = p;
        let blob = crate::messages::new_blob_id();
        let now = now_ms();
        let mut stmts = vec![
            Stmt::new(
                "INSERT INTO blobs (id, data) VALUES (?, ?)",
                vec![blob.clone().into(), body.into()],
            ),
            Stmt::new(
                "INSERT INTO list_posts (list_id, blob_id, poster, state, release_at, created_at, message_id)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![
                    list_id.into(),
                    blob.clone().into(),
                    poster.into(),
                    state.into(),
                    release_at.into(),
                    now.into(),
                    message_id.into(),
                ],
            ),
        ];
        if let Some(m) = also {
            stmts.extend(crate::messages::message_stmts(m)?.0);
        }
        self.batch(stmts).await?;
        let rows = self
            .lookup(
                "SELECT id FROM list_posts WHERE blob_id = ?",
                vec![blob.into()],
            )
            .await?;
        rows.first()
            .map(|r| r.i64(0))
            .transpose()?
            .ok_or_else(|| StoreError::Backend("the new post vanished".into()))
    }

    /// Posts in `state` whose time has come, oldest first.
    pub async fn list_posts_due(&self, state: &str, now: i64, limit: i64) -> Result<Vec<ListPost>> {
        let rows = self
            .query(
                "SELECT id, list_id, blob_id, poster, state, release_at, created_at, message_id
                 FROM list_posts WHERE state = ? AND release_at <= ? ORDER BY release_at, id LIMIT ?",
                vec![state.into(), now.into(), limit.into()],
            )
            .await?;
        rows.iter().map(post_row).collect()
    }

    /// A list's posts in `state`, oldest first (the moderation queue).
    pub async fn list_posts_in(
        &self,
        list_id: i64,
        state: &str,
        limit: i64,
    ) -> Result<Vec<ListPost>> {
        let rows = self
            .query(
                "SELECT id, list_id, blob_id, poster, state, release_at, created_at, message_id
                 FROM list_posts WHERE list_id = ? AND state = ? ORDER BY created_at, id LIMIT ?",
                vec![list_id.into(), state.into(), limit.into()],
            )
            .await?;
        rows.iter().map(post_row).collect()
    }

    /// When the list's last post was sent (the throttle's actual
    /// spacing, R-LIST-6); stamps after `until` (a node whose clock runs
    /// fast) are not believed.
    pub async fn list_last_sent(&self, list_id: i64, until: i64) -> Result<Option<i64>> {
        let rows = self
            .query(
                "SELECT MAX(release_at) FROM list_posts WHERE list_id = ? AND state = 'sent' AND release_at <= ?",
                vec![list_id.into(), until.into()],
            )
            .await?;
        Ok(rows.first().map(|r| r.opt_i64(0)).transpose()?.flatten())
    }

    /// Moves the list's whole schedule later so that its first scheduled
    /// post is due at `earliest`: every scheduled post and the next free
    /// slot by the same amount, in one transaction, so that posts keep
    /// their order and spacing when one of them must wait (R-LIST-6).
    /// Idempotent: the shift is measured from the schedule as it is, and
    /// a node that finds it moved meanwhile changes nothing.
    pub async fn list_slip(&self, list_id: i64, earliest: i64) -> Result<()> {
        let rows = self
            .query(
                "SELECT MIN(release_at) FROM list_posts WHERE list_id = ? AND state = 'scheduled'",
                vec![list_id.into()],
            )
            .await?;
        let Some(first) = rows.first().map(|r| r.opt_i64(0)).transpose()?.flatten() else {
            return Ok(());
        };
        let delta = earliest - first;
        if delta <= 0 {
            return Ok(());
        }
        let r = self
            .batch(vec![
                // Only from the schedule read above (another node's slip
                // wins; this one then does nothing).
                Stmt::new(
                    "UPDATE lists SET next_send_at = next_send_at + ? WHERE id = ?
                       AND (SELECT MIN(release_at) FROM list_posts
                            WHERE list_id = ? AND state = 'scheduled') = ?",
                    vec![delta.into(), list_id.into(), list_id.into(), first.into()],
                )
                .must_change(StoreError::Conflict("the schedule moved meanwhile".into())),
                Stmt::new(
                    "UPDATE list_posts SET release_at = release_at + ? WHERE list_id = ? AND state = 'scheduled'",
                    vec![delta.into(), list_id.into()],
                ),
            ])
            .await;
        match r {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The list's next free throttle slot (R-LIST-6), without taking it.
    pub async fn list_next_slot(&self, list_id: i64) -> Result<i64> {
        let rows = self
            .query(
                "SELECT next_send_at FROM lists WHERE id = ?",
                vec![list_id.into()],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }

    /// One post.
    pub async fn list_post(&self, id: i64) -> Result<Option<ListPost>> {
        let rows = self
            .query(
                "SELECT id, list_id, blob_id, poster, state, release_at, created_at, message_id
                 FROM list_posts WHERE id = ?",
                vec![id.into()],
            )
            .await?;
        rows.first().map(post_row).transpose()
    }

    /// The earliest release time of a post in `state` (the worker's next
    /// wake-up).
    pub async fn list_next_release(&self, state: &str) -> Result<Option<i64>> {
        let rows = self
            .query(
                "SELECT MIN(release_at) FROM list_posts WHERE state = ?",
                vec![state.into()],
            )
            .await?;
        Ok(rows.first().map(|r| r.opt_i64(0)).transpose()?.flatten())
    }

    /// Moves a post from `from` to `to` with a new release time; false if
    /// another node moved it first.
    pub async fn list_post_move(
        &self,
        id: i64,
        from: &str,
        to: &str,
        release_at: i64,
    ) -> Result<bool> {
        let n = self
            .batch(vec![Stmt::new(
                "UPDATE list_posts SET state = ?, release_at = ? WHERE id = ? AND state = ?",
                vec![to.into(), release_at.into(), id.into(), from.into()],
            )])
            .await?;
        Ok(n.first().copied().unwrap_or(0) > 0)
    }

    /// Expands a scheduled post: local members' copies into their
    /// mailboxes (`local`, with their own header prefixes), remote ones
    /// queued with theirs, the domain's hourly count (R-LIST-6), and the
    /// post marked sent — all or nothing, and only once (the state guard
    /// fails a second node's attempt).
    pub async fn list_expand(
        &self,
        post: &ListPost,
        local: NewMessage,
        remote: &[MemberCopy],
        count: Option<(String, String)>,
        min_gap_ms: i64,
    ) -> Result<()> {
        // The copies' body (the post as the list sends it: its own list
        // fields removed, From perhaps rewritten) is stored once for all.
        let blob = crate::messages::new_blob_id();
        let now = now_ms();
        let mut stmts = vec![
            // Locks the list's row first (PostgreSQL), so that two nodes
            // sending posts of one list take turns and the check below
            // sees the other's post.
            Stmt::new(
                "UPDATE lists SET next_send_at = next_send_at WHERE id = ?",
                vec![post.list_id.into()],
            ),
            // Sent, and when: never within `min_gap_ms` of the list's
            // previous post, whatever the slots said (a post sent late
            // must not be followed at once by the next: R-LIST-6).
            Stmt::new(
                "UPDATE list_posts SET state = 'sent', release_at = ? WHERE id = ? AND state = 'scheduled'
                   AND NOT EXISTS (SELECT 1 FROM list_posts q
                                   WHERE q.list_id = ? AND q.state = 'sent'
                                     AND q.release_at > ? AND q.release_at <= ?)",
                vec![
                    now.into(),
                    post.id.into(),
                    post.list_id.into(),
                    (now - min_gap_ms).into(),
                    // A send stamped further ahead is another node's clock
                    // running fast: it must not stop the list.
                    (now + min_gap_ms).into(),
                ],
            )
            .must_change(StoreError::Conflict(
                "the post was sent already, or the list's previous post too recently".into(),
            )),
        ];
        if local.deliveries.is_empty() {
            if remote.is_empty() {
                // No member to send to: nothing to keep.
            } else {
                stmts.push(Stmt::new(
                    "INSERT INTO blobs (id, data) VALUES (?, ?)",
                    vec![blob.clone().into(), local.body.into()],
                ));
            }
        } else {
            stmts.extend(crate::messages::message_stmts_as(local, blob.clone())?.0);
        }
        // The post's own body is no longer needed.
        stmts.push(Stmt::new(
            "DELETE FROM blobs WHERE id = ?
               AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)
               AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id)",
            vec![post.blob_id.clone().into()],
        ));
        for c in remote {
            let domain = c
                .rcpt
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            stmts.push(Stmt::new(
                "INSERT INTO queue (blob_id, sender, rcpt, domain, account, created_at, next_attempt, prefix)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    blob.clone().into(),
                    c.sender.clone().into(),
                    c.rcpt.clone().into(),
                    domain.into(),
                    count.as_ref().map(|(a, _)| a.clone()).into(),
                    now.into(),
                    c.not_before.into(),
                    c.prefix.clone().into(),
                ],
            ));
        }
        if let Some((account, domain)) = count {
            // Counted in the minute each copy may leave, so a later hour's
            // copies count in that hour.
            let mut per_minute: std::collections::BTreeMap<i64, i64> = Default::default();
            for c in remote {
                *per_minute
                    .entry(c.not_before.max(now) / 60_000)
                    .or_default() += 1;
            }
            for (minute, n) in per_minute {
                for key in [format!("acct:{account}"), format!("dom:{domain}")] {
                    stmts.push(Stmt::new(
                        "INSERT INTO send_counts (key, minute, rcpts) VALUES (?, ?, ?)
                         ON CONFLICT (key, minute) DO UPDATE SET rcpts = send_counts.rcpts + excluded.rcpts",
                        vec![key.into(), minute.into(), n.into()],
                    ));
                }
            }
        }
        self.batch(stmts).await?;
        Ok(())
    }

    /// A delivery report read by the list worker: its row and body go.
    pub async fn list_report_done(&self, post: &ListPost) -> Result<()> {
        self.batch(vec![
            Stmt::new(
                "DELETE FROM list_posts WHERE id = ? AND state = 'report'",
                vec![post.id.into()],
            ),
            Stmt::new(
                "DELETE FROM blobs WHERE id = ?
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = blobs.id)
                   AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_id = blobs.id)
                   AND NOT EXISTS (SELECT 1 FROM list_posts p WHERE p.blob_id = blobs.id)",
                vec![post.blob_id.clone().into()],
            ),
        ])
        .await?;
        Ok(())
    }

    /// Members' copies counted for `domain` from `since_ms` on, including
    /// those scheduled for later minutes (R-LIST-6).
    pub async fn sent_by_domain_from(
        &self,
        domain: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<i64> {
        let rows = self
            .lookup(
                "SELECT CAST(COALESCE(SUM(rcpts), 0) AS BIGINT) FROM send_counts WHERE key = ? AND minute >= ? AND minute < ?",
                vec![
                    format!("dom:{domain}").into(),
                    since_ms.div_euclid(60_000).into(),
                    until_ms.div_euclid(60_000).into(),
                ],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| r.i64(0))
    }
}
