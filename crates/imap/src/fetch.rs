//! FETCH and UID FETCH — selected. RFC 9051 §6.4.5, §7.5.2; CONDSTORE's
//! CHANGEDSINCE and QRESYNC's VANISHED (RFC 7162 §3.1.4, §3.2.6); BINARY
//! (RFC 3516).
//!
//! Flags, UIDs and MODSEQs come from the session's view, so a client's
//! resync (`UID FETCH 1:* (FLAGS)`) reads nothing from the store. Sizes,
//! dates and summaries come from one indexed read per run of UIDs; bodies
//! only when asked for, a chunk of messages at a time so memory stays
//! bounded.

use crate::session::{Flow, Session};
use mailhost_imap_proto::seqset::SeqSet;
use mailhost_imap_proto::types::{FetchAtt, FetchModifiers, Section, SectionText};
use mailhost_imap_proto::write;
use mailhost_store::folders::SEEN;
use mailhost_store::{BlobSummary, FetchRow};
use std::collections::HashMap;
use tracing::warn;

/// Messages whose bodies are read at once.
const BODY_CHUNK: usize = 256;
/// Messages whose sizes and summaries are read at once.
const ROW_CHUNK: usize = 2000;

fn needs_data(a: &FetchAtt) -> bool {
    matches!(
        a,
        FetchAtt::Rfc822
            | FetchAtt::Rfc822Header
            | FetchAtt::Rfc822Text
            | FetchAtt::BodySection { .. }
            | FetchAtt::Binary { .. }
            | FetchAtt::BinarySize { .. }
    )
}

fn needs_row(a: &FetchAtt) -> bool {
    needs_data(a) || needs_summary(a) || matches!(a, FetchAtt::InternalDate | FetchAtt::Rfc822Size)
}

fn needs_summary(a: &FetchAtt) -> bool {
    matches!(
        a,
        FetchAtt::Envelope | FetchAtt::Body | FetchAtt::BodyStructure
    )
}

/// Whether fetching `a` reads the message, not only its header
/// (`policy.imap_read_retention` counts from the first read, R-POP-5).
fn reads_content(a: &FetchAtt) -> bool {
    match a {
        FetchAtt::Rfc822 | FetchAtt::Rfc822Text | FetchAtt::Binary { .. } => true,
        FetchAtt::BodySection { section, .. } => !matches!(
            section.text,
            Some(SectionText::Header | SectionText::HeaderFields { .. } | SectionText::Mime)
        ),
        _ => false,
    }
}

/// Whether fetching `a` sets \Seen (RFC 9051 §6.4.5: BODY[…], BINARY[…],
/// RFC822 and RFC822.TEXT do; the .PEEK forms do not).
fn sets_seen(a: &FetchAtt) -> bool {
    matches!(
        a,
        FetchAtt::Rfc822
            | FetchAtt::Rfc822Text
            | FetchAtt::BodySection { peek: false, .. }
            | FetchAtt::Binary { peek: false, .. }
    )
}

/// The summary of a message, computed from its content.
pub(crate) fn summary_of(data: &[u8]) -> BlobSummary {
    let s = mailhost_imap_body::summarize(data);
    BlobSummary {
        envelope: s.envelope,
        body: s.body,
        bodystructure: s.bodystructure,
        sent_at: s.sent_date,
    }
}

