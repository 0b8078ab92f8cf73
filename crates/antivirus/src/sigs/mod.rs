//! The built-in engine's signature database (R-AV-6): ClamAV `.hdb`,
//! `.hsb`, `.ndb` and the hex-pattern subset of `.ldb`, plus the EICAR test
//! signature that ships with the server.
//!
//! Matching is one pass per file: every pattern's anchor (its longest fixed
//! run) is found by a 4-gram filter (or, under four bytes, Aho-Corasick;
//! see `anchors`), and each candidate is then verified in full. Text-type (7) patterns run on the normalised text.
//! Whatever the loader cannot take is counted by feature and logged, never
//! dropped silently.

mod anchors;
pub mod hash;
pub mod logical;
pub mod pattern;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use pattern::{Pattern, Unsupported};

/// The EICAR anti-virus test file (eicar.org) as an `.ndb` signature: the
/// 68 bytes must start the file; ClamAV also allows trailing whitespace.
pub const EICAR_NDB: &str = "Eicar-Test-Signature:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a";

/// Where a match must start (`.ndb` offset field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Any,
    /// Start in `[n, n + m]`.
    Abs(usize, usize),
    /// Start in `[len - n, len - n + m]`.
    Eof(usize, usize),
}

impl Offset {
    fn ok(self, start: usize, len: usize) -> bool {
        match self {
            Offset::Any => true,
            Offset::Abs(n, m) => start >= n && start - n <= m,
            Offset::Eof(n, m) => len
                .checked_sub(n)
                .is_some_and(|s| start >= s && start - s <= m),
        }
    }
}

pub(crate) fn parse_offset(s: &str) -> Result<Offset, Unsupported> {
    if s == "*" {
        return Ok(Offset::Any);
    }
    let (base, extra) = match s.split_once(',') {
        Some((b, m)) => (b, m.parse::<usize>().map_err(|_| "malformed offset")?),
        None => (s, 0),
    };
    if let Some(n) = base.strip_prefix("EOF-") {
        return Ok(Offset::Eof(
            n.parse().map_err(|_| "malformed offset")?,
            extra,
        ));
    }
    if base.starts_with("EP") || base.starts_with('S') || base.starts_with("VI") {
        return Err("PE offsets");
    }
    Ok(Offset::Abs(
        base.parse().map_err(|_| "malformed offset")?,
        extra,
    ))
}

/// Who a pattern belongs to.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Ndb(usize),
    Ldb { sig: usize, sub: usize },
}

struct Compiled {
    pattern: Pattern,
    offset: Offset,
    owner: Owner,
}

/// One automaton over a set of patterns' anchors.
struct Pass {
    ac: Option<anchors::Anchors>,
    /// anchor id → patterns that carry it
    by_anchor: Vec<Vec<usize>>,
}

impl Pass {
    fn build(patterns: &[Compiled], members: &[usize], nocase: bool) -> Pass {
        let mut ids: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut by_anchor: Vec<Vec<usize>> = Vec::new();
        for &p in members {
            let mut a = patterns[p].pattern.anchor.clone();
            if nocase {
                a.make_ascii_lowercase();
            }
            let next = ids.len();
            let id = *ids.entry(a).or_insert(next);
            if id == by_anchor.len() {
                by_anchor.push(Vec::new());
            }
            by_anchor[id].push(p);
        }
        let mut anchors = vec![Vec::new(); ids.len()];
        for (a, id) in ids {
            anchors[id] = a;
        }
        let ac = anchors::Anchors::build(anchors, nocase);
        Pass { ac, by_anchor }
    }
}

/// What loading found, for the log and `X-Virus-Scanned`.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    pub files: Vec<PathBuf>,
    pub loaded: usize,
    /// feature → signatures left out because of it
    pub unsupported: BTreeMap<&'static str, usize>,
    /// A short digest of the signature set, so a header names its version.
    pub version: String,
}

/// The loaded signatures.
pub struct Database {
    hashes: hash::Hashes,
    patterns: Vec<Compiled>,
    ndb_names: Vec<String>,
    logical: Vec<logical::Logical>,
    /// Target 0 (any file), case-sensitive and not; target 7 (text) alike.
    any: Pass,
    any_nocase: Pass,
    text: Pass,
    text_nocase: Pass,
    pub report: LoadReport,
}

/// Text that target-7 patterns see: ASCII lower case, runs of white space
/// as one space (ClamAV normalises text files before matching them).
pub fn normalize_text(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut space = false;
    for &b in data {
        if b.is_ascii_whitespace() {
            if !space {
                out.push(b' ');
            }
            space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            space = false;
        }
    }
    out
}

/// Whether a file is text for target 7: no NUL and few control bytes in
/// its first 4 KiB.
pub fn is_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    !head.is_empty()
        && !head.contains(&0)
        && head
            .iter()
            .filter(|&&b| b < 0x20 && !b.is_ascii_whitespace())
            .count()
            * 100
            <= head.len()
}

