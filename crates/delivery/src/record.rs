//! Recording what happened to one message's recipients in the queue, with
//! the notices the sender is owed.
//!
//! - delivered: `queue_done_many` at once, all of the message's delivered
//!   rows in one transaction right after the remote's 250, so the window
//!   for a duplicate after a crash is as small as it can be (RFC 1047);
//! - permanent failure, or a temporary one older than `max_queue_time`
//!   (RFC 5321 §4.5.4.1): `queue_fail`, with one bounce for all of the
//!   message's failed recipients, stored in the same transaction as the
//!   first row's removal;
//! - temporary failure: `queue_retry` after `retry_base × 2^attempts`
//!   (at most `retry_max`), with one delay notice once the message is older
//!   than `delay_warning` and its recipients have not been warned.
//!
//! No notice ever goes to the null sender (RFC 5321 §6.1, RFC 3464 §4:
//! never bounce a bounce). A notice to a local sender is stored in their
//! mailbox; to a remote one it is queued with the null sender.

use crate::dsn::{self, Action, Recipient, Report};
use crate::outcome::{Failure, Outcome};
use crate::DeliveryCtx;
use mailhost_store::{now_ms, Deferral, NewMessage, QueueItem, StoreError};
use std::time::Duration;

/// The wait before the next attempt after `attempts` earlier ones.
pub fn backoff(base: Duration, max: Duration, attempts: i64) -> Duration {
    let shift = attempts.clamp(0, 30) as u32;
    base.saturating_mul(1u32 << shift).min(max)
}

/// Records the outcome of each of `rows` (one message, in order). On a
/// store error the remaining rows keep their lease and are tried again.
pub async fn record(
    ctx: &DeliveryCtx,
    rows: &[QueueItem],
    outcomes: Vec<Outcome>,
    body: &[u8],
) -> Result<(), StoreError> {
    let d = &ctx.config.delivery;
    let now = now_ms();
    let mut failed = Vec::new();
    let mut deferred = Vec::new();
    let mut delivered = Vec::new();
    for (row, o) in rows.iter().zip(outcomes) {
        let f = match o {
            Outcome::Delivered => {
                delivered.push(row);
                continue;
            }
            Outcome::Failed(f) | Outcome::NoAnswer(f) => f,
        };
        let age = now - row.created_at;
        if f.permanent {
            failed.push((row, f));
        } else if age > d.max_queue_time.std().as_millis() as i64 {
            failed.push((row, f.expired(&human(d.max_queue_time.std()))));
        } else {
            deferred.push((row, f));
        }
    }
    if !delivered.is_empty() {
        ctx.store.queue_done_many(&delivered).await?;
        for row in delivered {
            tracing::info!(id = row.id, rcpt = %row.rcpt, "delivered");
        }
    }
    let sender = rows.first().map(|r| r.sender.as_str()).unwrap_or("");
    let created = rows.iter().map(|r| r.created_at).min().unwrap_or(now);

    if !failed.is_empty() {
        let mut bounce = if sender.is_empty() {
            None
        } else {
            let rcpts = failed
                .iter()
                .map(|(r, f)| Recipient {
                    addr: &r.rcpt,
                    failure: f,
                })
                .collect();
            notice(ctx, sender, Action::Failed, created, now, rcpts, body).await?
        };
        for (row, f) in &failed {
            tracing::info!(id = row.id, rcpt = %row.rcpt, sender = %row.sender, "failed: {}", f.text);
        }
        let rows: Vec<&QueueItem> = failed.iter().map(|(r, _)| *r).collect();
        ctx.store.queue_fail_many(&rows, bounce.take()).await?;
    }

    if !deferred.is_empty() {
        let warn_after = d.delay_warning.std().as_millis() as i64;
        let due: Vec<usize> = (0..deferred.len())
            .filter(|&i| {
                !sender.is_empty()
                    && !deferred[i].0.warned
                    && now - deferred[i].0.created_at > warn_after
            })
            .collect();
        let mut warning = if due.is_empty() {
            None
        } else {
            let until_ms = created + d.max_queue_time.std().as_millis() as i64;
            let rcpts = due
                .iter()
                .map(|&i| Recipient {
                    addr: &deferred[i].0.rcpt,
                    failure: &deferred[i].1,
                })
                .collect();
            notice(
                ctx,
                sender,
                Action::Delayed { until_ms },
                created,
                now,
                rcpts,
                body,
            )
            .await?
        };
        // One transaction for every deferred recipient and the one notice
        // that covers the newly warned ones.
        let mut rows = Vec::with_capacity(deferred.len());
        for (i, (row, f)) in deferred.iter().enumerate() {
            let wait = backoff(d.retry_base.std(), d.retry_max.std(), row.attempts);
            tracing::info!(id = row.id, rcpt = %row.rcpt, retry_in = ?wait, "deferred: {}", f.text);
            rows.push(Deferral {
                item: row,
                next_attempt: now + wait.as_millis() as i64,
                error: &f.text,
                warned: warning.is_some() && due.contains(&i),
            });
        }
        ctx.store.queue_defer(&rows, warning.take()).await?;
    }
    Ok(())
}

