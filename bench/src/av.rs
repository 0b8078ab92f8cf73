//! `av-sigs` and `av`: the virus scanner's two engines on the same
//! signatures and the same corpus (issue 13's benchmark).
//!
//! - `av-sigs --out DIR`: writes NDB (hex patterns with `??`, `{n-m}`, `*`
//!   and alternatives; target 0; any offset) and HDB (MD5) signatures from a
//!   fixed seed, plus EICAR: the one database both engines load.
//! - `av --sigs DIR [--clamd SOCKET --clamd-pid PID]`: loads the database
//!   into the built-in engine (timed), measures raw matching speed, scans
//!   the corpus at 1 and 2 threads with each engine (messages/s, MB/s,
//!   p50/p99 per message, peak RSS), and scans each bomb once (time, extra
//!   peak memory, verdict).
//!
//! The corpus is built here with the container writers of the scanner's own
//! tests (`crates/antivirus/tests/common`): nothing is downloaded and no
//! EICAR file is stored.

#[path = "../../crates/antivirus/tests/common/mod.rs"]
#[allow(dead_code, clippy::all)]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailhost_antivirus::clamd::Clamd;
use mailhost_antivirus::{scan_builtin, Database, Scanner, Settings, Verdict};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// xorshift64*: a fixed, fast sequence (the same database every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        self.bytes(n).iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub fn write_sigs(out: &Path, ndb: usize, hdb: usize) -> Res<()> {
    std::fs::create_dir_all(out)?;
    let mut r = Rng(0x6d61_696c_686f_7374);
    let mut n = std::fs::File::create(out.join("bench.ndb"))?;
    writeln!(n, "{}", mailhost_antivirus::sigs::EICAR_NDB)?;
    for i in 0..ndb {
        // A fixed run, then one of the wildcard forms, then another run.
        let (la, lb) = (6 + r.below(10) as usize, 4 + r.below(6) as usize);
        let (a, b) = (r.hex(la), r.hex(lb));
        let mid = match i % 5 {
            0 => "??".to_string(),
            1 => format!("{{{}-{}}}", 1 + r.below(3), 4 + r.below(8)),
            2 => "*".to_string(),
            3 => format!("({}|{})", r.hex(1), r.hex(1)),
            _ => String::new(),
        };
        writeln!(n, "Bench.Ndb.{i}:0:*:{a}{mid}{b}")?;
    }
    let mut h = std::fs::File::create(out.join("bench.hdb"))?;
    for i in 0..hdb {
        writeln!(h, "{}:{}:Bench.Hdb.{i}", r.hex(16), 1000 + r.below(1 << 20))?;
    }
    println!(
        "av-sigs: {ndb} ndb + {hdb} hdb + EICAR in {}",
        out.display()
    );
    Ok(())
}

fn text(r: &mut Rng, n: usize) -> Vec<u8> {
    const W: [&str; 12] = [
        "the", "report", "attached", "meeting", "invoice", "please", "find", "regards", "quarter",
        "figures", "review", "thanks",
    ];
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(W[r.below(12) as usize].as_bytes());
        out.push(if r.below(12) == 0 { b'\n' } else { b' ' });
    }
    out.truncate(n);
    out
}

/// A message: a text part and, optionally, one base64 attachment.
fn mail(body: &[u8], attachment: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut m = b"From: sender@load.test\r\nTo: user0@bench.test\r\nSubject: bench\r\n\
MIME-Version: 1.0\r\n"
        .to_vec();
    let Some((name, ctype, data)) = attachment else {
        m.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        m.extend_from_slice(body);
        m.extend_from_slice(b"\r\n");
        return m;
    };
    m.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n--bb\r\n");
    m.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    m.extend_from_slice(body);
    m.extend(
        format!(
            "\r\n--bb\r\nContent-Type: {ctype}; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--bb--\r\n",
            common::base64(data)
        )
        .bytes(),
    );
    m
}

/// The clean and infected corpus, and the bombs, as messages.
/// Named messages.
type Named = Vec<(String, Vec<u8>)>;