#[derive(Default)]
struct Builder {
    hashes: hash::Hashes,
    patterns: Vec<Compiled>,
    ndb_names: Vec<String>,
    ndb_target: Vec<u8>,
    logical: Vec<logical::Logical>,
    report: LoadReport,
    digest: u64,
}

impl Builder {
    fn skip(&mut self, why: Unsupported) {
        *self.report.unsupported.entry(why).or_default() += 1;
    }

    fn ndb(&mut self, line: &str) -> Result<(), Unsupported> {
        let mut f = line.splitn(6, ':');
        let (Some(name), Some(target), Some(offset), Some(hex)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err("malformed line");
        };
        let target: u8 = target.parse().map_err(|_| "malformed target")?;
        if !matches!(target, 0 | 7) {
            return Err("file-type targets other than 0 and 7");
        }
        let offset = parse_offset(offset)?;
        let pattern = Pattern::parse(hex)?;
        let idx = self.ndb_names.len();
        self.ndb_names.push(name.to_string());
        self.ndb_target.push(target);
        self.patterns.push(Compiled {
            pattern,
            offset,
            owner: Owner::Ndb(idx),
        });
        Ok(())
    }

    fn ldb(&mut self, line: &str) -> Result<(), Unsupported> {
        let (l, subs) = logical::parse(line)?;
        let sig = self.logical.len();
        for (sub, s) in subs.into_iter().enumerate() {
            for pattern in s.patterns {
                self.patterns.push(Compiled {
                    pattern,
                    offset: s.offset,
                    owner: Owner::Ldb { sig, sub },
                });
            }
        }
        self.logical.push(l);
        Ok(())
    }

    fn text(&mut self, kind: &str, text: &str) {
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let r = match kind {
                "hdb" => self.hashes.add(line, true),
                "hsb" => self.hashes.add(line, false),
                "ndb" => self.ndb(line),
                "ldb" => self.ldb(line),
                _ => unreachable!("only known kinds are read"),
            };
            match r {
                Ok(()) => self.report.loaded += 1,
                Err(why) => self.skip(why),
            }
        }
        for b in text.bytes() {
            // FNV-1a over every file's text names the set.
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn finish(self) -> Database {
        let sel = |target: u8, nocase: bool| -> Vec<usize> {
            self.patterns
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    let t = match c.owner {
                        Owner::Ndb(i) => self.ndb_target[i],
                        Owner::Ldb { sig, .. } => self.logical[sig].target,
                    };
                    t == target && c.pattern.nocase == nocase
                })
                .map(|(i, _)| i)
                .collect()
        };
        let any = Pass::build(&self.patterns, &sel(0, false), false);
        let any_nocase = Pass::build(&self.patterns, &sel(0, true), true);
        let text = Pass::build(&self.patterns, &sel(7, false), false);
        let text_nocase = Pass::build(&self.patterns, &sel(7, true), true);
        let mut report = self.report;
        report.version = format!("{:08x}", self.digest >> 32 ^ (self.digest & 0xffff_ffff));
        Database {
            hashes: self.hashes,
            patterns: self.patterns,
            ndb_names: self.ndb_names,
            logical: self.logical,
            any,
            any_nocase,
            text,
            text_nocase,
            report,
        }
    }
}

/// Signature files a directory may hold, by extension.
pub const KINDS: [&str; 4] = ["hdb", "hsb", "ndb", "ldb"];

impl Database {
    /// Only the shipped EICAR signature.
    pub fn builtin() -> Database {
        let mut b = Builder {
            digest: 0xcbf2_9ce4_8422_2325,
            ..Default::default()
        };
        b.text("ndb", EICAR_NDB);
        b.finish()
    }

    /// The shipped signature plus every signature file in `dir` (absent:
    /// none). Files of other kinds are counted as unsupported.
    pub fn load(dir: &Path) -> std::io::Result<Database> {
        let mut b = Builder {
            digest: 0xcbf2_9ce4_8422_2325,
            ..Default::default()
        };
        b.text("ndb", EICAR_NDB);
        let mut files = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        files.sort();
        for f in files {
            let ext = f
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if !KINDS.contains(&ext.as_str()) {
                let why: Unsupported = match ext.as_str() {
                    "cbc" => "bytecode",
                    "cvd" | "cld" | "cud" => "signed databases (.cvd/.cld): unpack them first",
                    "mdb" | "msb" | "imp" => "PE section and import hashes",
                    "pdb" | "gdb" | "wdb" => "phishing URL lists",
                    "yar" | "yara" => "YARA rules",
                    "fp" | "sfp" | "ign" | "ign2" => "allow lists",
                    _ => "files of unknown kinds",
                };
                b.skip(why);
                continue;
            }
            let bytes = std::fs::read(&f)?;
            b.text(&ext, &String::from_utf8_lossy(&bytes));
            b.report.files.push(f);
        }
        Ok(b.finish())
    }

