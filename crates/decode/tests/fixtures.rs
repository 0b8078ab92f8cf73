//! The decoders against files written by the real tools: ncompress 4.2.4
//! (`compress`, `compress -b10`, `compress -b12`), ARJ 3.10 (`arj a -m1` …
//! `-m4`, and `-g` for a garbled file), macutils `binhex`, and sharutils
//! `uuencode` (classic and `-m`). `content()` regenerates the input they
//! were given, so no expected output is stored.

use mailhost_decode::{arj, binhex, compress, uu, Error, Limits, Member};

const LIMITS: Limits = Limits {
    max_total: 1 << 24,
    max_member: 1 << 24,
    max_members: 100,
};

/// 1,500 numbered lines, 10,000 pseudo-random bytes, the lines again:
/// text that compresses, noise that does not (so `compress -b10` clears its
/// table), and repeats far apart.
fn content() -> Vec<u8> {
    let lines: Vec<u8> = (0..1500u64)
        .flat_map(|i| format!("line {i} {}\n", (i * i) % 997).into_bytes())
        .collect();
    let mut out = lines.clone();
    let mut x: u64 = 1;
    for _ in 0..10_000 {
        x = (x * 1_103_515_245 + 12_345) & 0x7fff_ffff;
        out.push((x >> 16) as u8);
    }
    out.extend_from_slice(&lines);
    out
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn compress_at_every_width() {
    let want = content();
    for f in ["content.Z", "content10.Z", "content12.Z"] {
        let got = compress::decode(&fixture(f), &LIMITS).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(got == want, "{f}: {} bytes, want {}", got.len(), want.len());
    }
}

#[test]
fn compress_truncated_and_limited() {
    let z = fixture("content.Z");
    // Cut anywhere: a prefix of the output or an error, never a panic.
    let want = content();
    for cut in [3, 4, 100, 1000, z.len() / 2, z.len() - 1] {
        if let Ok(got) = compress::decode(&z[..cut], &LIMITS) {
            assert!(want.starts_with(&got), "cut at {cut}");
        }
    }
    let small = Limits {
        max_total: 1000,
        ..LIMITS
    };
    assert!(matches!(compress::decode(&z, &small), Err(Error::Limit(_))));
}

#[test]
fn arj_methods_1_to_4() {
    let want = content();
    for f in ["m1.arj", "m2.arj", "m3.arj", "m4.arj"] {
        let data = fixture(f);
        assert!(arj::looks_like(&data), "{f}");
        let m = arj::decode(&data, &LIMITS).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(m.len(), 1, "{f}");
        assert_eq!(m[0].name, b"content.bin", "{f}");
        assert!(m[0].data == want, "{f}: {} bytes", m[0].data.len());
    }
}

#[test]
fn arj_garbled_is_encrypted() {
    let m = arj::decode(&fixture("garbled.arj"), &LIMITS).unwrap();
    assert_eq!(
        m,
        vec![Member {
            name: b"content.bin".to_vec(),
            data: Vec::new(),
            encrypted: true
        }]
    );
}

#[test]
fn arj_damaged() {
    let mut data = fixture("m1.arj");
    let n = data.len();
    // A flipped bit in the packed data: a CRC mismatch or a decoding error.
    data[n / 2] ^= 0x10;
    assert!(arj::decode(&data, &LIMITS).is_err());
    let data = fixture("m4.arj");
    for cut in [2, 10, 60, 200, data.len() / 2] {
        assert!(arj::decode(&data[..cut], &LIMITS).is_err(), "cut at {cut}");
    }
    let small = Limits {
        max_member: 1000,
        ..LIMITS
    };
    assert!(matches!(
        arj::decode(&fixture("m3.arj"), &small),
        Err(Error::Limit(_))
    ));
}

#[test]
fn binhex_from_macutils() {
    let data = fixture("content.hqx");
    assert!(binhex::looks_like(&data));
    let m = binhex::decode(&data, &LIMITS).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].name, b"content.bin");
    assert!(m[0].data == content());
    // A damaged character: a CRC mismatch or a bad character, not a panic.
    let mut bad = data.clone();
    let at = bad.len() / 2;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    assert!(binhex::decode(&bad, &LIMITS).is_err());
    assert_eq!(
        binhex::decode(&data[..data.len() / 2], &LIMITS),
        Err(Error::Truncated)
    );
}

#[test]
fn uuencode_classic_and_base64() {
    let want = &content()[3000..6000];
    for f in ["small.uu", "small.b64uu"] {
        let data = fixture(f);
        assert!(uu::looks_like(&data), "{f}");
        // Inside a mail body, with CRLF line ends and text around it.
        let crlf: Vec<u8> = data
            .split(|b| *b == b'\n')
            .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
            .collect();
        let mut body = b"Hello,\r\nthe file:\r\n\r\n".to_vec();
        body.extend_from_slice(&crlf);
        body.extend_from_slice(b"-- \r\nsignature\r\n");
        for input in [&data[..], &body[..]] {
            let m = uu::decode(input, &LIMITS).unwrap();
            assert_eq!(m.len(), 1, "{f}");
            assert_eq!(m[0].name, b"small.bin");
            assert!(m[0].data == want, "{f}");
        }
    }
}
