//! A circuit breaker for the DNS lookups of inbound checks (R-IN-6).
//!
//! With the resolver unreachable, every message would wait for its lookups
//! to time out before its 250, turning a DNS outage into a mail outage.
//! So when [`TRIP_AFTER`] messages within [`TRIP_WINDOW`] had all their
//! lookups time out, the breaker opens: the checks are skipped and
//! reported as `temperror` at once, and checks in flight stop waiting.
//!
//! Only a probe closes it: an uncached query for the root zone's NS
//! records, which a working resolver answers at once from what it holds.
//! Any DNS answer counts (records, NXDOMAIN, SERVFAIL, REFUSED: the
//! resolver is there and quick); silence within `dns_timeout` does not. The
//! first probe starts as the breaker opens, the next [`PROBE_INTERVAL`]
//! after the last one ended, so results come back by themselves when the
//! resolver does. Answers that messages got tell nothing here: they may
//! come from the cache.
//!
//! Because the probe asks the resolver and not a sender's domain, a burst
//! of mail from one domain whose name servers are dead may trip the
//! breaker but cannot hold it open: the probe answers within milliseconds
//! and closes it. The other side of that choice: a resolver that answers
//! but cannot reach its upstream is not seen as down; each message then
//! waits for its own lookups, within `delivery.verify_timeout`.
//!
//! State is per node, in memory: it describes this node's resolver, not a
//! policy that must hold across nodes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages whose lookups all timed out, within [`TRIP_WINDOW`], that open
/// the breaker.
pub const TRIP_AFTER: usize = 3;
pub const TRIP_WINDOW: Duration = Duration::from_secs(10);
/// While open, the wait between the end of one probe and the next.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum State {
    /// When the last few time-outs happened (at most TRIP_AFTER).
    Closed {
        timeouts: VecDeque<Instant>,
    },
    Open,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    /// Whether it is open, for checks in flight to stop waiting when it
    /// opens.
    open: tokio::sync::watch::Sender<bool>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State::Closed {
                timeouts: VecDeque::new(),
            }),
            open: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Breaker {
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open)
    }

    /// Resolves when the breaker is open (at once if it is).
    pub async fn opened(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }

    /// One message's lookups all timed out. True when this opened the
    /// breaker: the caller then runs the probes until one is answered.
    pub fn timed_out(&self) -> bool {
        self.timed_out_at(Instant::now())
    }

    fn timed_out_at(&self, now: Instant) -> bool {
        let mut st = self.lock();
        let State::Closed { timeouts } = &mut *st else {
            return false;
        };
        while timeouts
            .front()
            .is_some_and(|t| now.duration_since(*t) > TRIP_WINDOW)
        {
            timeouts.pop_front();
        }
        timeouts.push_back(now);
        if timeouts.len() < TRIP_AFTER {
            return false;
        }
        *st = State::Open;
        drop(st);
        tracing::warn!(
            "DNS resolver not answering: SPF/DKIM/DMARC results are temperror \
             (mail is still accepted) until it answers a probe"
        );
        self.open.send_replace(true);
        true
    }

    /// A probe's outcome: an answer closes the breaker.
    pub fn probed(&self, answered: bool) {
        if !answered {
            return;
        }
        let mut st = self.lock();
        if matches!(*st, State::Open) {
            *st = State::Closed {
                timeouts: VecDeque::new(),
            };
            drop(st);
            tracing::info!("DNS resolver answers again: SPF/DKIM/DMARC checks resume");
            self.open.send_replace(false);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves a valid state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_timeouts_within_the_window_and_only_a_probe_closes_it() {
        let b = Breaker::default();
        let t0 = Instant::now();
        // Time-outs spread wider than the window do not trip it.
        for i in 0..5 {
            assert!(!b.timed_out_at(t0 + TRIP_WINDOW * i));
        }
        assert!(!b.is_open());
        let t1 = t0 + TRIP_WINDOW * 10;
        assert!(!b.timed_out_at(t1));
        assert!(!b.timed_out_at(t1 + Duration::from_secs(1)));
        assert!(
            b.timed_out_at(t1 + Duration::from_secs(2)),
            "the third opens it"
        );
        assert!(b.is_open());
        // Late time-outs of messages in flight start no second prober.
        assert!(!b.timed_out_at(t1 + Duration::from_secs(3)));
        b.probed(false);
        assert!(b.is_open());
        b.probed(true);
        assert!(!b.is_open());
        // Closed afresh: it takes TRIP_AFTER new time-outs again.
        assert!(!b.timed_out_at(t1 + Duration::from_secs(4)));
        assert!(!b.is_open());
    }

    #[tokio::test]
    async fn checks_in_flight_are_told_when_it_opens() {
        let b = std::sync::Arc::new(Breaker::default());
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.opened().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        for _ in 0..TRIP_AFTER {
            b.timed_out();
        }
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .unwrap();
    }
}
