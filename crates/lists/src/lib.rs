//! Mailing lists (R-LIST-1..6).
//!
//! The pure parts, free of I/O: keyed tokens ([`token`]), the off-peak
//! windows ([`offpeak`]), the headers of list mail ([`headers`]) and the
//! reading of bounces and complaints ([`bounce`]). Over the store, the
//! [`Lists`] engine: the subscription life cycle with its consent ledger
//! ([`members`]) and the mail it sends ([`mail`]). The SMTP side, the
//! service layer and the web pages call the engine at their decision
//! points; the rules' refusals name their R-id ([`Refusal`]).

pub mod bounce;
pub mod bounces;
pub mod headers;
pub mod mail;
pub mod members;
pub mod offpeak;
pub mod posts;
pub mod token;
mod worker;

use mailhost_config::Config;
use mailhost_store::{Store, StoreError};
use std::sync::Arc;

/// Where a request came from, for the consent ledger.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The client: the TCP peer, or the address a trusted proxy named.
    pub ip: Option<String>,
    /// mail | web | invite | api | one-click | cli | bounce
    pub method: &'static str,
    /// The Message-ID of the mail that asked (mail methods).
    pub message_id: Option<String>,
    /// The browser's User-Agent (web methods).
    pub user_agent: Option<String>,
}

/// What kind of refusal, so each surface answers in its own terms
/// (an SMTP reply code, an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Invalid,
    NotFound,
    /// Not allowed, and no retry will change it.
    Forbidden,
    /// The state does not allow it (a used token).
    Conflict,
    /// A size limit (R-LIST-5).
    Limit,
    /// A rate limit: later may work.
    TryLater,
    /// The server failed; later may work.
    Internal,
}

/// A refusal naming its rule (R-ABUSE-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: Why,
    pub rule: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(why: Why, rule: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            why,
            rule,
            message: message.into(),
        }
    }
    /// `text (R-LIST-1)`: the message with its rule.
    pub fn text(&self) -> String {
        if self.rule.is_empty() {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, self.rule)
        }
    }
    /// The SMTP reply code and enhanced status (RFC 3463) for it.
    pub fn smtp(&self) -> (u16, &'static str) {
        match self.why {
            Why::Invalid => (550, "5.1.3"),
            Why::NotFound => (550, "5.1.1"),
            Why::Forbidden => (550, "5.7.1"),
            Why::Conflict => (550, "5.7.1"),
            Why::Limit => (552, "5.3.4"),
            Why::TryLater => (450, "4.7.1"),
            Why::Internal => (451, "4.3.0"),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for Refusal {}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Refusal::new(Why::NotFound, "", m),
            StoreError::Invalid(m) => Refusal::new(Why::Invalid, "", m),
            StoreError::Conflict(m) => Refusal::new(Why::Conflict, "", m),
            StoreError::LimitReached(m) | StoreError::OverQuota(m) => {
                Refusal::new(Why::Limit, "", m)
            }
            StoreError::Backend(m) => {
                tracing::error!("store: {m}");
                Refusal::new(
                    Why::Internal,
                    "",
                    "the server could not complete this; try again later",
                )
            }
        }
    }
}

pub type Result<T, E = Refusal> = std::result::Result<T, E>;

/// The list engine over one store; cheap to clone.
#[derive(Clone)]
pub struct Lists {
    pub(crate) store: Store,
    pub(crate) config: Arc<Config>,
    pub(crate) secret: Arc<Vec<u8>>,
    pub(crate) tz: jiff::tz::TimeZone,
    pub(crate) windows: Arc<offpeak::Windows>,
    /// Wakes the list worker; and the delivery worker once copies are queued.
    pub(crate) wake: Option<Arc<tokio::sync::Notify>>,
    pub(crate) delivery_wake: Option<Arc<tokio::sync::Notify>>,
    pub(crate) signer: Option<Arc<mailhost_mailauth::Signer>>,
    /// Asks the authors' DMARC records (`from_rewrite = "dmarc"`).
    pub(crate) dmarc: Option<Arc<mailhost_mailauth::Verifier>>,
}

impl Lists {
    /// The engine; fails on a bad `server.timezone` or `lists.offpeak`.
    pub async fn new(store: Store, config: Arc<Config>) -> std::result::Result<Lists, String> {
        let tz =
            offpeak::tz(&config.server.timezone).map_err(|e| format!("server.timezone: {e}"))?;
        let windows =
            offpeak::parse(&config.lists.offpeak).map_err(|e| format!("lists.offpeak: {e}"))?;
        let secret = store
            .secret("list-tokens")
            .await
            .map_err(|e| format!("the list token key: {e}"))?;
        // Members kept before schema 14 get the keys compact tokens name
        // them by (a no-op once done).
        store
            .list_fill_keys()
            .await
            .map_err(|e| format!("list member keys: {e}"))?;
        Ok(Lists {
            store,
            config,
            secret: Arc::new(secret),
            tz,
            windows: Arc::new(windows),
            wake: None,
            delivery_wake: None,
            signer: None,
            dmarc: None,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The off-peak windows (R-LIST-4) and the zone they are read in.
    pub fn windows(&self) -> (&offpeak::Windows, &jiff::tz::TimeZone) {
        (&self.windows, &self.tz)
    }

    /// `ms` in the policy time zone with its UTC offset, as the ledger
    /// writes it: `2026-12-07T10:00:00+02:00`.
    pub fn local_time(&self, ms: i64) -> String {
        local_time(ms, &self.tz)
    }

    /// The panels' base URL for links in list mail (`lists.url`).
    pub fn base_url(&self) -> String {
        let u = self.config.lists.url.trim_end_matches('/');
        if !u.is_empty() {
            return u.to_string();
        }
        let port = self
            .config
            .listen
            .https
            .rsplit_once(':')
            .map(|(_, p)| p)
            .unwrap_or("443");
        if port == "443" || port.is_empty() {
            format!("https://{}", self.config.server.hostname)
        } else {
            format!("https://{}:{port}", self.config.server.hostname)
        }
    }
}

/// RFC 3339 with the zone's offset at that instant.
pub fn local_time(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        Err(_) => mailhost_store::rfc3339(ms),
    }
}
