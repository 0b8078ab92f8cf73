//! SEARCH and UID SEARCH — selected. RFC 9051 §6.4.4, ESEARCH (RFC 4731),
//! SEARCHRES (RFC 5182), CONDSTORE's MODSEQ key (RFC 7162 §3.1.5).
//!
//! Keys on flags, UIDs and numbers are answered from the view; sizes and
//! dates need each message's row; text keys need its content, read a
//! chunk at a time. The text tests themselves (MIME decoding, case
//! folding) are `mailhost-imap-body`'s.

use crate::fetch::civil_from_days;
use crate::session::{Flow, Session};
use crate::view::compact;
use mailhost_imap_proto::seqset::{self, SeqSet};
use mailhost_imap_proto::types::{Date, Search, SearchKey, SearchReturn};
use mailhost_store::folders::{ANSWERED, DELETED, DRAFT, FLAGGED, SEEN};
use mailhost_store::{FetchRow, MsgState};
use std::collections::HashMap;
use std::ops::RangeInclusive;

/// Messages whose contents are read at once.
const CHUNK: usize = 128;

/// What a key needs: 0 the view, 1 each message's row, 2 its content.
fn level(k: &SearchKey) -> u8 {
    use SearchKey::*;
    match k {
        Bcc(_) | Cc(_) | From(_) | To(_) | Subject(_) | Body(_) | Text(_) | Header(..) => 2,
        // The Date: header's own date, in its own zone: read from it.
        SentBefore(_) | SentOn(_) | SentSince(_) => 2,
        Before(_) | On(_) | Since(_) | Larger(_) | Smaller(_) => 1,
        Not(k) => level(k),
        Or(a, b) => level(a).max(level(b)),
        And(ks) => ks.iter().map(level).max().unwrap_or(0),
        _ => 0,
    }
}

fn has_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => has_modseq(k),
        SearchKey::Or(a, b) => has_modseq(a) || has_modseq(b),
        SearchKey::And(ks) => ks.iter().any(has_modseq),
        _ => false,
    }
}

fn date_of_ms(ms: i64) -> Date {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    Date {
        year: y.clamp(0, u16::MAX as i64) as u16,
        month: m as u8,
        day: d as u8,
    }
}

/// Sets resolved once for the whole search, by the address of the key's
/// set (the key tree does not move while the search runs).
struct Sets {
    uid: Vec<(usize, Vec<RangeInclusive<u32>>)>,
    seq: Vec<(usize, Vec<RangeInclusive<u32>>)>,
}

fn addr(s: &SeqSet) -> usize {
    s as *const SeqSet as usize
}

/// One message as the search sees it.
struct Msg<'a> {
    seq: u32,
    m: MsgState,
    recent: bool,
    row: Option<&'a FetchRow>,
}

struct Eval<'a> {
    keywords: &'a [(u32, String)],
    saved: Option<&'a [u32]>,
    sets: Sets,
}

