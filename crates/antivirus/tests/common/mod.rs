//! Writers for every container the scanner opens, so tests build their
//! fixtures (EICAR is never stored in the repository, and nothing can be
//! downloaded). Where a crate writes the format (zip, tar, flate2, bzip2,
//! lzma-rust2, sevenz-rust2, rars, cfb) it is used; the rest (LHA stored,
//! ARJ stored, `.Z`, TNEF, RTF, UUEncode, BinHex) are written here from
//! their specifications, in the simplest valid form.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use mailhost_antivirus::{Database, Findings, Limits};

/// The EICAR test file (eicar.org), assembled so the source holds no copy.
pub fn eicar() -> Vec<u8> {
    let mut v = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$".to_vec();
    v.extend_from_slice(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    v
}

/// A look-alike that no signature matches: one letter changed.
pub fn lookalike() -> Vec<u8> {
    let mut v = eicar();
    let at = v.iter().position(|b| *b == b'E').unwrap();
    v[at] = b'F';
    v
}

pub fn scan(data: &[u8], name: &str) -> Findings {
    scan_with(data, name, Limits::default())
}

pub fn scan_with(data: &[u8], name: &str, limits: Limits) -> Findings {
    let db = Database::builtin();
    let mut w = mailhost_antivirus::unpack::Walker::new(&db, limits);
    w.part(data, name, false)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    SevenZ,
    Rar,
    Lha,
    Cfb,
    Compress,
    Arj,
    Tnef,
    Rtf,
    Uu,
    BinHex,
}

pub const ALL: [Format; 15] = [
    Format::Zip,
    Format::Tar,
    Format::Gzip,
    Format::Bzip2,
    Format::Xz,
    Format::SevenZ,
    Format::Rar,
    Format::Lha,
    Format::Cfb,
    Format::Compress,
    Format::Arj,
    Format::Tnef,
    Format::Rtf,
    Format::Uu,
    Format::BinHex,
];

/// Wraps `data`, named `name`, in `f`.
pub fn wrap(f: Format, name: &str, data: &[u8]) -> Vec<u8> {
    match f {
        Format::Zip => zip(&[(name, data)]),
        Format::Tar => tar(&[(name, data)]),
        Format::Gzip => gzip(data),
        Format::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Format::Xz => {
            let mut e =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))
                    .unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Format::SevenZ => seven_z(name, data),
        Format::Rar => rar(name, data),
        Format::Lha => lha(name, data),
        Format::Cfb => {
            let mut c = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
            c.create_storage("/Docs").unwrap();
            let mut s = c.create_stream(format!("/Docs/{name}")).unwrap();
            s.write_all(data).unwrap();
            drop(s);
            c.flush().unwrap();
            c.into_inner().into_inner()
        }
        Format::Compress => compress(data),
        Format::Arj => arj(name, data),
        Format::Tnef => tnef(name, data),
        Format::Rtf => rtf(name, data),
        Format::Uu => uu(name, data),
        Format::BinHex => binhex(name, data),
    }
}

pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, d) in files {
        z.start_file(*n, o).unwrap();
        z.write_all(d).unwrap();
    }
    z.finish().unwrap().into_inner()
}

pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, n, *d).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn seven_z(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    w.push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(data))
        .unwrap();
    w.finish().unwrap().into_inner()
}

pub fn rar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = rars::Builder::new(rars::ArchiveVersion::Rar50);
    b.add_bytes(name.as_bytes().to_vec(), data.to_vec(), None, None)
        .unwrap();
    let mut out = Vec::new();
    b.write_to(&mut out, &rars::WriterResources::default(), None)
        .unwrap();
    out
}

/// CRC-16/ARC (LHA's), reflected polynomial 0xA001.
fn crc16_arc(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xa001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An LHA level-0 archive with one stored (`-lh0-`) file.
pub fn lha(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"-lh0-");
    h.extend((data.len() as u32).to_le_bytes());
    h.extend((data.len() as u32).to_le_bytes());
    h.extend(0x5a21_0000u32.to_le_bytes()); // a DOS timestamp
    h.push(0x20); // attribute
    h.push(0); // level 0
    h.push(name.len() as u8);
    h.extend_from_slice(name.as_bytes());
    h.extend(crc16_arc(data).to_le_bytes());
    let sum = h.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    let mut out = vec![h.len() as u8, sum];
    out.extend(h);
    out.extend_from_slice(data);
    out.push(0); // end of archive
    out
}