fn corpus() -> (Named, Named) {
    use common::Format;
    let mut r = Rng(42);
    let mut c = Vec::new();
    let t4 = text(&mut r, 4000);
    c.push(("4 KB text".to_string(), mail(&t4, None)));
    let mut html = b"<html><body>".to_vec();
    while html.len() < 100_000 {
        html.extend(format!("<p class=\"x{}\">", r.below(100)).bytes());
        html.extend(text(&mut r, 200));
        html.extend_from_slice(b"</p>\n");
    }
    c.push((
        "100 KB HTML".into(),
        mail(&t4[..300], Some(("page.html", "text/html", &html))),
    ));
    let bin = r.bytes(1 << 20);
    c.push((
        "1 MB attachment".into(),
        mail(
            &t4[..300],
            Some(("data.bin", "application/octet-stream", &bin)),
        ),
    ));
    let files: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| (format!("doc{i}.txt"), text(&mut r, 10_000)))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    c.push((
        "zip of 10 files".into(),
        mail(
            &t4[..300],
            Some(("docs.zip", "application/zip", &common::zip(&refs))),
        ),
    ));
    let mut deep = text(&mut r, 20_000);
    for f in [
        Format::Zip,
        Format::Tar,
        Format::Gzip,
        Format::SevenZ,
        Format::Zip,
    ] {
        deep = common::wrap(f, "layer", &deep);
    }
    c.push((
        "zip>tar.gz>7z depth 5".into(),
        mail(&t4[..300], Some(("deep.zip", "application/zip", &deep))),
    ));
    for f in common::ALL {
        let data = common::wrap(f, "eicar.com", &common::eicar());
        c.push((
            format!("EICAR in {f:?}"),
            mail(
                &t4[..300],
                Some(("file.bin", "application/octet-stream", &data)),
            ),
        ));
    }
    let mut bombs = Vec::new();
    let mut layer = common::zip(&[("0.bin", &vec![0u8; 16 << 20])]);
    for level in 1..=4 {
        let names: Vec<String> = (0..16).map(|i| format!("{level}-{i}.zip")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &layer[..])).collect();
        layer = common::zip(&files);
    }
    bombs.push(("42.zip-style, 1 TiB".to_string(), layer));
    let gz = common::gzip(&vec![0u8; 1 << 20]);
    let gz: Vec<u8> = gz.iter().copied().cycle().take(gz.len() * 10_000).collect();
    bombs.push(("gzip, 10 GiB in one layer".to_string(), gz));
    bombs.push((
        "zip, 1 GiB of zeros in one entry".to_string(),
        common::zip(&[("z.bin", &vec![0u8; 1 << 30])]),
    ));
    let mut parts = b"From: a@load.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        .to_vec();
    for _ in 0..1_000_000 {
        parts.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    parts.extend_from_slice(b"--b--\r\n");
    let mut deep = b"From: a@load.test\r\nSubject: deep\r\nMIME-Version: 1.0\r\n".to_vec();
    for i in 0..1000 {
        deep.extend(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").bytes(),
        );
    }
    deep.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\nx\r\n");
    let bombs: Named = bombs
        .into_iter()
        .map(|(n, d)| {
            (
                n,
                mail(b"bomb", Some(("b.bin", "application/octet-stream", &d))),
            )
        })
        .chain([
            ("a million MIME parts".to_string(), parts),
            ("MIME nested 1,000 deep".to_string(), deep),
        ])
        .collect();
    (c, bombs)
}

fn status_kb(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets this process's peak RSS (Linux `clear_refs` 5) and returns the
/// current RSS in KiB.
fn reset_peak() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kb("self", "VmRSS:")
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn verdict_word(v: &Verdict) -> String {
    match v {
        Verdict::Deliver {
            removed, unchecked, ..
        } if removed.is_empty() && unchecked.is_empty() => "clean".into(),
        Verdict::Deliver { removed, .. } if !removed.is_empty() => format!(
            "{} removed ({})",
            removed.len(),
            removed[0]
                .signature
                .clone()
                .or_else(|| removed[0].unscannable.clone())
                .unwrap_or_default()
        ),
        Verdict::Deliver { unchecked, .. } => format!("unchecked ({})", unchecked.join("; ")),
        Verdict::TempFail(w) => format!("tempfail ({w})"),
        Verdict::Refuse(w) => format!("refused ({w})"),
    }
}

#[derive(Default)]
struct Run {
    msgs: usize,
    bytes: usize,
    secs: f64,
    lat: Vec<f64>,
}

impl Run {
    /// One message of `bytes` scanned since `t0`.
    fn record(&mut self, t0: Instant, bytes: usize) {
        self.lat.push(t0.elapsed().as_secs_f64() * 1e3);
        self.msgs += 1;
        self.bytes += bytes;
    }
}

fn report(engine: &str, threads: usize, mut r: Run, rss_kb: u64) {
    let p50 = pct(&mut r.lat, 0.5);
    let p99 = pct(&mut r.lat, 0.99);
    println!(
        "av: {engine:8} threads={threads} messages/s={:.0} MB/s={:.1} p50_ms={:.3} p99_ms={:.3} peak_rss_mb={:.1}",
        r.msgs as f64 / r.secs,
        r.bytes as f64 / r.secs / 1e6,
        p50,
        p99,
        rss_kb as f64 / 1024.0
    );
}

fn builtin_run(
    db: &Arc<Database>,
    s: &Arc<Settings>,
    corpus: &Arc<Vec<Vec<u8>>>,
    threads: usize,
    secs: f64,
) -> Run {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (db, s, corpus) = (db.clone(), s.clone(), corpus.clone());
            std::thread::spawn(move || {
                let mut run = Run::default();
                let mut i = t;
                while start.elapsed().as_secs_f64() < secs {
                    let m = &corpus[i % corpus.len()];
                    let t0 = Instant::now();
                    std::hint::black_box(scan_builtin(&db, &s, m));
                    run.record(t0, m.len());
                    i += 1;
                }
                run
            })
        })
        .collect();
    merge(handles.into_iter().map(|h| h.join().unwrap()), start)
}

