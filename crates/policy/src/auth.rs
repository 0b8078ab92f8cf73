//! The `auth` decision point, shared by SMTP AUTH and POP3:
//! - R-ABUSE-4: failed logins are counted per client IP and per account
//!   over `auth_window`; each further failure waits longer before its reply
//!   (up to 8 s, at most a quarter of the lockout), and past the limits the IP or account is locked out for
//!   `auth_lockout`.
//! - R-POP-3: at most `pop_logins_per_hour` POP3 logins per mailbox; beyond
//!   that logins fail for `pop_lockout`.
//!
//! A locked-out login fails exactly like a wrong password, so that neither
//! the limits nor the replies tell whether an account exists. The counts
//! live in the store: they survive restarts and hold across nodes.

use crate::now_ms;
use mailhost_config::Config;
use mailhost_store::{address::login_to_address, Evidence, Store};
use std::time::Duration;

pub struct AuthGuard {
    store: Store,
    per_ip: i64,
    per_account: i64,
    window_ms: i64,
    lockout_ms: i64,
    pop_per_hour: i64,
    pop_lockout_ms: i64,
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Logins name the same account in several spellings (`local%domain`,
/// case): count them under one key.
fn login_key(login: &str) -> String {
    format!(
        "login:{}",
        login_to_address(login).unwrap_or_else(|| login.trim().to_ascii_lowercase())
    )
}

fn pop_key(account: &str) -> String {
    format!("pop:{account}")
}

impl AuthGuard {
    pub fn new(config: &Config, store: Store) -> Self {
        let p = &config.policy;
        AuthGuard {
            store,
            per_ip: p.auth_failures_per_ip as i64,
            per_account: p.auth_failures_per_account as i64,
            window_ms: p.auth_window.std().as_millis() as i64,
            lockout_ms: p.auth_lockout.std().as_millis() as i64,
            pop_per_hour: p.pop_logins_per_hour as i64,
            pop_lockout_ms: p.pop_lockout.std().as_millis() as i64,
        }
    }

    /// Before the password is checked: whether this IP or login is locked
    /// out (then the login fails without a check), and how long to wait
    /// before answering a failure (growing with recent failures from the IP).
    pub async fn before(&self, ip: &str, login: &str, pop: bool) -> (bool, Duration) {
        let since = now_ms() - self.window_ms;
        let fails = self
            .store
            .auth_events_since(&ip_key(ip), "fail", since)
            .await
            .unwrap_or(0);
        // 250 ms doubling up to 8 s, and never more than a quarter of the
        // lockout: a delay must not outlast the lockout it leads to.
        let cap = (self.lockout_ms / 4).clamp(0, 8000) as u64;
        let delay = if fails < 2 {
            Duration::ZERO
        } else {
            Duration::from_millis((250u64 << (fails - 2).min(5)).min(cap))
        };
        let mut keys = vec![ip_key(ip), login_key(login)];
        if pop {
            if let Some(a) = login_to_address(login) {
                keys.push(pop_key(&a));
            }
        }
        for k in &keys {
            // A store failure locks nothing out: the password check still runs.
            if let Ok(Some(_)) = self.store.lockout_until(k).await {
                return (true, delay);
            }
        }
        (false, delay)
    }

    /// A failed login: counted for the IP and the login; past a limit, that
    /// key is locked out and the decision recorded.
    pub async fn failed(&self, ip: &str, login: &str, service: &str) {
        let keys = [ip_key(ip), login_key(login)];
        if let Err(e) = self.store.auth_event(&keys, "fail").await {
            tracing::error!("recording a failed login: {e}");
            return;
        }
        let since = now_ms() - self.window_ms;
        for (key, limit) in [(&keys[0], self.per_ip), (&keys[1], self.per_account)] {
            let n = self
                .store
                .auth_events_since(key, "fail", since)
                .await
                .unwrap_or(0);
            if n >= limit {
                let until = now_ms() + self.lockout_ms;
                let e = Evidence {
                    ip: ip.into(),
                    account: login_to_address(login),
                    rule: "R-ABUSE-4".into(),
                    decision: "lockout".into(),
                    reply: format!(
                        "{key} locked out until {} after {n} failed logins",
                        crate::rfc3339(until)
                    ),
                    service: service.into(),
                    ..Default::default()
                };
                if let Err(err) = self.store.lockout_set(key, "R-ABUSE-4", until, &e).await {
                    tracing::error!("placing a lockout: {err}");
                }
            }
        }
    }

    /// A successful login clears the account's failure count.
    pub async fn succeeded(&self, login: &str) {
        let _ = self
            .store
            .auth_events_clear(&login_key(login), "fail")
            .await;
    }

    /// R-POP-3: counts a successful POP3 login; false when it is over the
    /// hourly limit (the mailbox is then locked out for `pop_lockout` and
    /// the login must fail like a wrong password).
    pub async fn pop_login(&self, ip: &str, account: &str) -> bool {
        let key = pop_key(account);
        let n = self
            .store
            .auth_events_since(&key, "pop", now_ms() - 3_600_000)
            .await
            .unwrap_or(0);
        if n >= self.pop_per_hour {
            let until = now_ms() + self.pop_lockout_ms;
            let e = Evidence {
                ip: ip.into(),
                account: Some(account.into()),
                rule: "R-POP-3".into(),
                decision: "lockout".into(),
                reply: format!(
                    "more than {} POP3 logins in an hour: locked until {}",
                    self.pop_per_hour,
                    crate::rfc3339(until)
                ),
                service: "pop3".into(),
                ..Default::default()
            };
            if let Err(err) = self.store.lockout_set(&key, "R-POP-3", until, &e).await {
                tracing::error!("placing a lockout: {err}");
            }
            // The count starts afresh when the lockout ends.
            let _ = self.store.auth_events_clear(&key, "pop").await;
            return false;
        }
        if let Err(e) = self.store.auth_event(&[key], "pop").await {
            tracing::error!("recording a POP3 login: {e}");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::store;
    use mailhost_config::Duration as Dur;

    fn guard(
        store: &Store,
        per_ip: u32,
        per_account: u32,
        lockout_ms: u64,
        pop_per_hour: u32,
    ) -> AuthGuard {
        let mut c = Config::default();
        c.policy.auth_failures_per_ip = per_ip;
        c.policy.auth_failures_per_account = per_account;
        c.policy.auth_lockout = Dur(Duration::from_millis(lockout_ms));
        c.policy.pop_logins_per_hour = pop_per_hour;
        c.policy.pop_lockout = Dur(Duration::from_millis(lockout_ms));
        AuthGuard::new(&c, store.clone())
    }

    #[tokio::test]
    async fn failures_lock_out_the_account_in_every_spelling_and_then_lift() {
        let (store, _d) = store().await;
        let g = guard(&store, 100, 3, 150, 100);
        for login in ["u@a.example", "U%a.example", "u@A.EXAMPLE"] {
            assert!(!g.before("192.0.2.1", "u@a.example", false).await.0);
            g.failed("192.0.2.1", login, "submission").await;
        }
        assert!(
            g.before("198.51.100.9", "u@a.example", false).await.0,
            "locked out, from any IP"
        );
        assert!(
            !g.before("198.51.100.9", "v@a.example", false).await.0,
            "other accounts are not"
        );
        // A login name that is no account is limited just the same: the
        // limits tell nothing about which accounts exist.
        for _ in 0..3 {
            g.failed("192.0.2.1", "nobody@a.example", "submission")
                .await;
        }
        assert!(g.before("192.0.2.2", "nobody@a.example", false).await.0);
        let ev = store
            .evidence_search(&mailhost_store::EvidenceQuery {
                rule: Some("R-ABUSE-4".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ev.len(), 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !g.before("192.0.2.1", "u@a.example", false).await.0,
            "the lockout ends by itself"
        );
    }

    #[tokio::test]
    async fn failures_from_one_ip_slow_down_then_lock_it_out() {
        let (store, _d) = store().await;
        let g = guard(&store, 4, 100, 60_000, 100);
        assert_eq!(
            g.before("192.0.2.1", "x@a.example", false).await.1,
            Duration::ZERO
        );
        for i in 0..3 {
            g.failed("192.0.2.1", &format!("user{i}@a.example"), "pop3")
                .await;
        }
        let (locked, delay) = g.before("192.0.2.1", "u@a.example", false).await;
        assert!(!locked && delay == Duration::from_millis(500), "{delay:?}");
        g.failed("192.0.2.1", "user9@a.example", "pop3").await;
        assert!(
            g.before("192.0.2.1", "u@a.example", false).await.0,
            "the IP is locked out, for every account"
        );
        assert!(
            !g.before("192.0.2.7", "u@a.example", false).await.0,
            "not other IPs"
        );
        // A success clears the account's count, not the IP's.
        g.succeeded("u@a.example").await;
        assert!(g.before("192.0.2.1", "u@a.example", false).await.0);
    }

    #[tokio::test]
    async fn pop_logins_per_hour_lock_the_mailbox_for_pop_only() {
        let (store, _d) = store().await;
        let g = guard(&store, 100, 100, 150, 2);
        assert!(g.pop_login("192.0.2.1", "u@a.example").await);
        assert!(g.pop_login("192.0.2.1", "u@a.example").await);
        assert!(
            !g.pop_login("192.0.2.1", "u@a.example").await,
            "the third in an hour"
        );
        assert!(g.before("192.0.2.1", "u@a.example", true).await.0);
        assert!(
            !g.before("192.0.2.1", "u@a.example", false).await.0,
            "SMTP AUTH is not a POP3 login"
        );
        assert!(g.pop_login("192.0.2.1", "v@a.example").await, "per mailbox");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!g.before("192.0.2.1", "u@a.example", true).await.0);
        assert!(
            g.pop_login("192.0.2.1", "u@a.example").await,
            "the count started afresh"
        );
    }
}
