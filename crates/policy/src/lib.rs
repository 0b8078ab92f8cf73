//! The acceptable-use policy engine.
//!
//! Protocol code calls the [`Engine`] at named decision points — connect,
//! MAIL, RCPT, end of DATA, before delivery (and [`AuthGuard`] at login) —
//! and applies the [`Verdict`] it returns; rules
//! never touch the socket (the shape of maddy's checks). Each rule is one
//! file under `rules/`, cites its SPEC id, and has its own tests. Adding a
//! rule means one file and one line in [`Engine::new`].
//!
//! A refusal carries the SMTP reply code, the enhanced status code (RFC
//! 3463), the rule id and a reason that tells the sender what to do
//! (R-ABUSE-2).

pub mod auth;
pub mod bulk_index;
pub mod fingerprint;
pub mod rules;
pub mod state;

pub use auth::AuthGuard;

use mailhost_config::Config;
use mailhost_store::{BulkTrack, Resolved, SenderProfile};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

/// Why something was refused, in the words the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// SMTP reply code (4xx temporary, 5xx permanent).
    pub code: u16,
    /// RFC 3463 enhanced status code, e.g. "5.7.1".
    pub enhanced: &'static str,
    /// The SPEC rule id, e.g. "R-IN-1".
    pub rule: &'static str,
    /// What happened and what to do about it.
    pub reason: String,
    /// The rule already wrote its own evidence record (a hold).
    pub recorded: bool,
}

impl Refusal {
    pub fn new(
        code: u16,
        enhanced: &'static str,
        rule: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Refusal {
            code,
            enhanced,
            rule,
            reason: reason.into(),
            recorded: false,
        }
    }

    /// The reply text, naming the rule: `reason (R-X-n)`.
    pub fn text(&self) -> String {
        format!("{} ({})", self.reason, self.rule)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Refuse(Refusal),
}

/// A boxed check result: rules may consult shared state in the store.
pub type Check<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

pub fn allow<'a>() -> Check<'a> {
    ready(Verdict::Allow)
}

/// A verdict known without waiting (rules that need no shared state).
pub fn ready<'a>(v: Verdict) -> Check<'a> {
    Box::pin(std::future::ready(v))
}

/// Which service a session came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Port 25: mail from other servers to hosted domains.
    Mx,
    /// Ports 587/465: authenticated submission.
    Submission,
}

/// What a rule may know about the session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub peer: IpAddr,
    pub service: Service,
    pub tls: bool,
    pub helo: String,
    /// The authenticated account, if any.
    pub account: Option<String>,
    /// The addresses the account may send as: its mailbox and the aliases
    /// that deliver to it (R-OUT-4). Empty without an account.
    pub identities: Vec<String>,
    /// The account's package limits and customer, read when it logs in.
    pub profile: Option<SenderProfile>,
}

impl SessionInfo {
    /// Whether `addr` is one of the account's own addresses.
    pub fn owns(&self, addr: &str) -> bool {
        self.identities.iter().any(|i| i.eq_ignore_ascii_case(addr))
    }
}

/// What the header section of a message says, read once at end of DATA.
#[derive(Debug, Clone, Default)]
pub struct HeaderFacts {
    /// Addresses in From: (RFC 5322 §3.6.2 allows several).
    pub from: Vec<String>,
    /// The Sender: address, if present.
    pub sender: Option<String>,
}

pub struct MailCtx<'a> {
    pub session: &'a SessionInfo,
    pub sender: &'a str,
    /// The SIZE parameter of MAIL FROM (RFC 1870), if given.
    pub declared_size: Option<u64>,
}

pub struct RcptCtx<'a> {
    pub session: &'a SessionInfo,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub resolved: &'a Resolved,
    /// Recipients already accepted for this message.
    pub accepted: usize,
    /// Of those, recipients outside this server (they count against
    /// hourly limits once the message is accepted).
    pub remote_accepted: usize,
}

