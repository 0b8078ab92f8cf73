//! TRANSACTION state (RFC 1939 §5, §7) and QUIT's UPDATE state (§6).
//!
//! Message numbers index the snapshot taken at login; a message marked
//! deleted stays numbered but is refused and left out of STAT and LIST.

use crate::parse::Command;
use crate::retr::top_len;
use crate::session::{End, Flow, Io, Maildrop};
use mailhost_store::StoreError;
use std::fmt::Write as _;
use tracing::{info, warn};

/// Listings are sent in pieces of about this size.
const LISTING_PIECE: usize = 16 * 1024;
/// Read-ahead for pipelined RETR: at most this many messages or bytes.
const AHEAD_MESSAGES: usize = 64;
const AHEAD_BYTES: u64 = 2 * 1024 * 1024;

impl Maildrop {
    pub(crate) async fn transaction(&mut self, io: &mut Io, cmd: Command) -> Flow {
        match cmd {
            Command::Stat => self.cmd_stat(io),
            Command::List(n) => self.cmd_list(io, n).await,
            Command::Uidl(n) => self.cmd_uidl(io, n).await,
            Command::Retr(n) => self.cmd_retr(io, n).await,
            Command::Top(n, lines) => self.cmd_top(io, n, lines).await,
            Command::Dele(n) => self.cmd_dele(io, n),
            Command::Rset => self.cmd_rset(io),
            Command::Noop => {
                io.ok("");
                Ok(())
            }
            Command::Quit => self.cmd_quit(io).await,
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } | Command::Stls => {
                io.bad("command not valid after login")
            }
            // Dispatched before the state is looked at.
            Command::Capa => io.cmd_capa(),
        }
    }

    /// Index of live message `n`, or the reply text refusing it.
    fn index(&self, n: u32) -> Result<usize, String> {
        let i = (n as usize).wrapping_sub(1);
        match self.msgs.get(i) {
            None => Err(format!("no such message: {n}")),
            Some(m) if m.deleted => Err(format!("message {n} already deleted")),
            Some(_) => Ok(i),
        }
    }

    fn totals(&self) -> (usize, u64) {
        self.msgs
            .iter()
            .filter(|m| !m.deleted)
            .fold((0, 0), |(n, o), m| (n + 1, o + m.meta.size))
    }

    /// STAT — TRANSACTION. RFC 1939 §5: count and octets of live messages.
    fn cmd_stat(&mut self, io: &mut Io) -> Flow {
        let (n, octets) = self.totals();
        io.ok(&format!("{n} {octets}"));
        Ok(())
    }

    /// LIST [msg] — TRANSACTION. RFC 1939 §5. Sizes are the exact octets
    /// RETR sends before byte-stuffing (stored mail is already CRLF).
    async fn cmd_list(&mut self, io: &mut Io, n: Option<u32>) -> Flow {
        self.listing(io, n, |m| m.meta.size.to_string()).await
    }

    /// UIDL [msg] — TRANSACTION. RFC 1939 §7: UIDs from the store, stable
    /// across sessions.
    async fn cmd_uidl(&mut self, io: &mut Io, n: Option<u32>) -> Flow {
        self.listing(io, n, |m| m.meta.uid.clone()).await
    }

    async fn listing(
        &mut self,
        io: &mut Io,
        n: Option<u32>,
        field: impl Fn(&crate::session::Msg) -> String,
    ) -> Flow {
        if let Some(n) = n {
            match self.index(n) {
                Ok(i) => io.ok(&format!("{n} {}", field(&self.msgs[i]))),
                Err(text) => io.err(&text),
            }
            return Ok(());
        }
        let (count, octets) = self.totals();
        io.ok(&format!("{count} messages ({octets} octets)"));
        let mut piece = String::new();
        for (i, m) in self.msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
            let _ = write!(piece, "{} {}\r\n", i + 1, field(m));
            if piece.len() >= LISTING_PIECE {
                io.send(piece.as_bytes()).await?;
                piece.clear();
            }
        }
        piece.push_str(".\r\n");
        io.send(piece.as_bytes()).await
    }

    /// The message as stored, or the reply refusing it.
    async fn load(&mut self, io: &mut Io, n: u32) -> Result<Option<Vec<u8>>, End> {
        let i = match self.index(n) {
            Ok(i) => i,
            Err(text) => {
                io.err(&text);
                return Ok(None);
            }
        };
        let id = self.msgs[i].meta.id;
        while let Some((aid, _)) = self.ahead.front() {
            if *aid >= id {
                break;
            }
            self.ahead.pop_front();
        }
        if let Some((_, data)) = self.ahead.pop_front().filter(|(aid, _)| *aid == id) {
            return Ok(Some(data));
        }
        self.ahead.clear();
        // A client that pipelines RETRs (more commands already waiting) gets
        // the following messages read in the same query: one store round
        // trip for a run of retrievals instead of one each.
        if io.conn.buffered().len() > 4 {
            let last = self.read_ahead_end(i);
            if last > id {
                match io
                    .ctx
                    .store
                    .read_messages_range(self.account.id, id, last)
                    .await
                {
                    Ok(batch) => {
                        self.ahead = batch.into();
                        if let Some((_, data)) =
                            self.ahead.pop_front().filter(|(aid, _)| *aid == id)
                        {
                            return Ok(Some(data));
                        }
                        self.ahead.clear();
                    }
                    Err(e) => {
                        warn!(account = %self.account.address, "pop3: read-ahead failed: {e}")
                    }
                }
            }
        }
        match io.ctx.store.read_message(self.account.id, id).await {
            Ok(data) => Ok(Some(data)),
            // Removed under us (e.g. by retention, R-POP-2).
            Err(StoreError::NotFound(_)) => {
                io.err(&format!("message {n} no longer exists"));
                Ok(None)
            }
            Err(e) => {
                warn!(account = %self.account.address, "pop3: cannot read message: {e}");
                io.err("[SYS/TEMP] cannot read the message now; please try again later");
                Ok(None)
            }
        }
    }

    /// The store id of the last message to read ahead from index `i`:
    /// live messages up to the count and byte bounds.
    fn read_ahead_end(&self, i: usize) -> i64 {
        let mut bytes = 0;
        let mut last = self.msgs[i].meta.id;
        for m in self.msgs[i..]
            .iter()
            .filter(|m| !m.deleted)
            .take(AHEAD_MESSAGES)
        {
            bytes += m.meta.size;
            if bytes > AHEAD_BYTES && last != self.msgs[i].meta.id {
                break;
            }
            last = m.meta.id;
        }
        last
    }

    /// RETR msg — TRANSACTION. RFC 1939 §5.
    async fn cmd_retr(&mut self, io: &mut Io, n: u32) -> Flow {
        let Some(data) = self.load(io, n).await? else {
            return Ok(());
        };
        io.ok(&format!("{} octets", data.len()));
        io.send_multiline(&data).await?;
        if let Ok(i) = self.index(n) {
            self.msgs[i].retrieved = true;
        }
        Ok(())
    }

    /// TOP msg n — TRANSACTION. RFC 1939 §7: the header, the blank line,
    /// then n lines of the body. Only a TOP that sends the whole message
    /// counts as a retrieval (R-POP-2: the mail has been read).
    async fn cmd_top(&mut self, io: &mut Io, n: u32, lines: u32) -> Flow {
        let Some(data) = self.load(io, n).await? else {
            return Ok(());
        };
        let len = top_len(&data, lines);
        if len == data.len() {
            if let Ok(i) = self.index(n) {
                self.msgs[i].retrieved = true;
            }
        }
        io.ok("top of message follows");
        io.send_multiline(&data[..len]).await
    }

    /// DELE msg — TRANSACTION. RFC 1939 §5: only marks; QUIT deletes.
    fn cmd_dele(&mut self, io: &mut Io, n: u32) -> Flow {
        match self.index(n) {
            Ok(i) => {
                self.msgs[i].deleted = true;
                io.ok(&format!("message {n} deleted"));
            }
            Err(text) => io.err(&text),
        }
        Ok(())
    }

    /// RSET — TRANSACTION. RFC 1939 §5: unmarks every deletion.
    fn cmd_rset(&mut self, io: &mut Io) -> Flow {
        self.msgs.iter_mut().for_each(|m| m.deleted = false);
        let (n, octets) = self.totals();
        io.ok(&format!("maildrop has {n} messages ({octets} octets)"));
        Ok(())
    }

    /// QUIT — TRANSACTION: the UPDATE state (RFC 1939 §6) removes the
    /// marked messages in one transaction, then the session ends.
    async fn cmd_quit(&mut self, io: &mut Io) -> Flow {
        let ids: Vec<i64> = self
            .msgs
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.meta.id)
            .collect();
        let bye = format!("{} POP3 server signing off", io.ctx.hostname);
        if ids.is_empty() {
            io.ok(&bye);
            return Err(End::Quit);
        }
        match io.ctx.store.delete_messages(self.account.id, &ids).await {
            Ok(()) => {
                info!(account = %self.account.address, deleted = ids.len(), "pop3 update");
                self.msgs.retain(|m| !m.deleted);
                io.ok(&format!("{bye} ({} messages deleted)", ids.len()));
            }
            Err(e) => {
                warn!(account = %self.account.address, "pop3: UPDATE failed: {e}");
                io.err("[SYS/TEMP] some deleted messages not removed; please try again later");
            }
        }
        Err(End::Quit)
    }
}