/// unix compress with literal codes only (no matches), widening the codes
/// as the decoder's table grows and padding each width's last group of
/// eight codes, as ncompress does.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x9d, 0x90];
    let mut pos: u64 = 0; // bit position after the 3-byte header
    let put = |out: &mut Vec<u8>, pos: &mut u64, v: u32, n: u32| {
        for k in 0..n {
            let byte = 3 + (*pos / 8) as usize;
            if byte >= out.len() {
                out.push(0);
            }
            if (v >> k) & 1 == 1 {
                out[byte] |= 1 << (*pos % 8);
            }
            *pos += 1;
        }
    };
    let (mut n_bits, mut max_code, mut group) = (9u32, 511u32, 0u64);
    for (k, &b) in data.iter().enumerate() {
        // The decoder's next free entry when it reads code k.
        let free = 257 + (k.max(1) as u32 - 1);
        if free > max_code && n_bits < 16 {
            let g = u64::from(n_bits) * 8;
            let into = (pos - group) % g;
            if into != 0 {
                pos += g - into;
            }
            group = pos;
            n_bits += 1;
            max_code = if n_bits == 16 {
                1 << 16
            } else {
                (1 << n_bits) - 1
            };
        }
        put(&mut out, &mut pos, u32::from(b), n_bits);
    }
    out.resize(3 + pos.div_ceil(8) as usize, 0);
    out
}

fn arj_header(
    flags: u8,
    method: u8,
    file_type: u8,
    sizes: (u32, u32),
    crc: u32,
    name: &str,
) -> Vec<u8> {
    let mut b = vec![30, 11, 1, 2, flags, method, file_type, 0];
    b.extend(0u32.to_le_bytes());
    b.extend(sizes.0.to_le_bytes());
    b.extend(sizes.1.to_le_bytes());
    b.extend(crc.to_le_bytes());
    b.extend([0, 0, 0, 0, 0, 0]); // filespec position, mode, chapters
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    b.push(0); // empty comment
    let mut h = vec![0x60, 0xea];
    h.extend((b.len() as u16).to_le_bytes());
    h.extend(crc32fast::hash(&b).to_le_bytes());
    h.splice(4..4, b);
    h.extend([0, 0]); // no extended header
    h
}

/// An ARJ archive with one stored file.
pub fn arj(name: &str, data: &[u8]) -> Vec<u8> {
    let n = data.len() as u32;
    let mut out = arj_header(0, 0, 2, (0, 0), 0, "archive.arj");
    out.extend(arj_header(0, 0, 0, (n, n), crc32fast::hash(data), name));
    out.extend_from_slice(data);
    out.extend([0x60, 0xea, 0, 0]);
    out
}

