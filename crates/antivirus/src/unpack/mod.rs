//! Nested unpacking (R-AV-2): one recursion engine and one budget per
//! message. Every file found, at any depth, is matched against the
//! signatures, then opened if it is a container or an encoding we read.
//!
//! A limit broken, a container that cannot be parsed, or one whose two
//! readings disagree makes the part *unscannable*: the scanner treats that
//! like infected unless `antivirus.unscannable = "pass"` (fail closed).
//! Third-party readers run under `catch_unwind`, so a panic in one of them
//! is an unscannable part, never a crashed session.

mod archives;
mod legacy;
mod streams;

use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::sigs::Database;

/// ClamAV's defaults (clamd.conf `MaxRecursion`, `MaxFiles`, `MaxScanSize`,
/// `MaxFileSize`, `MaxScanTime`), plus an expansion-ratio cap ClamAV lacks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub depth: u32,
    pub files: u32,
    pub total: u64,
    pub file: u64,
    /// Output may be at most this many times the packed input (once past
    /// `ratio_floor`): a single-layer bomb stops early, at small cost.
    pub ratio: u64,
    pub ratio_floor: u64,
    pub time: Duration,
    /// Dictionary memory a decoder (xz, 7z, RAR) may take.
    pub decoder_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 17,
            files: 10_000,
            total: 400 << 20,
            file: 100 << 20,
            ratio: 250,
            ratio_floor: 1 << 20,
            time: Duration::from_secs(120),
            decoder_memory: 128 << 20,
        }
    }
}

/// What one part held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// The first signature found, and where: container member names
    /// from the outside in.
    pub infected: Option<(String, Vec<String>)>,
    /// Why some content could not be checked (the first reason).
    pub unscannable: Option<String>,
    /// Encrypted content passed unchecked (R-AV-4).
    pub encrypted: Vec<String>,
    pub files: u32,
    pub bytes: u64,
}

/// Stops the walk early: a virus was found, or the whole budget is gone.
enum Stop {
    Infected,
    Exhausted,
}

/// A member read out of a container.
pub(crate) struct Member {
    pub name: String,
    pub data: Vec<u8>,
}

/// What a container reader returns.
pub(crate) enum Opened {
    /// Not a container we read.
    No,
    Members(Vec<Member>),
    /// Some members are encrypted: their names; the rest as usual.
    Partly(Vec<Member>, Vec<String>),
}

/// Why a reader gave up; `Limit` and `Bad` make the part unscannable.
#[derive(Debug)]
pub(crate) enum Fail {
    Limit(String),
    Bad(String),
}

pub(crate) type Read2 = Result<Opened, Fail>;

/// The budget of one message, shared by every part and every depth.
pub struct Walker<'a> {
    db: &'a Database,
    pub limits: Limits,
    deadline: Instant,
    files_left: u32,
    bytes_left: u64,
    found: Findings,
    path: Vec<String>,
}

impl<'a> Walker<'a> {
    pub fn new(db: &'a Database, limits: Limits) -> Walker<'a> {
        Walker {
            db,
            limits,
            deadline: Instant::now() + limits.time,
            files_left: limits.files,
            bytes_left: limits.total,
            found: Findings::default(),
            path: Vec::new(),
        }
    }

    /// Checks one part's decoded bytes, named as it came. A text body
    /// (`encodings_only`) is not matched itself, only what it carries
    /// UUEncoded or in BinHex.
    pub fn part(&mut self, data: &[u8], name: &str, encodings_only: bool) -> Findings {
        self.found = Findings::default();
        self.path.clear();
        if encodings_only {
            let opened = legacy::text(self, data);
            let _ = self.members(opened, name, 0);
        } else {
            let _ = self.visit(data, name, 0);
        }
        std::mem::take(&mut self.found)
    }

    /// Largest output a reader may produce for `packed` input bytes.
    pub(crate) fn cap(&self, packed: u64) -> u64 {
        let ratio = packed
            .saturating_mul(self.limits.ratio)
            .max(self.limits.ratio_floor);
        self.limits.file.min(self.bytes_left).min(ratio)
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    fn unscannable(&mut self, why: String) {
        tracing::debug!(path = ?self.path, why, "unscannable content");
        if self.found.unscannable.is_none() {
            self.found.unscannable = Some(why);
        }
    }

    fn visit(&mut self, data: &[u8], name: &str, depth: u32) -> Result<(), Stop> {
        if Instant::now() > self.deadline {
            self.unscannable(format!(
                "scanning took longer than {} s",
                self.limits.time.as_secs()
            ));
            return Err(Stop::Exhausted);
        }
        if depth > self.limits.depth {
            self.unscannable(format!(
                "containers nested deeper than {}",
                self.limits.depth
            ));
            return Ok(());
        }
        self.found.files += 1;
        self.found.bytes += data.len() as u64;
        if let Some(sig) = self.db.scan(data) {
            self.found.infected = Some((sig, self.path.clone()));
            return Err(Stop::Infected);
        }
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.open(data)));
        let opened = match opened {
            Ok(r) => r,
            Err(_) => Err(Fail::Bad(format!("the reader for {name:?} failed"))),
        };
        self.members(opened, name, depth)
    }

