//! Virus checking (R-AV-1..6).
//!
//! - [`Scanner`] is the one interface: it takes a whole message, returns
//!   what to deliver (the same bytes, or the bytes with parts replaced by
//!   `DELETED<n>.TXT`) and an `X-Virus-Scanned` header, or a temporary
//!   failure.
//! - `walk` picks the parts to check out of the MIME tree (attachments and
//!   non-text inline parts, R-AV-1).
//! - Two engines, chosen by `antivirus.engine`: the built-in one
//!   (`sigs`: ClamAV signature files; `unpack`: nested unpacking with one
//!   budget per message, R-AV-2) and `clamd` (the ClamAV daemon).
//! - `rewrite` cuts removed parts out and writes the notice (R-AV-3).

pub mod clamd;
pub mod rewrite;
pub mod sigs;
pub mod unpack;
pub mod walk;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use mailhost_config::{AvEngine, AvOnError, AvUnscannable};

pub use sigs::Database;
pub use unpack::{Findings, Limits};

/// One part removed from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// `n` of `DELETED<n>.TXT`.
    pub n: u32,
    /// The file name, decoded.
    pub file: String,
    /// The signature found, or why the part could not be checked.
    pub signature: Option<String>,
    pub unscannable: Option<String>,
    /// Container members from the outside in, where the virus was.
    pub inside: Vec<String>,
}

/// What the scanner decided about a message.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Deliver; `body` is `None` when nothing had to change.
    Deliver {
        body: Option<Vec<u8>>,
        header: String,
        removed: Vec<Removal>,
        /// Content passed unchecked (encrypted, or the engine was down
        /// with `on_error = "accept"`).
        unchecked: Vec<String>,
        /// A signed message had to change: its signature no longer holds.
        signature_broken: bool,
    },
    /// The engine could not answer and `on_error = "tempfail"`.
    TempFail(String),
    /// The message's structure cannot be walked and `unscannable =
    /// "remove"`: there is no part to cut, so it is refused.
    Refuse(String),
}

/// Settings the scanner needs, from `[antivirus]` and the host name.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub scan_text_parts: bool,
    pub unscannable: AvUnscannable,
    pub on_error: AvOnError,
    pub limits: Limits,
}

impl Settings {
    pub fn from_config(c: &mailhost_config::Antivirus, host: &str) -> Settings {
        Settings {
            host: host.to_string(),
            scan_text_parts: c.scan_text_parts,
            unscannable: c.unscannable,
            on_error: c.on_error,
            limits: Limits {
                depth: c.max_depth,
                files: c.max_files,
                total: c.max_scan_size.0,
                file: c.max_file_size.0,
                ratio: u64::from(c.max_ratio),
                ratio_floor: 1 << 20,
                time: c.max_scan_time.std(),
                decoder_memory: c.decoder_memory.0,
            },
        }
    }
}

/// The built-in engine's database, swapped whole on reload so a scan in
/// progress keeps the set it started with and no scan waits.
pub struct Signatures {
    dir: PathBuf,
    current: RwLock<Arc<Database>>,
    stamp: RwLock<Vec<(PathBuf, u64, Option<SystemTime>)>>,
}

impl Signatures {
    pub fn load(dir: PathBuf) -> std::io::Result<Signatures> {
        let db = Database::load(&dir)?;
        log_load(&db);
        let stamp = stamp(&dir);
        Ok(Signatures {
            dir,
            current: RwLock::new(Arc::new(db)),
            stamp: RwLock::new(stamp),
        })
    }

    pub fn current(&self) -> Arc<Database> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads when a file was added, removed or changed; true if it did.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamp(&self.dir);
        if *self.stamp.read().unwrap_or_else(|p| p.into_inner()) == now {
            return false;
        }
        match Database::load(&self.dir) {
            Ok(db) => {
                log_load(&db);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(db);
                *self.stamp.write().unwrap_or_else(|p| p.into_inner()) = now;
                true
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "signatures not reloaded: {e}");
                false
            }
        }
    }
}

fn stamp(dir: &std::path::Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.modified().ok()))
        })
        .collect();
    v.sort();
    v
}

fn log_load(db: &Database) {
    let r = &db.report;
    tracing::info!(
        signatures = r.loaded,
        files = r.files.len(),
        version = %r.version,
        "virus signatures loaded"
    );
    for (why, n) in &r.unsupported {
        tracing::warn!(
            count = n,
            feature = why,
            "virus signatures left out: unsupported"
        );
    }
}

enum Engine {
    Builtin(Arc<Signatures>),
    Clamd(Arc<clamd::Clamd>),
}

/// The one scanner interface (R-AV-6).
#[derive(Clone)]
pub struct Scanner {
    engine: Arc<Engine>,
    pub settings: Arc<Settings>,
}