pub struct DataCtx<'a> {
    pub session: &'a SessionInfo,
    pub sender: &'a str,
    pub recipients: &'a [String],
    pub size: u64,
    pub headers: &'a HeaderFacts,
    /// The message as the client sent it (without our trace header).
    pub body: &'a [u8],
    /// What rules want written with the message if it is accepted.
    pub effects: &'a Effects,
}

/// Writes that belong in the accepted message's own transaction, so that
/// a message and the policy state it changes commit together.
#[derive(Debug, Default)]
pub struct Effects {
    /// R-OUT-8: the message's place in the bulk window.
    pub bulk: std::sync::Mutex<Option<BulkTrack>>,
}

/// A queued recipient of a message, about to be sent on.
pub struct QueuedCtx<'a> {
    pub item: &'a mailhost_store::QueueItem,
}

/// One policy rule. Every hook defaults to allow.
pub trait Rule: Send + Sync {
    /// The SPEC id this rule implements.
    fn id(&self) -> &'static str;
    fn on_connect<'a>(&'a self, _s: &'a SessionInfo) -> Check<'a> {
        allow()
    }
    fn on_mail<'a>(&'a self, _m: &'a MailCtx<'a>) -> Check<'a> {
        allow()
    }
    fn on_rcpt<'a>(&'a self, _r: &'a RcptCtx<'a>) -> Check<'a> {
        allow()
    }
    fn on_data<'a>(&'a self, _d: &'a DataCtx<'a>) -> Check<'a> {
        allow()
    }
    /// Before delivery: a 4xx refusal defers the message, a 5xx one
    /// bounces it (RFC 3464 DSN).
    fn before_delivery<'a>(&'a self, _q: &'a QueuedCtx<'a>) -> Check<'a> {
        allow()
    }
}

/// The rules in force, run in order; the first refusal wins.
pub struct Engine {
    rules: Vec<Box<dyn Rule>>,
    pub config: Arc<Config>,
    /// The `auth` decision point (R-ABUSE-4, R-POP-3).
    pub auth: Arc<AuthGuard>,
    /// This node's index of the bulk-mail window (R-OUT-8); `serve` keeps
    /// it current with [`bulk_index::follow_bulk_window`].
    pub bulk: Arc<bulk_index::BulkIndex>,
    /// Holds and hourly counts, cached per node (see [`state`]).
    pub state: Arc<state::PolicyState>,
}

/// A clock in milliseconds since the epoch (the store's time unit).
pub fn now_ms() -> i64 {
    mailhost_store::now_ms()
}

/// Times in refusals and the evidence log carry their UTC offset.
pub use mailhost_store::rfc3339;

macro_rules! hook {
    ($name:ident, $ctx:ty) => {
        pub async fn $name(&self, c: &$ctx) -> Verdict {
            for r in &self.rules {
                let v = r.$name(c).await;
                if v != Verdict::Allow {
                    return v;
                }
            }
            Verdict::Allow
        }
    };
}

