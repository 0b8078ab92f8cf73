//! IMAP views of a stored message, I/O-free: message bytes in, rendered
//! IMAP bytes or answers out. The server computes a [`Summary`] once when a
//! message is stored, and calls [`section()`], [`binary`] and the `*_matches`
//! functions on the stored bytes for FETCH and SEARCH. The protocol
//! vocabulary (`Section`) and string writers come from `mailhost-imap-proto`.
//!
//! Layout, from the bytes up:
//!
//! - `header`: header blocks, fields as ranges of the message;
//! - `ctype`: Content-Type / -Disposition / -Transfer-Encoding /
//!   -Language values (RFC 2045, RFC 2183, RFC 3282);
//! - `mime`: the part tree and IMAP part numbering (RFC 2046, RFC 9051
//!   §6.4.5), with caps on depth and part count — shared by all below;
//! - `address`: address lists as ENVELOPE shows them (RFC 5322 §3.4);
//! - `decode`: base64, quoted-printable, RFC 2047 words, charsets;
//! - `envelope`: ENVELOPE (RFC 9051 §7.5.2);
//! - [`summary`](mod@summary): [`Summary`]: ENVELOPE, BODY, BODYSTRUCTURE, sent date;
//! - [`section`](mod@section): `BODY[section]` and `BINARY[part]` (RFC 3516);
//! - [`search`](mod@search): the text tests of SEARCH (RFC 9051 §6.4.4).
//!
//! Nothing here panics on any input, and time and memory are linear in
//! the message; `fuzz/` checks it.

mod address;
mod ctype;
mod decode;
mod envelope;
mod header;
mod mime;
pub mod search;
pub mod section;
pub mod summary;

pub use search::{address_matches, body_matches, header_matches, text_matches};
pub use section::{binary, section, BinaryError};
pub use summary::{summarize, Summary};