fn tnef_attr(id: u32, data: &[u8]) -> Vec<u8> {
    let mut v = vec![2];
    v.extend(id.to_le_bytes());
    v.extend((data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
    v.extend(sum.to_le_bytes());
    v
}

/// A winmail.dat with one attachment ([MS-OXTNEF] §2.1.3).
pub fn tnef(name: &str, data: &[u8]) -> Vec<u8> {
    let mut v = 0x223e_9f78u32.to_le_bytes().to_vec();
    v.extend(0x0001u16.to_le_bytes());
    v.extend(tnef_attr(0x0006_9002, &[0; 14]));
    let mut title = name.as_bytes().to_vec();
    title.push(0);
    v.extend(tnef_attr(0x0001_8010, &title));
    v.extend(tnef_attr(0x0006_800f, data));
    v
}

/// An RTF document with the file dropped in through the Object Packager.
pub fn rtf(name: &str, data: &[u8]) -> Vec<u8> {
    let lp = |s: &[u8]| {
        let mut v = ((s.len() + 1) as u32).to_le_bytes().to_vec();
        v.extend_from_slice(s);
        v.push(0);
        v
    };
    let mut native = vec![2, 0];
    for s in [name.as_bytes(), b"C:\\Users\\a\\f.bin"] {
        native.extend_from_slice(s);
        native.push(0);
    }
    native.extend([0, 0, 3, 0]);
    let temp = b"C:\\Temp\\f.bin\0";
    native.extend((temp.len() as u32).to_le_bytes());
    native.extend_from_slice(temp);
    native.extend((data.len() as u32).to_le_bytes());
    native.extend_from_slice(data);
    let mut ole = vec![1, 5, 0, 0, 2, 0, 0, 0];
    ole.extend(lp(b"Package"));
    ole.extend(lp(b""));
    ole.extend(lp(b""));
    ole.extend((native.len() as u32).to_le_bytes());
    ole.extend(native);
    let hex: String = ole.iter().map(|b| format!("{b:02x}")).collect();
    let lines: Vec<&str> = hex
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "{{\\rtf1\\ansi{{\\fonttbl{{\\f0 Arial;}}}}\\pard Hello\\par\r\n{{\\object\\objemb{{\\*\\objclass Package}}{{\\*\\objdata\r\n{}}}}}}}\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

/// A text with a classic uuencoded block.
pub fn uu(name: &str, data: &[u8]) -> Vec<u8> {
    let c = |v: u8| if v == 0 { b'`' } else { v + 0x20 };
    let mut out = format!("Here it is:\r\n\r\nbegin 644 {name}\r\n").into_bytes();
    for line in data.chunks(45) {
        out.push(c(line.len() as u8));
        for g in line.chunks(3) {
            let mut t = [0u8; 3];
            t[..g.len()].copy_from_slice(g);
            out.extend([
                c(t[0] >> 2),
                c(((t[0] & 3) << 4) | (t[1] >> 4)),
                c(((t[1] & 15) << 2) | (t[2] >> 6)),
                c(t[2] & 63),
            ]);
        }
        out.extend(b"\r\n");
    }
    out.extend(b"`\r\nend\r\n\r\nBye\r\n");
    out
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A BinHex 4.0 text (RFC 1741), data fork only.
pub fn binhex(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = vec![name.len() as u8];
    header.extend_from_slice(name.as_bytes());
    header.push(0);
    header.extend(b"TEXTttxt");
    header.extend([0, 0]);
    header.extend((data.len() as u32).to_be_bytes());
    header.extend(0u32.to_be_bytes());
    let mut raw = header.clone();
    raw.extend(crc16_xmodem(&header).to_be_bytes());
    raw.extend_from_slice(data);
    raw.extend(crc16_xmodem(data).to_be_bytes());
    raw.extend(0u16.to_be_bytes()); // the empty resource fork's CRC
    let mut rle = Vec::new();
    for b in raw {
        rle.push(b);
        if b == 0x90 {
            rle.push(0);
        }
    }
    let chars = sextets(
        &rle,
        b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr",
        false,
    );
    let mut out = b"(This file must be converted with BinHex 4.0)\r\n\r\n:".to_vec();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && i % 64 == 63 {
            out.extend(b"\r\n");
        }
        out.push(*c);
    }
    out.extend(b":\r\n");
    out
}

/// Three bytes to four characters of `alphabet` (a last partial group
/// gives two or three, then `=` padding if `pad`): base64 and BinHex alike.
pub fn sextets(d: &[u8], alphabet: &[u8; 64], pad: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len() / 3 * 4 + 4);
    for g in d.chunks(3) {
        let mut t = [0u8; 3];
        t[..g.len()].copy_from_slice(g);
        let v = u32::from_be_bytes([0, t[0], t[1], t[2]]);
        for k in 0..4 {
            if k <= g.len() {
                out.push(alphabet[((v >> (18 - 6 * k)) & 63) as usize]);
            } else if pad {
                out.push(b'=');
            }
        }
    }
    out
}

/// Base64 (RFC 2045) in lines of 76.
pub fn base64(d: &[u8]) -> String {
    let s = sextets(
        d,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    );
    let lines: Vec<&[u8]> = s.chunks(76).collect();
    String::from_utf8(lines.join(&b"\r\n"[..])).expect("base64 is ASCII")
}
