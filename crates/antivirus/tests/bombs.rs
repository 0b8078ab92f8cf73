//! R-AV-2 bad input: bombs and tricks get a result in bounded time — an
//! unscannable part (removed by default, fail closed) or a clean verdict —
//! never a panic, a hang or a large allocation. The generators are here:
//! nothing can be downloaded. The time bounds are generous (debug builds,
//! a loaded CI machine); the tight figures (< 1 s, < 64 MiB) are measured
//! by `bench/av.sh` in a release build.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eicar, scan};
use mailhost_antivirus::{Scanner, Settings, Signatures, Verdict};

const BOUND: Duration = Duration::from_secs(20);

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    assert!(t.elapsed() < BOUND, "{what} took {:?}", t.elapsed());
    r
}

fn zip_stored_or_deflated(files: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let m = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(m)
        .large_file(false);
    for (n, d) in files {
        z.start_file(n.as_str(), o).unwrap();
        z.write_all(d).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn nested_zip_bomb_42_style() {
    // 16 MiB of zeros, then four layers of 16 copies: 1 TiB in all.
    let mut layer = zip_stored_or_deflated(&[("0.bin".into(), vec![0u8; 16 << 20])], true);
    for level in 1..=4 {
        let files: Vec<(String, Vec<u8>)> = (0..16)
            .map(|i| (format!("{level}-{i}.zip"), layer.clone()))
            .collect();
        layer = zip_stored_or_deflated(&files, true);
    }
    assert!(layer.len() < 1 << 20, "{}", layer.len());
    let r = timed("42.zip", || scan(&layer, "42.zip"));
    assert_eq!(r.infected, None);
    let why = r.unscannable.expect("a bomb is unscannable");
    assert!(why.contains("bomb") || why.contains("expands"), "{why}");
    // It stopped at the first base file, not after reading them all.
    assert!(r.bytes < 64 << 20, "read {} bytes", r.bytes);
}

#[test]
fn single_layer_bombs() {
    // Concatenated members: each compresses 1 MiB of zeros, so the file is
    // small to build and expands without end.
    let mib = vec![0u8; 1 << 20];
    let gz = common::gzip(&mib);
    let gzip_bomb: Vec<u8> = gz.iter().copied().cycle().take(gz.len() * 4000).collect();
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    e.write_all(&mib).unwrap();
    let bz = e.finish().unwrap();
    let bzip2_bomb: Vec<u8> = bz.iter().copied().cycle().take(bz.len() * 10_000).collect();
    let deflated = zip_stored_or_deflated(&[("zeros.bin".into(), vec![0u8; 64 << 20])], true);
    for (what, data) in [
        ("gzip", gzip_bomb),
        ("bzip2", bzip2_bomb),
        ("zip", deflated),
    ] {
        let r = timed(what, || scan(&data, what));
        let why = r
            .unscannable
            .unwrap_or_else(|| panic!("{what}: not refused"));
        assert!(
            why.contains("bomb") || why.contains("expands"),
            "{what}: {why}"
        );
        assert_eq!(r.infected, None);
    }
}

#[test]
fn a_plain_compressible_file_is_not_a_bomb() {
    // Text compresses well, but not 250 times: read to the end.
    let text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("{i:08} the quick brown fox {}\n", i % 7919).into_bytes())
        .collect();
    let z = common::zip(&[("log.txt", &text), ("eicar.com", &eicar())]);
    let r = scan(&z, "logs.zip");
    assert_eq!(r.unscannable, None);
    assert!(r.infected.is_some());
}

/// Duplicates the one central-directory entry of a single-file zip `n`
/// times under other names, all pointing at the same local header: the
/// overlapping-entry bomb (D. Fifield, "A better zip bomb", 2019).
fn overlapping(n: usize) -> Vec<u8> {
    let base = zip_stored_or_deflated(&[("a.bin".into(), vec![0u8; 1 << 20])], true);
    let eocd = base.len() - 22;
    assert_eq!(&base[eocd..eocd + 4], b"PK\x05\x06");
    let cd_size = u32::from_le_bytes(base[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let cd_off = u32::from_le_bytes(base[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let entry = &base[cd_off..cd_off + cd_size];
    let name_at = 46;
    let mut out = base[..cd_off].to_vec();
    for i in 0..n {
        let mut e = entry.to_vec();
        // Same-length names: "a.bin" -> "00000" .. (a 5-character name).
        let name = format!("{:05}", i % 100_000);
        e[name_at..name_at + 5].copy_from_slice(name.as_bytes());
        out.extend(e);
    }
    let new_cd = out.len() - cd_off;
    let mut end = base[eocd..].to_vec();
    end[8..10].copy_from_slice(&(n as u16).to_le_bytes());
    end[10..12].copy_from_slice(&(n as u16).to_le_bytes());
    end[12..16].copy_from_slice(&(new_cd as u32).to_le_bytes());
    out.extend(end);
    out
}

#[test]
fn overlapping_zip_entries_are_refused() {
    let data = overlapping(1000);
    let r = timed("overlap", || scan(&data, "overlap.zip"));
    let why = r.unscannable.expect("overlapping entries are unscannable");
    assert!(why.contains("ZIP"), "{why}");
    assert!(r.bytes < 16 << 20, "read {} bytes", r.bytes);
}

#[test]
fn truncated_and_damaged_containers() {
    for f in common::ALL {
        let c = common::wrap(f, "eicar.com", &eicar());
        for cut in [1, 2, 5, 10, c.len() / 3, c.len() / 2, c.len() - 1] {
            let _ = scan(&c[..cut.min(c.len())], "cut");
        }
        for at in (0..c.len()).step_by(7) {
            let mut d = c.clone();
            d[at] ^= 0x55;
            let _ = scan(&d, "flipped");
        }
    }
}

fn scanner() -> (Scanner, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sigs = Arc::new(Signatures::load(dir.path().to_path_buf()).unwrap());
    let settings = Settings::from_config(&mailhost_config::Antivirus::default(), "mx.test");
    (Scanner::builtin(sigs, settings), dir)
}

fn verdict(msg: Vec<u8>) -> Verdict {
    let (s, _dir) = scanner();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = Instant::now();
    let v = rt.block_on(s.scan(Arc::new(msg), 0));
    assert!(t.elapsed() < BOUND, "scan took {:?}", t.elapsed());
    v
}

#[test]
fn a_million_tiny_parts() {
    let mut m = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: parts\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        .to_vec();
    for _ in 0..1_000_000 {
        m.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    m.extend_from_slice(b"--b--\r\n");
    match verdict(m) {
        Verdict::Refuse(why) => assert!(why.contains("MIME parts"), "{why}"),
        v => panic!("{v:?}"),
    }
}

#[test]
fn mime_nested_1000_deep() {
    let mut m =
        b"From: a@example.com\r\nTo: b@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            .to_vec();
    for i in 0..1000 {
        m.extend(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").bytes());
    }
    m.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
    m.extend_from_slice(&eicar());
    m.extend_from_slice(b"\r\n");
    for i in (0..1000).rev() {
        m.extend(format!("--b{i}--\r\n").bytes());
    }
    // Either refused as unscannable, or the virus is found: never missed.
    match verdict(m) {
        Verdict::Refuse(_) => {}
        Verdict::Deliver { removed, .. } => assert!(!removed.is_empty()),
        v => panic!("{v:?}"),
    }
}

#[test]
fn rfc2231_continuations_cve_2024_39929() {
    // Exim before 4.98 read only the first line of a multi-line RFC 2231
    // filename, so "eicar" passed an extension filter. The name is joined
    // for the notice; the content is checked whatever the name.
    let m = format!(
        "From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment;\r\n filename*0*=us-ascii''eic;\r\n filename*1*=ar%2E;\r\n filename*2=\"com\"\r\n\r\n\
{}\r\n--b--\r\n",
        common::base64(&eicar())
    );
    match verdict(m.into_bytes()) {
        Verdict::Deliver { body, removed, .. } => {
            assert_eq!(removed.len(), 1);
            assert_eq!(removed[0].file, "eicar.com");
            let body = String::from_utf8(body.unwrap()).unwrap();
            assert!(body.contains("DELETED1.TXT"), "{body}");
            assert!(body.contains("filename*0*=us-ascii''eic"), "{body}");
        }
        v => panic!("{v:?}"),
    }
}
