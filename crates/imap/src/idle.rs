//! IDLE — authenticated or selected. RFC 2177 (RFC 9051 §6.3.13).
//!
//! Changes made on this node wake the session at once (the store's
//! notices); changes made by other nodes are found by looking at the
//! folder's MODSEQ every `limits.imap_poll`, one indexed read. The client
//! hears `* OK Still here` every `limits.imap_idle_keepalive`, which keeps
//! NAT boxes from dropping the connection.

use crate::session::{End, Flow, Session};
use mailhost_imap_proto::frame::Frame;
use mailhost_net::ReadError;
use std::time::Instant;

/// What one read during IDLE may add.
const MAX_READ: usize = 8 * 1024;

impl Session {
    pub async fn cmd_idle(&mut self, tag: &str) -> Flow {
        self.conn.write(b"+ idling\r\n");
        self.sync_full().await?;
        let notice = self.ctx.store.watch(self.account());
        let poll = self.ctx.limits.imap_poll.std();
        let keepalive = self.ctx.limits.imap_idle_keepalive.std();
        let mut last_said = Instant::now();
        loop {
            // Whatever the client sent: DONE ends IDLE; pipelined commands
            // after it stay in the framer for the main loop.
            if let Some(frame) = self.framer.next_frame() {
                return match frame {
                    Frame::Command(c) if c.bytes.eq_ignore_ascii_case(b"DONE") => {
                        self.ok(tag, "IDLE terminated")
                    }
                    _ => self.bad(Some(tag), "expected DONE to end IDLE"),
                };
            }
            self.flush().await?;
            self.conn.shrink();
            self.framer.shrink();
            let notified = notice.notified();
            tokio::pin!(notified);
            // Registers interest before the read, so a change between
            // here and the wait is not missed.
            notified.as_mut().enable();
            let woke = tokio::select! {
                r = self.conn.read_more(poll, Some(&self.ctx.shutdown), MAX_READ) => match r {
                    Ok(_) => {
                        self.framer.push(self.conn.buffered());
                        let n = self.conn.buffered().len();
                        self.conn.consume(n);
                        false
                    }
                    Err(ReadError::Timeout) => true,
                    Err(ReadError::Shutdown) => return Err(End::Shutdown),
                    Err(_) => return Err(End::Closed),
                },
                _ = &mut notified => true,
            };
            if woke {
                self.sync_full().await?;
                if last_said.elapsed() >= keepalive {
                    self.untagged("OK Still here");
                    last_said = Instant::now();
                }
                self.keep_lease().await?;
            }
        }
    }
}
