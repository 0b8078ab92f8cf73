//! I/O-free IMAP protocol pieces, in the style of `smtp-proto`: bytes in,
//! typed values out, no sockets, no session state, no policy.
//!
//! - [`frame`]: splits the client's byte stream into whole commands,
//!   literals included (RFC 9051 §4.3 synchronizing literals, RFC 7888
//!   LITERAL+ / LITERAL-), with bounded lines and literals;
//! - [`seqset`]: sequence sets, resolved against a mailbox.

pub mod frame;
pub mod seqset;