    fn members(&mut self, opened: Read2, name: &str, depth: u32) -> Result<(), Stop> {
        let (members, encrypted) = match opened {
            Ok(Opened::No) => return Ok(()),
            Ok(Opened::Members(m)) => (m, Vec::new()),
            Ok(Opened::Partly(m, e)) => (m, e),
            Err(Fail::Bad(why)) => {
                self.unscannable(format!("{}: {why}", display(name)));
                return Ok(());
            }
            // A limit broken stops the part: the rest of a bomb is not
            // worth reading (its siblings would break the limit again).
            Err(Fail::Limit(why)) => {
                self.unscannable(format!("{}: {why}", display(name)));
                return Err(Stop::Exhausted);
            }
        };
        let n: u64 = members.iter().map(|m| m.data.len() as u64).sum();
        if let Err(Fail::Limit(why) | Fail::Bad(why)) = self.charge(n) {
            self.unscannable(why);
            return Err(Stop::Exhausted);
        }
        for e in encrypted {
            self.found.encrypted.push(join(&self.path, name, &e));
        }
        for m in members {
            if self.files_left == 0 {
                self.unscannable(format!("more than {} files", self.limits.files));
                return Err(Stop::Exhausted);
            }
            self.files_left -= 1;
            self.path.push(m.name.clone());
            let r = self.visit(&m.data, &m.name, depth + 1);
            self.path.pop();
            r?;
        }
        Ok(())
    }

    /// Charges `n` expanded bytes to the message's budget.
    pub(crate) fn charge(&mut self, n: u64) -> Result<(), Fail> {
        if n > self.bytes_left {
            self.bytes_left = 0;
            return Err(Fail::Limit(format!(
                "more than {} MiB expanded in one message",
                self.limits.total >> 20
            )));
        }
        self.bytes_left -= n;
        Ok(())
    }

    fn open(&mut self, data: &[u8]) -> Read2 {
        match Kind::sniff(data) {
            None => Ok(Opened::No),
            Some(k) => {
                let r = match k {
                    Kind::Zip => archives::zip(self, data),
                    Kind::Tar => archives::tar(self, data),
                    Kind::SevenZ => archives::seven_z(self, data),
                    Kind::Rar => archives::rar(self, data),
                    Kind::Lha => archives::lha(self, data),
                    Kind::Cfb => archives::cfb(self, data),
                    Kind::Gzip => streams::gzip(self, data),
                    Kind::Bzip2 => streams::bzip2(self, data),
                    Kind::Xz => streams::xz(self, data),
                    Kind::Compress => legacy::compress(self, data),
                    Kind::Arj => legacy::arj(self, data),
                    Kind::Tnef => legacy::tnef(self, data),
                    Kind::Rtf => legacy::rtf(self, data),
                    Kind::Text => legacy::text(self, data),
                }?;
                Ok(r)
            }
        }
    }
}

/// Whether a text body carries UUEncode or BinHex blocks.
pub fn text_encoded(d: &[u8]) -> bool {
    legacy::has_text_encoding(d)
}

fn display(name: &str) -> String {
    if name.is_empty() {
        "an attachment".into()
    } else {
        format!("{name:?}")
    }
}

fn join(path: &[String], name: &str, inner: &str) -> String {
    let mut p: Vec<&str> = path.iter().map(String::as_str).collect();
    if p.is_empty() {
        p.push(name);
    }
    p.push(inner);
    p.join("/")
}

