//! Mailbox services of the hosting manual (seed 002), between the
//! protocols and the store:
//! - [`srs`]: the Sender Rewriting Scheme for forwarded mail (R-IN-4);
//! - [`expand`]: where a recipient's mail goes: its mailboxes through
//!   forwarding, postmaster@'s contact (R-ADDR-4), all@'s members
//!   (R-ADDR-5);
//! - [`notice`]: the bilingual quota notices (R-IN-3);
//! - [`autoreply`]: the autoresponder's rules and replies (R-IN-5,
//!   RFC 3834);
//! - [`retention`]: the job that deletes read mail (R-POP-2).

pub mod autoreply;
pub mod expand;
pub mod notice;
pub mod retention;
pub mod srs;

pub use expand::{Forward, Plan};
pub use srs::{Srs, SrsError};
