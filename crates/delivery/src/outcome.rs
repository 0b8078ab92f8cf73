//! What happened to one recipient, in the terms a DSN reports it (RFC
//! 3464 §2.3): a status code (RFC 3463), the remote MTA, and the remote's
//! reply when there was one.

use crate::reply::Reply;

/// A failed attempt to deliver to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Permanent (5xx, bounce now) or temporary (4xx, try again later).
    pub permanent: bool,
    /// RFC 3463 status, "5.1.1".
    pub status: String,
    /// The host that answered or failed ("mx.example.org"), if any.
    pub remote: Option<String>,
    /// The remote's reply, one line (for Diagnostic-Code: smtp; …).
    pub reply: Option<String>,
    /// What went wrong, in a sentence; the queue's last_error and the
    /// human-readable part of a DSN.
    pub text: String,
}

impl Failure {
    /// A failure decided here, not by a remote server.
    pub fn local(permanent: bool, status: &str, text: impl Into<String>) -> Self {
        Failure {
            permanent,
            status: status.into(),
            remote: None,
            reply: None,
            text: text.into(),
        }
    }

    /// A failure without a reply at `host` (connection, timeout, garbage).
    pub fn at(host: &str, permanent: bool, status: &str, text: impl Into<String>) -> Self {
        Failure {
            permanent,
            status: status.into(),
            remote: Some(host.into()),
            reply: None,
            text: text.into(),
        }
    }

    /// The remote's refusal.
    pub fn reply(host: &str, r: &Reply) -> Self {
        Failure {
            permanent: r.is_permanent(),
            status: r.status(),
            remote: Some(host.into()),
            reply: Some(r.to_string()),
            text: format!("{host} said: {r}"),
        }
    }

    /// This failure made final: a temporary failure past the queue's
    /// lifetime (RFC 5321 §4.5.4.1). The status keeps the last attempt's
    /// code, as the reason the message could not be delivered.
    pub fn expired(mut self, age: &str) -> Self {
        self.permanent = true;
        self.text = format!("gave up after {age}; last attempt: {}", self.text);
        self
    }
}

/// One recipient's result from one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The host accepted responsibility (250 after DATA).
    Delivered,
    /// The host answered; the answer stands (RFC 5321 §4.2.1): 4xx is
    /// retried later, 5xx bounces.
    Failed(Failure),
    /// No answer: the connection failed, timed out, broke, or the peer did
    /// not speak SMTP. Another MX host may do better (RFC 5321 §5.1).
    NoAnswer(Failure),
}
