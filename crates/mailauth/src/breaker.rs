//! A circuit breaker for the DNS lookups of inbound checks (R-IN-6).
//!
//! With the resolver unreachable, every message would wait for its lookups
//! to time out before its 250, turning a DNS outage into a mail outage.
//! So, after [`TRIP_AFTER`] messages in a row whose lookups all timed out
//! (none got an answer in between), the breaker opens: the checks are
//! skipped and reported as `temperror` at once. While open, every
//! [`PROBE_INTERVAL`] one message's arrival starts a probe in the
//! background (the message itself does not wait): an uncached lookup of a
//! name that message needs. The first probe that gets an answer closes the
//! breaker, so results come back by themselves when the resolver does.
//!
//! Probing with the names of real traffic rather than a fixed one tells
//! "the resolver or its upstream is down" (the probe times out) from "one
//! domain's servers are down" (other domains' names answer).
//!
//! State is per node, in memory: it describes this node's resolver, not a
//! policy that must hold across nodes.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

/// Messages in a row whose lookups timed out before the breaker opens.
pub const TRIP_AFTER: u32 = 3;
/// While open, how often one message is let through to probe.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What one message's lookups showed of the resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// At least one lookup got an answer (a record, NXDOMAIN, NODATA).
    Answered,
    /// Lookups ran and none got an answer in time.
    TimedOut,
    /// Nothing to tell: no lookups, or quick failures (a SERVFAIL costs
    /// the client no time, so it is no reason to skip lookups).
    Unknown,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { next_probe: Instant, probing: bool },
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    /// Whether it is open, for checks in flight to stop waiting when it
    /// opens.
    open: tokio::sync::watch::Sender<bool>,
}

/// Leave for one message's checks to run, or for one probe
/// ([`Pass::probe`]); dropping it without [`Pass::finish`] (a cancelled
/// check) frees a probe's slot.
pub struct Pass {
    breaker: Arc<Breaker>,
    /// The breaker is open and this is the probe: the message's own checks
    /// are skipped; the probe runs in the background and finishes this.
    pub probe: bool,
    done: bool,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State::Closed { failures: 0 }),
            open: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Breaker {
    /// The pass for one message, or None: the breaker is open, so its
    /// checks are `temperror` at once (and with a probe's pass too).
    pub fn admit(self: &Arc<Self>) -> Option<Pass> {
        self.admit_at(Instant::now())
    }

    fn admit_at(self: &Arc<Self>, now: Instant) -> Option<Pass> {
        let mut st = self.lock();
        let probe = match &mut *st {
            State::Closed { .. } => false,
            State::Open {
                next_probe,
                probing,
            } => {
                if *probing || now < *next_probe {
                    return None;
                }
                *probing = true;
                true
            }
        };
        Some(Pass {
            breaker: self.clone(),
            probe,
            done: false,
        })
    }

    /// Resolves when the breaker is open (at once if it is).
    pub async fn opened(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }

    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { .. })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves a valid state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, probe: bool, health: Health, now: Instant) {
        let mut st = self.lock();
        let next = match (&*st, health) {
            (State::Open { .. }, Health::Answered) => {
                tracing::info!("DNS resolver answers again: SPF/DKIM/DMARC checks resume");
                State::Closed { failures: 0 }
            }
            (State::Closed { .. }, Health::Answered) => State::Closed { failures: 0 },
            (State::Closed { failures }, Health::TimedOut) if failures + 1 >= TRIP_AFTER => {
                tracing::warn!(
                    "DNS resolver not answering: SPF/DKIM/DMARC results are temperror \
                     (mail is still accepted) until a probe every {PROBE_INTERVAL:?} gets an answer"
                );
                State::Open {
                    next_probe: now + PROBE_INTERVAL,
                    probing: false,
                }
            }
            (State::Closed { failures }, Health::TimedOut) => State::Closed {
                failures: failures + 1,
            },
            (State::Closed { failures }, Health::Unknown) => State::Closed {
                failures: *failures,
            },
            // A timeout of a message admitted before the breaker opened
            // tells nothing new (any answer, above, closes it).
            (State::Open { .. }, _) if !probe => return,
            (State::Open { next_probe, .. }, Health::Unknown) => State::Open {
                next_probe: *next_probe,
                probing: false,
            },
            (State::Open { .. }, Health::TimedOut) => State::Open {
                next_probe: now + PROBE_INTERVAL,
                probing: false,
            },
        };
        let open = matches!(next, State::Open { .. });
        *st = next;
        self.open
            .send_if_modified(|o| std::mem::replace(o, open) != open);
    }
}

impl Pass {
    pub fn finish(self, health: Health) {
        self.finish_at(health, Instant::now());
    }

    fn finish_at(mut self, health: Health, now: Instant) {
        self.done = true;
        self.breaker.record(self.probe, health, now);
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if !self.done {
            self.breaker
                .record(self.probe, Health::Unknown, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time as the tests make it pass.
    struct Clock(Instant);

    impl Clock {
        fn advance(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    fn run(b: &Arc<Breaker>, c: &Clock, h: Health) {
        b.admit_at(c.0).expect("admitted").finish_at(h, c.0);
    }

    #[test]
    fn trips_probes_and_recovers() {
        let b = Arc::new(Breaker::default());
        let mut c = Clock(Instant::now());
        // Timeouts with an answer in between do not trip it.
        for _ in 0..TRIP_AFTER - 1 {
            run(&b, &c, Health::TimedOut);
        }
        run(&b, &c, Health::Answered);
        for _ in 0..TRIP_AFTER - 1 {
            run(&b, &c, Health::TimedOut);
        }
        run(&b, &c, Health::Unknown);
        assert!(!b.is_open());
        run(&b, &c, Health::TimedOut);
        assert!(b.is_open());
        // Open: messages skip their checks until a probe is due.
        assert!(b.admit_at(c.0).is_none());
        c.advance(PROBE_INTERVAL);
        let probe = b.admit_at(c.0).expect("a probe is due");
        assert!(b.admit_at(c.0).is_none(), "one probe at a time");
        probe.finish_at(Health::TimedOut, c.0);
        assert!(b.admit_at(c.0).is_none());
        c.advance(PROBE_INTERVAL);
        // A probe with nothing to tell hands the slot to the next message.
        run(&b, &c, Health::Unknown);
        let probe = b.admit_at(c.0).expect("next message probes");
        probe.finish_at(Health::Answered, c.0);
        assert!(!b.is_open());
        assert!(b.admit_at(c.0).is_some());
    }

    #[test]
    fn a_dropped_probe_frees_its_slot() {
        let b = Arc::new(Breaker::default());
        let mut c = Clock(Instant::now());
        for _ in 0..TRIP_AFTER {
            run(&b, &c, Health::TimedOut);
        }
        c.advance(PROBE_INTERVAL);
        drop(b.admit_at(c.0).unwrap());
        assert!(b.admit_at(c.0).is_some());
    }

    #[test]
    fn late_results_of_messages_admitted_before_it_opened() {
        let b = Arc::new(Breaker::default());
        let c = Clock(Instant::now());
        let (slow, answered) = (b.admit_at(c.0).unwrap(), b.admit_at(c.0).unwrap());
        for _ in 0..TRIP_AFTER {
            run(&b, &c, Health::TimedOut);
        }
        // A late timeout changes nothing; a late answer shows the resolver
        // works.
        slow.finish_at(Health::TimedOut, c.0);
        assert!(b.is_open() && b.admit_at(c.0).is_none());
        answered.finish_at(Health::Answered, c.0);
        assert!(!b.is_open());
    }
}