impl Eval<'_> {
    fn keyword_bit(&self, k: &str) -> Option<i64> {
        self.keywords
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(k))
            .map(|(b, _)| 1i64 << b)
    }

    fn set_of<'s>(
        list: &'s [(usize, Vec<RangeInclusive<u32>>)],
        s: &SeqSet,
    ) -> &'s [RangeInclusive<u32>] {
        list.iter()
            .find(|(p, _)| *p == addr(s))
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[])
    }

    fn matches(&self, k: &SearchKey, x: &Msg) -> bool {
        use SearchKey::*;
        let f = x.m.flags;
        let data = x.row.and_then(|r| r.data.as_deref()).unwrap_or(&[]);
        match k {
            All => true,
            Answered => f & ANSWERED != 0,
            Deleted => f & DELETED != 0,
            Draft => f & DRAFT != 0,
            Flagged => f & FLAGGED != 0,
            Seen => f & SEEN != 0,
            Unanswered => f & ANSWERED == 0,
            Undeleted => f & DELETED == 0,
            Undraft => f & DRAFT == 0,
            Unflagged => f & FLAGGED == 0,
            Unseen => f & SEEN == 0,
            Recent => x.recent,
            New => x.recent && f & SEEN == 0,
            Old => !x.recent,
            Keyword(k) => self.keyword_bit(k).is_some_and(|b| f & b != 0),
            Unkeyword(k) => self.keyword_bit(k).is_none_or(|b| f & b == 0),
            Bcc(s) => mailhost_imap_body::address_matches(data, "Bcc", s),
            Cc(s) => mailhost_imap_body::address_matches(data, "Cc", s),
            From(s) => mailhost_imap_body::address_matches(data, "From", s),
            To(s) => mailhost_imap_body::address_matches(data, "To", s),
            Subject(s) => mailhost_imap_body::header_matches(data, "Subject", s),
            Header(h, s) => mailhost_imap_body::header_matches(data, h, s),
            Body(s) => mailhost_imap_body::body_matches(data, s),
            Text(s) => mailhost_imap_body::text_matches(data, s),
            Before(d) => x.row.is_some_and(|r| date_of_ms(r.internal_ms) < *d),
            On(d) => x.row.is_some_and(|r| date_of_ms(r.internal_ms) == *d),
            Since(d) => x.row.is_some_and(|r| date_of_ms(r.internal_ms) >= *d),
            SentBefore(d) => self.sent(x).is_some_and(|s| s < *d),
            SentOn(d) => self.sent(x).is_some_and(|s| s == *d),
            SentSince(d) => self.sent(x).is_some_and(|s| s >= *d),
            Larger(n) => x.row.is_some_and(|r| r.size > *n),
            Smaller(n) => x.row.is_some_and(|r| r.size < *n),
            Uid(SeqSet::Saved) | Seq(SeqSet::Saved) => self
                .saved
                .is_some_and(|s| s.binary_search(&x.m.uid).is_ok()),
            Uid(s) => seqset::contains(Self::set_of(&self.sets.uid, s), x.m.uid),
            Seq(s) => seqset::contains(Self::set_of(&self.sets.seq, s), x.seq),
            Not(k) => !self.matches(k, x),
            Or(a, b) => self.matches(a, x) || self.matches(b, x),
            And(ks) => ks.iter().all(|k| self.matches(k, x)),
            ModSeq(n) => x.m.modseq >= *n,
        }
    }

    /// The Date: header's date "disregarding time and timezone" (RFC
    /// 9051 §6.4.4): the calendar date as written, in the sender's zone.
    fn sent(&self, x: &Msg) -> Option<Date> {
        let data = x.row?.data.as_deref()?;
        let m = mail_parser::MessageParser::default().parse_headers(data)?;
        let d = m.date()?;
        Some(Date {
            year: d.year,
            month: d.month,
            day: d.day,
        })
    }
}

/// Resolves every set in the key tree once.
fn collect_sets(k: &SearchKey, max_uid: u32, count: u32, out: &mut Sets) {
    match k {
        SearchKey::Uid(s @ SeqSet::Ranges(_)) => out.uid.push((addr(s), s.resolve(max_uid.max(1)))),
        SearchKey::Seq(s @ SeqSet::Ranges(_)) => out.seq.push((addr(s), s.resolve(count))),
        SearchKey::Not(k) => collect_sets(k, max_uid, count, out),
        SearchKey::Or(a, b) => {
            collect_sets(a, max_uid, count, out);
            collect_sets(b, max_uid, count, out);
        }
        SearchKey::And(ks) => ks.iter().for_each(|k| collect_sets(k, max_uid, count, out)),
        _ => {}
    }
}