impl Scanner {
    /// The engine `antivirus.engine` names.
    pub fn from_config(c: &mailhost_config::Antivirus, host: &str) -> std::io::Result<Scanner> {
        let settings = Settings::from_config(c, host);
        let engine = match c.engine {
            AvEngine::Builtin => Engine::Builtin(Arc::new(Signatures::load(c.signatures.clone())?)),
            AvEngine::Clamd => Engine::Clamd(Arc::new(clamd::Clamd::new(
                &c.clamd,
                c.clamd_timeout.std(),
                c.clamd_connections as usize,
            ))),
        };
        Ok(Scanner {
            engine: Arc::new(engine),
            settings: Arc::new(settings),
        })
    }

    /// A built-in scanner over a given database (tests, benchmarks).
    pub fn builtin(sigs: Arc<Signatures>, settings: Settings) -> Scanner {
        Scanner {
            engine: Arc::new(Engine::Builtin(sigs)),
            settings: Arc::new(settings),
        }
    }

    pub fn clamd(c: Arc<clamd::Clamd>, settings: Settings) -> Scanner {
        Scanner {
            engine: Arc::new(Engine::Clamd(c)),
            settings: Arc::new(settings),
        }
    }

    /// The built-in engine's signatures, to reload them.
    pub fn signatures(&self) -> Option<Arc<Signatures>> {
        match &*self.engine {
            Engine::Builtin(s) => Some(s.clone()),
            Engine::Clamd(_) => None,
        }
    }

    /// Checks the message in `buf[skip..]` (what comes before, our own
    /// trace header, is not part of it). A rewritten body in the verdict
    /// is the message alone. Large messages are checked off the async
    /// threads, so one big attachment does not hold up other sessions.
    pub async fn scan(&self, buf: Arc<Vec<u8>>, skip: usize) -> Verdict {
        let skip = skip.min(buf.len());
        match &*self.engine {
            Engine::Builtin(sigs) => {
                let db = sigs.current();
                let settings = self.settings.clone();
                if buf.len() < 64 * 1024 {
                    return scan_builtin(&db, &settings, &buf[skip..]);
                }
                tokio::task::spawn_blocking(move || scan_builtin(&db, &settings, &buf[skip..]))
                    .await
                    .unwrap_or_else(|_| Verdict::TempFail("the virus scanner failed".into()))
            }
            Engine::Clamd(c) => scan_clamd(c, &self.settings, &buf[skip..]).await,
        }
    }

    /// Checks the signature directory every `every` until `stop`, and
    /// reloads it when it changed (no restart, no pause in scanning).
    pub async fn watch(
        &self,
        every: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let Some(sigs) = self.signatures() else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let s = sigs.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload_if_changed()).await;
        }
    }
}

/// A verdict on one part, by either engine.
struct PartVerdict {
    infected: Option<(String, Vec<String>)>,
    unscannable: Option<String>,
    encrypted: Vec<String>,
}

/// The built-in engine on one message, synchronously (fuzzing, benchmarks).
pub fn scan_builtin(db: &Database, s: &Settings, raw: &[u8]) -> Verdict {
    let n = db.count();
    let engine = format!(
        "mailhost builtin, {n} signature{}, set {}",
        if n == 1 { "" } else { "s" },
        db.report.version
    );
    decide(s, raw, &engine, |walker_parts| {
        let mut w = unpack::Walker::new(db, s.limits);
        walker_parts
            .iter()
            .map(|p| {
                let f = w.part(&p.data, &p.name, p.body_text);
                PartVerdict {
                    infected: f.infected,
                    unscannable: f.unscannable,
                    encrypted: f.encrypted,
                }
            })
            .collect()
    })
}

async fn scan_clamd(c: &clamd::Clamd, s: &Settings, raw: &[u8]) -> Verdict {
    // The walk is synchronous and borrows the message, so the parts are
    // collected first, then sent.
    let Some(msg) = walk::parse(raw) else {
        return decide(s, raw, "clamd", |_| Vec::new());
    };
    let w = walk::walk(&msg, s.scan_text_parts);
    let mut verdicts = Vec::new();
    let version = c.version().await.unwrap_or_else(|_| "clamd".into());
    for p in &w.parts {
        if p.body_text {
            verdicts.push(PartVerdict {
                infected: None,
                unscannable: None,
                encrypted: Vec::new(),
            });
            continue;
        }
        match c.scan(&p.data).await {
            Ok(clamd::Reply::Ok) => verdicts.push(PartVerdict {
                infected: None,
                unscannable: None,
                encrypted: Vec::new(),
            }),
            Ok(clamd::Reply::Found(sig)) => {
                let (infected, unscannable, encrypted) = if sig.starts_with("Heuristics.Encrypted")
                {
                    (None, None, vec![p.name.clone()])
                } else if sig.starts_with("Heuristics.Limits")
                    || sig.starts_with("Heuristics.Broken")
                {
                    (None, Some(format!("clamd: {sig}")), Vec::new())
                } else {
                    (Some((sig, Vec::new())), None, Vec::new())
                };
                verdicts.push(PartVerdict {
                    infected,
                    unscannable,
                    encrypted,
                })
            }
            Ok(clamd::Reply::SizeLimit) => verdicts.push(PartVerdict {
                infected: None,
                unscannable: Some("larger than clamd's StreamMaxLength".into()),
                encrypted: Vec::new(),
            }),
            Err(e) => {
                return match s.on_error {
                    AvOnError::Tempfail => {
                        tracing::warn!("clamd unavailable, message deferred: {e}");
                        Verdict::TempFail(format!("virus scanner unavailable: {e}"))
                    }
                    AvOnError::Accept => {
                        tracing::warn!("clamd unavailable, message accepted unchecked: {e}");
                        let header = format!(
                            "X-Virus-Scanned: {} ({version}); unchecked: scanner unavailable\r\n",
                            s.host
                        );
                        Verdict::Deliver {
                            body: None,
                            header,
                            removed: Vec::new(),
                            unchecked: vec![format!("scanner unavailable: {e}")],
                            signature_broken: false,
                        }
                    }
                };
            }
        }
    }
    let mut verdicts = verdicts.into_iter();
    decide(s, raw, &version, move |_| verdicts.by_ref().collect())
}