/// What a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    SevenZ,
    Rar,
    Lha,
    Cfb,
    Gzip,
    Bzip2,
    Xz,
    Compress,
    Arj,
    Tnef,
    Rtf,
    /// Text that may carry UUEncode or BinHex blocks.
    Text,
}

impl Kind {
    pub fn sniff(d: &[u8]) -> Option<Kind> {
        let k = match d {
            [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] | [b'P', b'K', 7, 8, ..] => Kind::Zip,
            [0x1f, 0x8b, ..] => Kind::Gzip,
            [0x1f, 0x9d, ..] => Kind::Compress,
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Kind::Bzip2,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Xz,
            [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => Kind::SevenZ,
            [b'R', b'a', b'r', b'!', 0x1a, 0x07, ..] | [b'R', b'E', 0x7e, 0x5e, ..] => Kind::Rar,
            [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, ..] => Kind::Cfb,
            [0x60, 0xea, ..] => Kind::Arj,
            [0x78, 0x9f, 0x3e, 0x22, ..] => Kind::Tnef,
            [b'{', b'\\', b'r', b't', ..] => Kind::Rtf,
            [_, _, b'-', b'l', b'h' | b'z', _, b'-', ..]
            | [_, _, b'-', b'p', b'm', _, b'-', ..] => Kind::Lha,
            _ if is_tar(d) => Kind::Tar,
            _ if legacy::has_text_encoding(d) => Kind::Text,
            _ => return None,
        };
        Some(k)
    }
}

/// A POSIX or GNU tar header (`ustar` at 257), or an old v7 header whose
/// checksum is right.
fn is_tar(d: &[u8]) -> bool {
    if d.len() < 512 {
        return false;
    }
    if &d[257..262] == b"ustar" {
        return true;
    }
    let field = &d[148..156];
    let want = std::str::from_utf8(field)
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let sum: u32 = d[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    d[0] != 0 && want == Some(sum)
}

/// Counts the bytes read through it: how much packed input a decoder has
/// consumed, for [`Ratio`].
pub(crate) struct Counted<R> {
    inner: R,
    seen: Rc<Cell<u64>>,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R) -> (Counted<R>, Rc<Cell<u64>>) {
        let seen = Rc::new(Cell::new(0));
        (
            Counted {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.set(self.seen.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// The expansion-ratio check while a container is read: output so far
/// against packed input consumed so far, over the whole container. A bomb
/// stops after `floor` bytes, not after the whole file limit, so it never
/// takes much memory; a solid archive whose input was read ahead is judged
/// on the container, not on one member.
pub(crate) struct Ratio {
    seen: Rc<Cell<u64>>,
    produced: Cell<u64>,
    ratio: u64,
    floor: u64,
}

impl Ratio {
    pub(crate) fn new(w: &Walker, seen: Rc<Cell<u64>>) -> Ratio {
        Ratio {
            seen,
            produced: Cell::new(0),
            ratio: w.limits.ratio,
            floor: w.limits.ratio_floor,
        }
    }

    fn add(&self, n: usize, what: &str) -> Result<(), Fail> {
        let out = self.produced.get() + n as u64;
        self.produced.set(out);
        // At least one byte of input counts, so an empty reading cannot
        // make every output "infinitely" expanded.
        let packed = self.seen.get().max(1);
        if out > self.floor && out > packed.saturating_mul(self.ratio) {
            return Err(Fail::Limit(format!(
                "{what} expands more than {} times (a compression bomb)",
                self.ratio
            )));
        }
        Ok(())
    }
}

/// Reads at most `cap` bytes; more is a limit broken, a read error is a
/// malformed container. The deadline and the expansion ratio are checked
/// between chunks.
pub(crate) fn read_capped(
    r: &mut dyn Read,
    cap: u64,
    deadline: Instant,
    what: &str,
    ratio: Option<&Ratio>,
) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(Fail::Limit("scanning took too long".into()));
        }
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Fail::Bad(format!("{what}: {e}"))),
        };
        if out.len() as u64 + n as u64 > cap {
            return Err(Fail::Limit(format!(
                "{what} expands past {} bytes (size or expansion-ratio limit)",
                cap
            )));
        }
        if let Some(r) = ratio {
            r.add(n, what)?;
        }
        out.extend_from_slice(&buf[..n]);
    }
}