fn merge(runs: impl Iterator<Item = Run>, start: Instant) -> Run {
    let mut all = Run::default();
    for r in runs {
        all.msgs += r.msgs;
        all.bytes += r.bytes;
        all.lat.extend(r.lat);
    }
    all.secs = start.elapsed().as_secs_f64();
    all
}

async fn clamd_run(s: &Scanner, corpus: &Arc<Vec<Vec<u8>>>, threads: usize, secs: f64) -> Run {
    let start = Instant::now();
    let tasks: Vec<_> = (0..threads)
        .map(|t| {
            let (s, corpus) = (s.clone(), corpus.clone());
            tokio::spawn(async move {
                let mut run = Run::default();
                let mut i = t;
                while start.elapsed().as_secs_f64() < secs {
                    let m = Arc::new(corpus[i % corpus.len()].clone());
                    let n = m.len();
                    let t0 = Instant::now();
                    std::hint::black_box(s.scan(m, 0).await);
                    run.record(t0, n);
                    i += 1;
                }
                run
            })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.unwrap());
    }
    merge(runs.into_iter(), start)
}

pub async fn av(
    sigs: PathBuf,
    clamd: Option<String>,
    clamd_pid: Option<u32>,
    secs: f64,
) -> Res<()> {
    let base = reset_peak();
    let t = Instant::now();
    let db = Arc::new(Database::load(&sigs)?);
    let load = t.elapsed();
    println!(
        "av: builtin loaded {} signatures in {:.0} ms ({} unsupported), +{:.1} MB RSS",
        db.count(),
        load.as_secs_f64() * 1e3,
        db.report.unsupported.values().sum::<usize>(),
        (status_kb("self", "VmRSS:").saturating_sub(base)) as f64 / 1024.0
    );
    // Raw matching: 64 MiB that matches nothing, one core.
    let mut r = Rng(7);
    let data = r.bytes(64 << 20);
    let t = Instant::now();
    let hit = db.scan(&data);
    let mbs = data.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
    println!(
        "av: raw matching {mbs:.0} MB/s per core (64 MiB random, {} signatures, hit: {hit:?})",
        db.count()
    );
    let text_data = text(&mut r, 64 << 20);
    let t = Instant::now();
    let hit = db.scan(&text_data);
    println!(
        "av: raw matching {:.0} MB/s per core (64 MiB text, hit: {hit:?})",
        text_data.len() as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    drop((data, text_data));

    let (corpus, bombs) = corpus();
    let cfg = mailhost_config::Antivirus::default();
    let settings = Arc::new(Settings::from_config(&cfg, "bench.local"));
    println!(
        "av: corpus of {} messages, {:.1} MB; verdicts (builtin):",
        corpus.len(),
        corpus.iter().map(|(_, m)| m.len()).sum::<usize>() as f64 / 1e6
    );
    for (name, m) in &corpus {
        println!(
            "av:   {name}: {}",
            verdict_word(&scan_builtin(&db, &settings, m))
        );
    }
    let msgs: Arc<Vec<Vec<u8>>> = Arc::new(corpus.iter().map(|(_, m)| m.clone()).collect());
    for threads in [1, 2] {
        reset_peak();
        let run = builtin_run(&db, &settings, &msgs, threads, secs);
        report("builtin", threads, run, status_kb("self", "VmHWM:"));
    }
    if let Some(sock) = clamd {
        let c = Arc::new(Clamd::new(&sock, Duration::from_secs(60), 2));
        let s = Scanner::clamd(c, (*settings).clone());
        println!("av: clamd verdicts:");
        for (name, m) in &corpus {
            println!(
                "av:   {name}: {}",
                verdict_word(&s.scan(Arc::new(m.clone()), 0).await)
            );
        }
        for threads in [1, 2] {
            let run = clamd_run(&s, &msgs, threads, secs).await;
            let pid = clamd_pid.map(|p| p.to_string()).unwrap_or_default();
            report("clamd", threads, run, status_kb(&pid, "VmHWM:"));
        }
    }
    for (name, m) in &bombs {
        let base = reset_peak();
        let t = Instant::now();
        let v = scan_builtin(&db, &settings, m);
        let took = t.elapsed();
        let extra = status_kb("self", "VmHWM:").saturating_sub(base);
        println!(
            "av: bomb {name} ({:.1} MB message): {:.0} ms, +{:.1} MB peak RSS: {}",
            m.len() as f64 / 1e6,
            took.as_secs_f64() * 1e3,
            extra as f64 / 1024.0,
            verdict_word(&v)
        );
    }
    Ok(())
}