/// A DSN to `sender`, addressed: into the sender's mailboxes when local,
/// queued with the null sender when remote. None when the sender's address
/// is here but unknown or suspended: there is nobody to tell.
async fn notice(
    ctx: &DeliveryCtx,
    sender: &str,
    action: Action,
    arrival_ms: i64,
    now: i64,
    rcpts: Vec<Recipient<'_>>,
    original: &[u8],
) -> Result<Option<NewMessage>, StoreError> {
    let hostname = &ctx.config.server.hostname;
    let mut sender = sender.to_string();
    // R-IN-4: the bounce of forwarded mail goes to its original sender.
    if let (Some(srs), Some((local, _))) = (&ctx.srs, sender.clone().rsplit_once('@')) {
        if mailhost_mailbox::srs::is_srs(local) {
            match srs.reverse(local, (now / 1000).max(0) as u64) {
                Ok(orig) => sender = orig,
                Err(e) => {
                    tracing::info!(%sender, "no delivery notice: {e}");
                    return Ok(None);
                }
            }
        }
    }
    let body = dsn::build(&Report {
        hostname,
        to: &sender,
        action,
        arrival_ms,
        last_attempt_ms: now,
        rcpts,
        original,
    });
    let mut msg = NewMessage {
        body,
        ..Default::default()
    };
    if !ctx.store.address_notice(&sender, None, &mut msg).await? {
        tracing::info!(%sender, "no delivery notice: the sender's address no longer takes mail");
        return Ok(None);
    }
    Ok(Some(msg))
}

/// "5 days", "3 hours", "90 seconds", for the text of a notice.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Checks made before any connection: the message may not go anywhere.
pub fn local_checks(body: &[u8], cfg: &mailhost_config::Config) -> Option<Failure> {
    let max = cfg.server.max_message_size.0;
    if body.len() as u64 > max {
        // R-IN-2: the size limit holds for mail sent as well as received.
        return Some(Failure::local(
            true,
            "5.3.4",
            format!(
                "the message ({} bytes) is larger than the limit ({max} bytes)",
                body.len()
            ),
        ));
    }
    let received = received_count(body);
    if received > cfg.delivery.max_received as usize {
        // RFC 5321 §6.3: a message that has passed too many relays is
        // looping.
        return Some(Failure::local(
            true,
            "5.4.6",
            format!("mail loop: the message has {received} Received headers"),
        ));
    }
    None
}

/// Received header fields in the header section.
pub fn received_count(body: &[u8]) -> usize {
    dsn::header_section(body)
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(300), s(14_400), 0), s(300));
        assert_eq!(backoff(s(300), s(14_400), 1), s(600));
        assert_eq!(backoff(s(300), s(14_400), 4), s(4_800));
        assert_eq!(backoff(s(300), s(14_400), 5), s(9_600));
        assert_eq!(backoff(s(300), s(14_400), 6), s(14_400));
        assert_eq!(backoff(s(300), s(14_400), 1_000), s(14_400));
    }

    #[test]
    fn received_lines_are_counted_in_the_header_only() {
        let m = b"Received: a\r\nreceived: b\r\n\tcontinued Received: no\r\nSubject: x\r\n\r\nReceived: body\r\n";
        assert_eq!(received_count(m), 2);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(5 * 86_400)), "5 days");
        assert_eq!(human(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(human(Duration::from_millis(1500)), "1 second");
    }
}