/// The shared decision: walk the parts, get a verdict per part from the
/// engine, cut what must go, and write the header.
fn decide(
    s: &Settings,
    raw: &[u8],
    engine: &str,
    check: impl FnOnce(&[walk::Part]) -> Vec<PartVerdict>,
) -> Verdict {
    let refuse_or_pass = |why: String| match s.unscannable {
        AvUnscannable::Remove => Verdict::Refuse(why),
        AvUnscannable::Pass => Verdict::Deliver {
            body: None,
            header: format!(
                "X-Virus-Scanned: {} ({engine}); unchecked: {why}\r\n",
                s.host
            ),
            removed: Vec::new(),
            unchecked: vec![why],
            signature_broken: false,
        },
    };
    if walk::boundary_lines(raw) > walk::MAX_PARTS * 2 {
        return refuse_or_pass(format!("more than {} MIME parts", walk::MAX_PARTS));
    }
    let Some(msg) = walk::parse(raw) else {
        return refuse_or_pass("the message cannot be parsed".into());
    };
    let w = walk::walk(&msg, s.scan_text_parts);
    if w.parts.len() > walk::MAX_PARTS {
        return refuse_or_pass(format!("more than {} MIME parts", walk::MAX_PARTS));
    }
    if let Some(why) = &w.unscannable {
        if s.unscannable == AvUnscannable::Remove {
            return Verdict::Refuse(why.clone());
        }
    }
    let verdicts = check(&w.parts);
    let mut unchecked: Vec<String> = w.encrypted.clone();
    let mut removed = Vec::new();
    let mut cuts: Vec<rewrite::Cut> = Vec::new();
    let mut signature_broken = false;
    for (p, v) in w.parts.iter().zip(verdicts) {
        for e in v.encrypted {
            unchecked.push(format!("encrypted: {e}"));
        }
        let remove_unscannable = s.unscannable == AvUnscannable::Remove;
        let (sig, why, inside) = match (v.infected, v.unscannable) {
            (Some((sig, inside)), _) => {
                let why = format!("it contains the virus {sig}");
                (Some(sig), why, inside)
            }
            (None, Some(u)) if remove_unscannable => {
                (None, format!("it could not be checked: {u}"), Vec::new())
            }
            (None, Some(u)) => {
                unchecked.push(u);
                continue;
            }
            (None, None) => continue,
        };
        if cuts
            .iter()
            .any(|c| c.span.0 <= p.span.0 && p.span.1 <= c.span.1)
        {
            continue; // already inside a removed part
        }
        let n = cuts.len() as u32 + 1;
        let notice = rewrite::notice(&s.host, &p.name, &p.raw_name, &why, &inside);
        signature_broken |= p.signed;
        removed.push(Removal {
            n,
            file: p.name.clone(),
            unscannable: sig.is_none().then(|| why.clone()),
            signature: sig,
            inside,
        });
        cuts.push(rewrite::Cut {
            span: p.span,
            top: p.top,
            n,
            notice,
        });
    }
    cuts.sort_by_key(|c| c.span.0);
    let result = if removed.is_empty() {
        if unchecked.is_empty() {
            "clean".to_string()
        } else {
            format!("unchecked: {}", unchecked.join(", "))
        }
    } else {
        let names: Vec<String> = removed
            .iter()
            .map(|r| {
                r.signature
                    .clone()
                    .unwrap_or_else(|| "unscannable".to_string())
            })
            .collect();
        let mut t = format!(
            "infected: {} part{} removed ({})",
            removed.len(),
            if removed.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
        if !unchecked.is_empty() {
            t.push_str(&format!("; unchecked: {}", unchecked.join(", ")));
        }
        if signature_broken {
            t.push_str("; signed message changed, its signature no longer verifies");
        }
        t
    };
    let header = format!(
        "X-Virus-Scanned: {} ({engine}); {}\r\n",
        s.host,
        fold_safe(&result)
    );
    let body = (!cuts.is_empty()).then(|| rewrite::apply(raw, &cuts));
    Verdict::Deliver {
        body,
        header,
        removed,
        unchecked,
        signature_broken,
    }
}

/// A header value from names that came from the message: no line breaks,
/// no control characters, bounded length.
fn fold_safe(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > 900 {
        let mut cut = 900;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}