/// `dd-Mon-yyyy hh:mm:ss +0000` (RFC 9051 §9 date-time), in UTC.
pub(crate) fn imap_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The section as a response names it: `1.2.HEADER.FIELDS (FROM TO)`.
fn section_name(s: &Section) -> String {
    let mut out: Vec<String> = s.part.iter().map(|p| p.to_string()).collect();
    if let Some(t) = &s.text {
        out.push(match t {
            SectionText::Header => "HEADER".into(),
            SectionText::Text => "TEXT".into(),
            SectionText::Mime => "MIME".into(),
            SectionText::HeaderFields { not, fields } => format!(
                "HEADER.FIELDS{} ({})",
                if *not { ".NOT" } else { "" },
                fields
                    .iter()
                    .map(|f| f.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        });
    }
    out.join(".")
}

fn part_name(p: &[u32]) -> String {
    p.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// `<origin.count>`: the bytes from `origin`, at most `count`.
fn partial_of(data: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    match partial {
        None => data,
        Some((origin, count)) => {
            let start = (origin as usize).min(data.len());
            let end = start.saturating_add(count as usize).min(data.len());
            &data[start..end]
        }
    }
}

/// What a FETCH of one message could not answer.
enum Failure {
    UnknownCte,
}

impl Session {
    pub async fn cmd_fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: SeqSet,
        mut items: Vec<FetchAtt>,
        modifiers: FetchModifiers,
    ) -> Flow {
        let sel = self.sel.as_ref().expect("selected");
        let mut idx = match sel.resolve(&set, uid, self.saved.as_deref()) {
            Ok(i) => i,
            Err(e) => return self.bad(Some(tag), e.0),
        };
        if modifiers.vanished && !self.qresync {
            return self.bad(
                Some(tag),
                "VANISHED needs QRESYNC enabled (RFC 7162 §3.2.6)",
            );
        }
        if uid && !items.contains(&FetchAtt::Uid) {
            items.insert(0, FetchAtt::Uid);
        }
        if let Some(since) = modifiers.changed_since {
            // RFC 7162 §3.1.4: CHANGEDSINCE enables CONDSTORE and implies
            // MODSEQ; only messages changed since are answered.
            self.enable_condstore();
            if !items.contains(&FetchAtt::ModSeq) {
                items.push(FetchAtt::ModSeq);
            }
            let sel = self.sel.as_ref().expect("selected");
            idx.retain(|&i| sel.msgs[i].modseq > since);
            if modifiers.vanished {
                self.tell_vanished_earlier(&set, since).await;
            }
        }
        if items.contains(&FetchAtt::ModSeq) {
            self.enable_condstore();
        }
        // RFC 7162 §3.1: once CONDSTORE is on, every FETCH response
        // carries the message's MODSEQ.
        if self.condstore && !items.contains(&FetchAtt::ModSeq) {
            items.push(FetchAtt::ModSeq);
        }
        let read_only = self.sel.as_ref().is_some_and(|s| s.read_only);
        let mark_seen = !read_only && items.iter().any(sets_seen);
        let mut seen_now: Vec<u32> = Vec::new();
        let with_rows = items.iter().any(needs_row);
        let with_data = items.iter().any(needs_data);
        let chunk = if with_data { BODY_CHUNK } else { ROW_CHUNK };
        let mut failure = None;
        for part in idx.chunks(chunk.max(1)) {
            if mark_seen {
                self.set_seen(part, &mut seen_now).await;
            }
            let rows = if with_rows {
                match self.rows_for(part, with_data, &items).await {
                    Ok(r) => r,
                    Err(e) => return self.tempfail(tag, "fetch", e),
                }
            } else {
                HashMap::new()
            };
            for &i in part {
                let m_uid = self.sel.as_ref().expect("selected").msgs[i].uid;
                let row = rows.get(&m_uid);
                if with_rows && row.is_none() {
                    // Expunged meanwhile (RFC 9051 §7.5.1: its number
                    // stays until the expunge is told); nothing to send.
                    continue;
                }
                let add_flags = seen_now.contains(&m_uid) && !items.contains(&FetchAtt::Flags);
                match self.fetch_one(i, &items, row, add_flags) {
                    Ok(buf) => {
                        if self.conn.write_big(&buf).await.is_err() {
                            return Err(crate::session::End::Closed);
                        }
                    }
                    Err(f) => failure = Some(f),
                }
            }
        }
        if self.ctx.read_retention && items.iter().any(reads_content) {
            let sel = self.sel.as_ref().expect("selected");
            let mut uids: Vec<u32> = idx.iter().map(|&i| sel.msgs[i].uid).collect();
            uids.sort_unstable();
            let folder = sel.folder;
            if let Err(e) = self
                .ctx
                .store
                .mark_imap_read(folder, &mailhost_store::uid_runs(&uids))
                .await
            {
                warn!("imap: cannot record reads: {e}");
            }
        }
        // RFC 9051 §7.5.1: no EXPUNGE during FETCH by sequence number.
        self.sync(uid, &seen_now).await?;
        match failure {
            Some(Failure::UnknownCte) => self.no(
                tag,
                "[UNKNOWN-CTE] a part has a content transfer encoding the server cannot decode",
            ),
            None => self.ok(tag, "FETCH completed"),
        }
    }

    /// Sets \Seen on the messages of `part` that lack it (an implicit
    /// STORE, RFC 9051 §6.4.5), and in the view.
    async fn set_seen(&mut self, part: &[usize], seen_now: &mut Vec<u32>) {
        let sel = self.sel.as_ref().expect("selected");
        let mut uids: Vec<u32> = part
            .iter()
            .map(|&i| sel.msgs[i])
            .filter(|m| m.flags & SEEN == 0 && !sel.pending.contains(&m.uid))
            .map(|m| m.uid)
            .collect();
        if uids.is_empty() {
            return;
        }
        uids.sort_unstable();
        let folder = sel.folder;
        if let Err(e) = self
            .ctx
            .store
            .store_flags(folder, &mailhost_store::uid_runs(&uids), -1, SEEN, None)
            .await
        {
            warn!("imap: cannot set \\Seen: {e}");
            return;
        }
        self.ctx.store.changed(self.account());
        let sel = self.sel.as_mut().expect("selected");
        for u in &uids {
            if let Some(i) = sel.index_of(*u) {
                std::sync::Arc::make_mut(&mut sel.msgs)[i].flags |= SEEN;
            }
        }
        seen_now.extend(uids);
    }

    /// The rows of `part` by UID; summaries missing from the store are
    /// computed (from the content) and kept.
    async fn rows_for(
        &mut self,
        part: &[usize],
        data: bool,
        items: &[FetchAtt],
    ) -> mailhost_store::Result<HashMap<u32, FetchRow>> {
        let sel = self.sel.as_ref().expect("selected");
        let mut uids: Vec<u32> = part.iter().map(|&i| sel.msgs[i].uid).collect();
        uids.sort_unstable();
        let folder = sel.folder;
        let runs = mailhost_store::uid_runs(&uids);
        let rows = self.ctx.store.fetch_rows(folder, &runs, data).await?;
        let mut map: HashMap<u32, FetchRow> = rows.into_iter().map(|r| (r.uid, r)).collect();
        if items.iter().any(needs_summary) {
            let missing: Vec<u32> = map
                .values()
                .filter(|r| r.summary.is_none())
                .map(|r| r.uid)
                .collect();
            if !missing.is_empty() {
                let mut missing = missing;
                missing.sort_unstable();
                let full = if data {
                    Vec::new()
                } else {
                    self.ctx
                        .store
                        .fetch_rows(folder, &mailhost_store::uid_runs(&missing), true)
                        .await?
                };
                for u in missing {
                    let content = match map.get(&u).and_then(|r| r.data.as_deref()) {
                        Some(d) => Some(d.to_vec()),
                        None => full
                            .iter()
                            .find(|r| r.uid == u)
                            .and_then(|r| r.data.clone()),
                    };
                    let Some(content) = content else { continue };
                    let s = summary_of(&content);
                    if let Some(r) = map.get_mut(&u) {
                        if let Err(e) = self.ctx.store.save_summary(&r.blob, &s).await {
                            warn!("imap: cannot keep a summary: {e}");
                        }
                        r.summary = Some(s);
                    }
                }
            }
        }
        Ok(map)
    }

    /// One message's `* N FETCH (…)`.
    fn fetch_one(
        &self,
        i: usize,
        items: &[FetchAtt],
        row: Option<&FetchRow>,
        add_flags: bool,
    ) -> Result<Vec<u8>, Failure> {
        let sel = self.sel.as_ref().expect("selected");
        let m = sel.msgs[i];
        let mut out = format!("* {} FETCH (", i + 1).into_bytes();
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b' ');
            }
            first = false;
        };
        let data = row.and_then(|r| r.data.as_deref()).unwrap_or(&[]);
        let empty = BlobSummary::default();
        let summary = row.and_then(|r| r.summary.as_ref()).unwrap_or(&empty);
        if add_flags {
            sep(&mut out);
            out.extend_from_slice(b"FLAGS ");
            out.extend_from_slice(self.flags_list(m.flags, sel.is_recent(m.uid)).as_bytes());
        }
        for a in items {
            sep(&mut out);
            match a {
                FetchAtt::Uid => out.extend_from_slice(format!("UID {}", m.uid).as_bytes()),
                FetchAtt::Flags => {
                    out.extend_from_slice(b"FLAGS ");
                    out.extend_from_slice(
                        self.flags_list(m.flags, sel.is_recent(m.uid)).as_bytes(),
                    );
                }
                FetchAtt::ModSeq => {
                    out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes())
                }
                FetchAtt::InternalDate => {
                    let ms = row.map_or(0, |r| r.internal_ms);
                    out.extend_from_slice(format!("INTERNALDATE \"{}\"", imap_date(ms)).as_bytes());
                }
                FetchAtt::Rfc822Size => {
                    let n = row.map_or(0, |r| r.size);
                    out.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes());
                }
                FetchAtt::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    out.extend_from_slice(&summary.envelope);
                }
                FetchAtt::Body => {
                    out.extend_from_slice(b"BODY ");
                    out.extend_from_slice(&summary.body);
                }
                FetchAtt::BodyStructure => {
                    out.extend_from_slice(b"BODYSTRUCTURE ");
                    out.extend_from_slice(&summary.bodystructure);
                }
                FetchAtt::Rfc822 => {
                    out.extend_from_slice(b"RFC822 ");
                    write::literal(&mut out, data);
                }
                FetchAtt::Rfc822Header => {
                    out.extend_from_slice(b"RFC822.HEADER ");
                    let s = Section {
                        part: vec![],
                        text: Some(SectionText::Header),
                    };
                    let h = mailhost_imap_body::section(data, &s).unwrap_or_default();
                    write::literal(&mut out, &h);
                }
                FetchAtt::Rfc822Text => {
                    out.extend_from_slice(b"RFC822.TEXT ");
                    let s = Section {
                        part: vec![],
                        text: Some(SectionText::Text),
                    };
                    let t = mailhost_imap_body::section(data, &s).unwrap_or_default();
                    write::literal(&mut out, &t);
                }
                FetchAtt::BodySection {
                    section, partial, ..
                } => {
                    out.extend_from_slice(format!("BODY[{}]", section_name(section)).as_bytes());
                    if let Some((origin, _)) = partial {
                        out.extend_from_slice(format!("<{origin}>").as_bytes());
                    }
                    out.push(b' ');
                    // The whole message is written from the row itself.
                    let content: Option<std::borrow::Cow<[u8]>> =
                        if section.part.is_empty() && section.text.is_none() {
                            Some(std::borrow::Cow::Borrowed(data))
                        } else {
                            mailhost_imap_body::section(data, section).map(std::borrow::Cow::Owned)
                        };
                    match content {
                        Some(c) => write::literal(&mut out, partial_of(&c, *partial)),
                        None => out.extend_from_slice(b"NIL"),
                    }
                }
                FetchAtt::Binary { part, partial, .. } => {
                    out.extend_from_slice(format!("BINARY[{}]", part_name(part)).as_bytes());
                    if let Some((origin, _)) = partial {
                        out.extend_from_slice(format!("<{origin}>").as_bytes());
                    }
                    out.push(b' ');
                    match mailhost_imap_body::binary(data, part) {
                        Ok(c) => {
                            let c = partial_of(&c, *partial);
                            // RFC 3516 §4.2: literal8 when it holds NUL.
                            if c.contains(&0) {
                                out.extend_from_slice(format!("~{{{}}}\r\n", c.len()).as_bytes());
                                out.extend_from_slice(c);
                            } else {
                                write::literal(&mut out, c);
                            }
                        }
                        Err(mailhost_imap_body::BinaryError::NoPart) => {
                            out.extend_from_slice(b"NIL")
                        }
                        Err(mailhost_imap_body::BinaryError::UnknownCte) => {
                            return Err(Failure::UnknownCte)
                        }
                    }
                }
                FetchAtt::BinarySize { part } => {
                    let n = match mailhost_imap_body::binary(data, part) {
                        Ok(c) => c.len().to_string(),
                        Err(mailhost_imap_body::BinaryError::NoPart) => "NIL".into(),
                        Err(mailhost_imap_body::BinaryError::UnknownCte) => {
                            return Err(Failure::UnknownCte)
                        }
                    };
                    out.extend_from_slice(
                        format!("BINARY.SIZE[{}] {n}", part_name(part)).as_bytes(),
                    );
                }
            }
        }
        out.extend_from_slice(b")\r\n");
        Ok(out)
    }

    /// `* VANISHED (EARLIER) …`: UIDs of the set expunged after `since`
    /// (RFC 7162 §3.2.6).
    async fn tell_vanished_earlier(&mut self, set: &SeqSet, since: u64) {
        let sel = self.sel.as_ref().expect("selected");
        let folder = sel.folder;
        let max = sel.msgs.last().map_or(0, |m| m.uid);
        let ranges = set.resolve(max.max(1));
        match self.ctx.store.expunged_since(folder, since).await {
            Ok(mut v) => {
                v.retain(|u| mailhost_imap_proto::seqset::contains(&ranges, *u));
                if !v.is_empty() {
                    let line = format!("VANISHED (EARLIER) {}", crate::view::compact(&v));
                    self.untagged(&line);
                }
            }
            Err(e) => warn!("imap: vanished: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(imap_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(imap_date(1_796_611_632_000), "07-Dec-2026 02:47:12 +0000");
        assert_eq!(imap_date(951_782_400_000), "29-Feb-2000 00:00:00 +0000");
    }

    #[test]
    fn partials() {
        assert_eq!(partial_of(b"abcdef", Some((2, 3))), b"cde");
        assert_eq!(partial_of(b"abcdef", Some((5, 100))), b"f");
        assert_eq!(partial_of(b"abcdef", Some((9, 1))), b"");
        assert_eq!(partial_of(b"abc", Some((0, u32::MAX))), b"abc");
    }
}