impl Engine {
    pub fn new(config: Arc<Config>, store: mailhost_store::Store) -> Engine {
        let p = &config.policy;
        let auth = Arc::new(AuthGuard::new(&config, store.clone()));
        let hold_ms = p.hold_duration.std().as_millis() as i64;
        let bulk = Arc::new(bulk_index::BulkIndex::new(p.bulk_window.std()));
        let state = Arc::new(state::PolicyState::new(store.clone()));
        // The rules in order. Those marked `aup` are the provider's
        // acceptable-use policy and run only with `policy.enforce`; the
        // others keep the server safe and always run.
        let all: Vec<(bool, Box<dyn Rule>)> = vec![
            // Holds first: a held account hears about its hold, not about
            // whatever else is wrong.
            (
                true,
                Box::new(rules::holds::NotOnHold {
                    state: state.clone(),
                }),
            ),
            (
                true,
                Box::new(rules::holds::SuspendedSender {
                    state: state.clone(),
                }),
            ),
            (
                false,
                Box::new(rules::size::MessageSize {
                    max: config.server.max_message_size.0,
                }),
            ),
            (
                false,
                Box::new(rules::submission::SubmissionNeedsAuth {
                    pop_before_smtp: p.pop_before_smtp.std(),
                }),
            ),
            (true, Box::new(rules::identity::SenderIdentity)),
            (false, Box::new(rules::relay::NoRelay)),
            (false, Box::new(rules::recipients::KnownRecipient)),
            (
                false,
                Box::new(rules::all_from::AllFromRule {
                    who: p.all_from,
                    store: store.clone(),
                }),
            ),
            (
                true,
                Box::new(rules::recipients::MaxRecipients {
                    max: p.max_recipients as usize,
                }),
            ),
            (
                true,
                Box::new(rules::hourly::AccountHourly {
                    state: state.clone(),
                    limit: p.hourly_limit as i64,
                    hold_ms,
                }),
            ),
            (
                true,
                Box::new(rules::hourly::DomainHourly {
                    state: state.clone(),
                    limit: p.domain_hourly_limit as i64,
                }),
            ),
            (
                true,
                Box::new(rules::bulk::BulkMail {
                    state: state.clone(),
                    index: bulk.clone(),
                    threshold: p.bulk_threshold as i64,
                    window_ms: p.bulk_window.std().as_millis() as i64,
                    similarity: p.bulk_similarity,
                    hold_ms,
                }),
            ),
        ];
        let rules = all
            .into_iter()
            .filter(|(aup, _)| p.enforce || !aup)
            .map(|(_, r)| r)
            .collect();
        Engine {
            rules,
            config,
            auth,
            bulk,
            state,
        }
    }

    pub fn rule_ids(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.id()).collect()
    }

    hook!(on_connect, SessionInfo);
    hook!(on_mail, MailCtx<'_>);
    hook!(on_rcpt, RcptCtx<'_>);
    hook!(on_data, DataCtx<'_>);
    hook!(before_delivery, QueuedCtx<'_>);
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_has_the_offset() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            super::rfc3339(1_795_367_261_000),
            "2026-11-22T17:07:41+00:00"
        );
        assert_eq!(super::rfc3339(951_782_400_999), "2000-02-29T00:00:00+00:00");
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A store in a temporary directory with one domain (contact
    /// boss@a.example) and the mailboxes u@ and v@ a.example.
    pub async fn store() -> (mailhost_store::Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            mailhost_store::Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
                .await
                .unwrap();
        store
            .domain_add("a.example", "boss@a.example", None)
            .await
            .unwrap();
        for u in ["u@a.example", "v@a.example"] {
            store.user_add(u, "pw-123456", None, None).await.unwrap();
        }
        (store, dir)
    }

    /// Commits a message from `account` to `n` remote recipients, counted
    /// as submission counts it.
    pub async fn sent(store: &mailhost_store::Store, account: &str, n: usize) {
        let domain = account.rsplit_once('@').unwrap().1.to_string();
        store
            .deliver(mailhost_store::NewMessage {
                body: b"Subject: x\r\n\r\nx\r\n".to_vec(),
                outbound: (0..n)
                    .map(|i| mailhost_store::Outbound {
                        sender: account.into(),
                        rcpt: format!("r{i}@remote.example"),
                        account: Some(account.into()),
                    })
                    .collect(),
                send_log: Some((account.into(), domain, n as i64)),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    pub fn session(service: Service, account: Option<&str>) -> SessionInfo {
        SessionInfo {
            peer: "192.0.2.1".parse().unwrap(),
            service,
            tls: false,
            helo: "client.example".into(),
            account: account.map(str::to_string),
            identities: account.map(|a| vec![a.to_string()]).unwrap_or_default(),
            profile: None,
        }
    }
}