impl Session {
    pub async fn cmd_search(&mut self, tag: &str, uid: bool, search: Search) -> Flow {
        if let Some(c) = &search.charset {
            if !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("US-ASCII") {
                return self.no(tag, "[BADCHARSET (US-ASCII UTF-8)] unsupported charset");
            }
        }
        let key = search.key;
        if has_modseq(&key) {
            self.enable_condstore();
        }
        let need = level(&key);
        let sel = self.sel.as_ref().expect("selected");
        let folder = sel.folder;
        let count = sel.msgs.len() as u32;
        let max_uid = sel.msgs.last().map_or(0, |m| m.uid);
        let mut sets = Sets {
            uid: Vec::new(),
            seq: Vec::new(),
        };
        collect_sets(&key, max_uid, count, &mut sets);
        let keywords = self
            .user
            .as_ref()
            .map(|u| u.keywords.clone())
            .unwrap_or_default();
        let mut saved = self.saved.clone();
        if let Some(s) = &mut saved {
            s.sort_unstable();
        }
        let eval = Eval {
            keywords: &keywords,
            saved: saved.as_deref(),
            sets,
        };
        let mut hits: Vec<(u32, u32, u64)> = Vec::new();
        let candidates: Vec<(usize, MsgState, bool)> = sel
            .msgs
            .iter()
            .enumerate()
            .filter(|(_, m)| !sel.pending.contains(&m.uid))
            .map(|(i, m)| (i, *m, sel.is_recent(m.uid)))
            .collect();
        let chunk = if need == 2 { CHUNK } else { 4096 };
        for part in candidates.chunks(chunk) {
            let rows: HashMap<u32, FetchRow> = if need > 0 {
                let mut uids: Vec<u32> = part.iter().map(|(_, m, _)| m.uid).collect();
                uids.sort_unstable();
                match self
                    .ctx
                    .store
                    .fetch_rows(folder, &mailhost_store::uid_runs(&uids), need == 2)
                    .await
                {
                    Ok(r) => r.into_iter().map(|r| (r.uid, r)).collect(),
                    Err(e) => return self.tempfail(tag, "search", e),
                }
            } else {
                HashMap::new()
            };
            for (i, m, recent) in part {
                let x = Msg {
                    seq: *i as u32 + 1,
                    m: *m,
                    recent: *recent,
                    row: rows.get(&m.uid),
                };
                if need > 0 && x.row.is_none() {
                    continue;
                }
                if eval.matches(&key, &x) {
                    hits.push((x.seq, m.uid, m.modseq));
                }
            }
        }
        drop(eval);
        let with_modseq = has_modseq(&key) && self.condstore;
        let highest = hits.iter().map(|h| h.2).max();
        let nums: Vec<u32> = hits.iter().map(|h| if uid { h.1 } else { h.0 }).collect();
        let ret = match (&search.ret, self.rev2) {
            (Some(r), _) => Some(r.clone()),
            (None, true) => Some(Vec::new()),
            (None, false) => None,
        };
        match ret {
            None => {
                let mut line = String::from("SEARCH");
                for n in &nums {
                    line.push(' ');
                    line.push_str(&n.to_string());
                }
                if let (true, Some(h)) = (with_modseq, highest) {
                    line.push_str(&format!(" (MODSEQ {h})"));
                }
                self.untagged(&line);
            }
            Some(mut r) => {
                if r.is_empty() {
                    r.push(SearchReturn::All);
                }
                if r.contains(&SearchReturn::Save) {
                    // RFC 5182 §2.1: the saved result is the matching
                    // messages, kept as UIDs.
                    self.saved = Some(hits.iter().map(|h| h.1).collect());
                }
                if r.iter().any(|x| *x != SearchReturn::Save) {
                    let mut line = format!("ESEARCH (TAG \"{}\")", self.tag.replace('"', ""));
                    if uid {
                        line.push_str(" UID");
                    }
                    if r.contains(&SearchReturn::Min) {
                        if let Some(n) = nums.first() {
                            line.push_str(&format!(" MIN {n}"));
                        }
                    }
                    if r.contains(&SearchReturn::Max) {
                        if let Some(n) = nums.last() {
                            line.push_str(&format!(" MAX {n}"));
                        }
                    }
                    if r.contains(&SearchReturn::All) && !nums.is_empty() {
                        line.push_str(&format!(" ALL {}", compact(&nums)));
                    }
                    if r.contains(&SearchReturn::Count) {
                        line.push_str(&format!(" COUNT {}", nums.len()));
                    }
                    // RFC 4731 §3.2 / RFC 7162 §3.1.5: with only MIN or
                    // MAX asked for, the MODSEQ is that of those messages.
                    let only_ends =
                        !r.contains(&SearchReturn::All) && !r.contains(&SearchReturn::Count);
                    let h = if only_ends {
                        let mut ends: Vec<&(u32, u32, u64)> = Vec::new();
                        if r.contains(&SearchReturn::Min) {
                            ends.extend(hits.first());
                        }
                        if r.contains(&SearchReturn::Max) {
                            ends.extend(hits.last());
                        }
                        ends.iter().map(|h| h.2).max()
                    } else {
                        highest
                    };
                    if let (true, Some(h)) = (with_modseq, h) {
                        line.push_str(&format!(" MODSEQ {h}"));
                    }
                    self.untagged(&line);
                }
            }
        }
        self.sync(uid, &[]).await?;
        self.ok(tag, "SEARCH completed")
    }
}

/// For the fuzz target (`fuzzing`): which of `msgs` (with `rows`, their
/// data by UID) the key matches, by index, as SEARCH would find them.
pub(crate) fn matching(
    key: &SearchKey,
    msgs: &[MsgState],
    rows: &HashMap<u32, FetchRow>,
    keywords: &[(u32, String)],
    saved: Option<&[u32]>,
) -> Vec<usize> {
    let mut sets = Sets {
        uid: Vec::new(),
        seq: Vec::new(),
    };
    let max_uid = msgs.last().map_or(0, |m| m.uid);
    collect_sets(key, max_uid, msgs.len() as u32, &mut sets);
    let eval = Eval {
        keywords,
        saved,
        sets,
    };
    msgs.iter()
        .enumerate()
        .filter(|(i, m)| {
            let x = Msg {
                seq: *i as u32 + 1,
                m: **m,
                recent: m.uid % 3 == 0,
                row: rows.get(&m.uid),
            };
            eval.matches(key, &x)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The level a key needs (for the fuzz target's checks).
pub(crate) fn key_level(k: &SearchKey) -> u8 {
    level(k)
}
