//! I/O-free IMAP protocol pieces, in the style of `smtp-proto`: bytes in,
//! typed values out, no sockets, no session state, no policy.
//!
//! - [`frame`]: splits the client's byte stream into whole commands,
//!   literals included (RFC 9051 §4.3 synchronizing literals, RFC 7888
//!   LITERAL+ / LITERAL-), with bounded lines and literals;
//! - [`types`]: the vocabulary — commands, fetch items, search keys;
//! - [`parse`]: a framed command → [`types::Request`] (or a `BAD`
//!   reason);
//! - [`seqset`]: sequence sets, resolved against a mailbox;
//! - [`utf7`]: modified UTF-7 mailbox names (RFC 9051 §5.1.3);
//! - [`names`]: mailbox names, wire ↔ stored form; [`list`]: the LIST and LSUB answers;
//! - [`write`](mod@write): strings, literals and atoms in responses.

pub mod frame;
pub mod list;
pub mod names;
pub mod parse;
pub mod seqset;
pub mod types;
pub mod utf7;
pub mod write;
