//! Outbound delivery (R-OUT-9): the queue worker that sends accepted mail
//! on to other mail servers, and tells the sender when it cannot.
//!
//! Layout, from the queue outwards:
//! - [`worker`]: the loop. Claims due rows of the durable queue
//!   (`mailhost-store`), groups them by domain and by message, limits
//!   connections, and records each recipient's outcome: done, retry with
//!   backoff (and, once, a delay notice), or failed with a bounce.
//! - [`route`]: where a domain's mail goes — a static route from
//!   `[delivery] routes`, or its MX hosts (RFC 5321 §5.1, RFC 7505), each
//!   with its addresses.
//! - [`client`]: the SMTP client for one connection: greeting, EHLO,
//!   opportunistic STARTTLS, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, and one
//!   transaction per message.
//! - [`data`]: dot-stuffing the body on its way out (RFC 5321 §4.5.2).
//! - [`reply`]: SMTP replies as the client reads them, a pure parser.
//! - [`tls`]: the rustls client configuration for opportunistic TLS
//!   (RFC 7435).
//! - [`outcome`]: what happened to a recipient, in the terms a DSN needs
//!   (status code, remote host, the remote's reply).
//! - `record`: writes each recipient's outcome to the queue (done, retry
//!   with backoff, failed) with the bounce or delay notice it calls for.
//! - [`dsn`]: delivery status notifications (RFC 3464) for failures and
//!   delays.
//!
//! Its place in the whole: the SMTP server and submission store remote
//! recipients as queue rows in the same transaction as the message (before
//! they answer 250) and then wake [`run`]; `serve` spawns [`run`] once per
//! node. A row leaves the queue only when its outcome is recorded, so a crash
//! at any point means the message is sent again, never lost (RFC 5321 §6.1;
//! the duplicate window is only between the remote's 250 and our commit,
//! RFC 1047).

pub mod client;
pub mod data;
pub mod dsn;
pub mod outcome;
mod record;
pub mod reply;
pub mod route;
pub mod tls;
pub mod worker;

pub use worker::run;

/// What the delivery worker needs from the running server.
pub struct DeliveryCtx {
    pub store: mailhost_store::Store,
    pub config: std::sync::Arc<mailhost_config::Config>,
    /// This node's name: the lease owner for claimed queue rows.
    pub node: String,
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The policy engine's "before delivery" decision point, if any.
    pub policy: Option<std::sync::Arc<mailhost_policy::Engine>>,
    /// Decodes SRS senders of forwarded mail, so that its bounces reach
    /// the original sender (R-IN-4).
    pub srs: Option<std::sync::Arc<mailhost_mailbox::Srs>>,
}