    /// The first signature `data` matches.
    pub fn scan(&self, data: &[u8]) -> Option<String> {
        if let Some(n) = self.hashes.check(data) {
            return Some(n.to_string());
        }
        let mut counts: HashMap<usize, Vec<u32>> = HashMap::new();
        if let Some(n) = self.pass(&self.any, data, &mut counts) {
            return Some(n);
        }
        if let Some(n) = self.pass(&self.any_nocase, data, &mut counts) {
            return Some(n);
        }
        let want_text = self.text.ac.is_some() || self.text_nocase.ac.is_some();
        if want_text && is_text(data) {
            let norm = normalize_text(data);
            if let Some(n) = self.pass(&self.text, &norm, &mut counts) {
                return Some(n);
            }
            if let Some(n) = self.pass(&self.text_nocase, &norm, &mut counts) {
                return Some(n);
            }
        }
        for (sig, c) in counts {
            let l = &self.logical[sig];
            let size = data.len() as u64;
            if l.file_size.is_some_and(|(a, b)| size < a || size > b) {
                continue;
            }
            if l.expr.eval(&c).0 > 0 {
                return Some(l.name.clone());
            }
        }
        None
    }

    fn pass(
        &self,
        pass: &Pass,
        data: &[u8],
        counts: &mut HashMap<usize, Vec<u32>>,
    ) -> Option<String> {
        let ac = pass.ac.as_ref()?;
        let len = data.len();
        let mut found = None;
        ac.each(data, |anchor, start| {
            for &p in &pass.by_anchor[anchor] {
                let c = &self.patterns[p];
                if len < c.pattern.min_len {
                    continue;
                }
                let off = c.offset;
                if c.pattern.verify(data, start, &|s| off.ok(s, len)).is_none() {
                    continue;
                }
                match c.owner {
                    Owner::Ndb(i) => {
                        found = Some(self.ndb_names[i].clone());
                        return true;
                    }
                    Owner::Ldb { sig, sub } => {
                        let v = counts
                            .entry(sig)
                            .or_insert_with(|| vec![0; self.logical[sig].subsigs]);
                        v[sub] = v[sub].saturating_add(1);
                    }
                }
            }
            false
        });
        found
    }

    /// How many signatures are loaded.
    pub fn count(&self) -> usize {
        self.report.loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const EICAR: &[u8] =
        br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    #[test]
    fn eicar_ships() {
        let db = Database::builtin();
        assert_eq!(db.scan(EICAR).as_deref(), Some("Eicar-Test-Signature"));
        let mut later = b"   ".to_vec();
        later.extend_from_slice(EICAR);
        assert_eq!(db.scan(&later), None, "EICAR must start the file");
        assert_eq!(
            db.scan(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD"),
            None
        );
    }

    #[test]
    fn offsets() {
        assert!(Offset::Abs(2, 0).ok(2, 10));
        assert!(!Offset::Abs(2, 0).ok(3, 10));
        assert!(Offset::Abs(2, 3).ok(5, 10));
        assert!(Offset::Eof(4, 0).ok(6, 10));
        assert!(!Offset::Eof(40, 0).ok(0, 10));
        assert_eq!(parse_offset("EP+10"), Err("PE offsets"));
        assert_eq!(parse_offset("EOF-20,5").unwrap(), Offset::Eof(20, 5));
    }

    #[test]
    fn loads_a_directory_and_counts_what_it_skips() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("t.ndb"),
            "# comment\nTest.Any:0:*:6576696c2d737472696e67\nTest.Eof:0:EOF-4:454e4421\nTest.Text:7:*:68656c6c6f20776f726c64\nTest.PE:1:*:41424344\nTest.EP:0:EP+0:41424344\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("t.ldb"),
            "Test.Logic;Engine:51-255,Target:0;0&1;616263646566;0:7a7a7a7a\nTest.Pcre;Target:0;0;41424344/x/\n",
        )
        .unwrap();
        std::fs::write(d.path().join("x.cbc"), "bytecode").unwrap();
        let db = Database::load(d.path()).unwrap();
        assert_eq!(db.report.loaded, 5, "{:?}", db.report);
        assert_eq!(
            db.report.unsupported["file-type targets other than 0 and 7"],
            1
        );
        assert_eq!(db.report.unsupported["PE offsets"], 1);
        assert_eq!(db.report.unsupported["PCRE"], 1);
        assert_eq!(db.report.unsupported["bytecode"], 1);
        assert_eq!(db.scan(b"an evil-string here").as_deref(), Some("Test.Any"));
        assert_eq!(db.scan(b"xxEND!").as_deref(), Some("Test.Eof"));
        assert_eq!(db.scan(b"END!xx"), None);
        assert_eq!(
            db.scan(b"Say HELLO\r\n   World").as_deref(),
            Some("Test.Text")
        );
        assert_eq!(db.scan(b"zzzz...abcdef").as_deref(), Some("Test.Logic"));
        assert_eq!(db.scan(b"..zzzz...abcdef"), None, "subsig 1 at 0");
        assert_eq!(db.scan(EICAR).as_deref(), Some("Eicar-Test-Signature"));
        assert_ne!(db.report.version, Database::builtin().report.version);
    }
}
