//! Network plumbing shared by every protocol server.
//!
//! - [`conn`]: a connection with its own read buffer (so STARTTLS can
//!   discard what a client pipelined before the handshake) and a write
//!   buffer that is flushed only when the server needs more input — which is
//!   how replies to pipelined commands go out in one packet (RFC 2920 §3.2).
//! - `deflate`: COMPRESS=DEFLATE (RFC 4978) under a connection;
//! - [`listener`]: accept loops with a global and a per-IP connection cap,
//!   implicit TLS, and a [`Shutdown`] that stops accepting and waits for
//!   sessions.
//! - [`tls`]: the rustls server configuration, from PEM files or a
//!   self-signed pair created in `data_dir`.

pub mod conn;
mod deflate;
pub mod listener;
pub mod tls;

pub use conn::{Conn, ReadError};
pub use listener::{ConnLimits, Listener, Shutdown};
