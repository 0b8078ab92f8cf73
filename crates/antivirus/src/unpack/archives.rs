//! Multi-file archives read by the field's own crates: ZIP (`zip`), TAR
//! (`tar` ≥ 0.4.46), 7z (`sevenz-rust2`), RAR (`rars`, pure Rust), LHA/LZH
//! (`delharc`), OLE compound files (`cfb`). Every one is read from memory,
//! member by member, within the caps; encrypted members are named, not
//! opened (R-AV-4).

use std::cell::RefCell;
use std::io::{Cursor, Read, Write};
use std::rc::Rc;

use super::{read_capped, Counted, Fail, Member, Opened, Ratio, Read2, Walker};

fn bad(what: &str, e: impl std::fmt::Display) -> Fail {
    Fail::Bad(format!("{what} archive cannot be read: {e}"))
}

fn too_many(w: &Walker, n: usize) -> Result<(), Fail> {
    if n as u64 > u64::from(w.limits.files) {
        return Err(Fail::Limit(format!(
            "more than {} files in one archive",
            w.limits.files
        )));
    }
    Ok(())
}

fn done(members: Vec<Member>, encrypted: Vec<String>) -> Read2 {
    Ok(if encrypted.is_empty() {
        Opened::Members(members)
    } else {
        Opened::Partly(members, encrypted)
    })
}

pub(crate) fn zip(w: &mut Walker, data: &[u8]) -> Read2 {
    let (input, seen) = Counted::new(Cursor::new(data));
    let mut z = zip::ZipArchive::new(input).map_err(|e| bad("ZIP", e))?;
    too_many(w, z.len())?;
    // Two readings must agree: the central directory and the local
    // headers, and no byte may belong to two entries (the overlapping
    // "better zip bomb").
    z.validate_header_consistency()
        .map_err(|e| Fail::Bad(format!("ZIP entries overlap or disagree: {e}")))?;
    let mut members = Vec::new();
    let mut encrypted = Vec::new();
    let mut left = w.cap(data.len() as u64);
    // Reading the directory counted too; only member data counts from here.
    seen.set(0);
    let ratio = Ratio::new(w, seen);
    for i in 0..z.len() {
        let f = z.by_index_raw(i).map_err(|e| bad("ZIP", e))?;
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if f.is_dir() {
            continue;
        }
        if f.encrypted() {
            encrypted.push(name);
            continue;
        }
        let packed = f.compressed_size();
        drop(f);
        let mut f = z.by_index(i).map_err(|e| bad("ZIP", e))?;
        let cap = w.cap(packed).min(left);
        let out = read_capped(&mut f, cap, w.deadline(), "a ZIP member", Some(&ratio))?;
        left -= out.len() as u64;
        members.push(Member { name, data: out });
    }
    done(members, encrypted)
}

pub(crate) fn tar(w: &mut Walker, data: &[u8]) -> Read2 {
    let mut a = tar::Archive::new(data);
    let mut members = Vec::new();
    let entries = a.entries().map_err(|e| bad("TAR", e))?;
    for e in entries {
        let mut e = e.map_err(|e| bad("TAR", e))?;
        if !matches!(
            e.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
        ) {
            continue;
        }
        too_many(w, members.len() + 1)?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        // A tar member is stored, not packed: only the file limit applies.
        let cap = w.limits.file.min(data.len() as u64);
        let out = read_capped(&mut e, cap, w.deadline(), "a TAR member", None)?;
        members.push(Member { name, data: out });
    }
    done(members, Vec::new())
}

pub(crate) fn seven_z(w: &mut Walker, data: &[u8]) -> Read2 {
    use sevenz_rust2::{ArchiveReader, Password};
    let kb = usize::try_from(w.limits.decoder_memory >> 10).unwrap_or(usize::MAX);
    let (input, seen) = Counted::new(Cursor::new(data));
    let mut r = match ArchiveReader::new_with_memory_limit(input, Password::empty(), kb) {
        Ok(r) => r,
        Err(e) if e.to_string().contains("AES") => {
            // Encrypted headers: not even the names can be read.
            return Ok(Opened::Partly(
                Vec::new(),
                vec!["(encrypted 7z headers)".into()],
            ));
        }
        Err(e) => return Err(bad("7z", e)),
    };
    r.set_thread_count(1);
    too_many(w, r.archive().files.len())?;
    let mut encrypted = Vec::new();
    let mut skip = vec![false; r.archive().files.len()];
    for (i, f) in r.archive().files.iter().enumerate() {
        if r.archive().is_file_encrypted(i) {
            encrypted.push(f.name.clone());
            skip[i] = true;
        }
    }
    if encrypted.len() == skip.len() {
        return done(Vec::new(), encrypted);
    }
    let mut members = Vec::new();
    let mut left = w.cap(data.len() as u64);
    seen.set(0); // the headers were read; member data counts from here
    let ratio = Ratio::new(w, seen);
    let (deadline, file_cap) = (w.deadline(), w.limits.file);
    let mut failure = None;
    let mut index = 0;
    let res = r.for_each_entries(|entry, reader| {
        let i = index;
        index += 1;
        if entry.is_directory || !entry.has_stream || skip.get(i).copied().unwrap_or(true) {
            return Ok(true);
        }
        match read_capped(
            reader,
            file_cap.min(left),
            deadline,
            "a 7z member",
            Some(&ratio),
        ) {
            Ok(out) => {
                left -= out.len() as u64;
                members.push(Member {
                    name: entry.name.clone(),
                    data: out,
                });
                Ok(true)
            }
            Err(f) => {
                failure = Some(f);
                Ok(false)
            }
        }
    });
    if let Some(f) = failure {
        return Err(f);
    }
    res.map_err(|e| bad("7z", e))?;
    done(members, encrypted)
}

/// A writer the RAR reader fills, read back once it returns.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn rar(w: &mut Walker, data: &[u8]) -> Read2 {
    use rars::{ArchiveReadOptions, ArchiveReader, ExtractionDecision};
    let total = w.cap(data.len() as u64);
    let opts = ArchiveReadOptions::new()
        .with_max_header_count(u64::from(w.limits.files) + 16)
        .with_max_header_bytes(16 << 20)
        .with_max_member_output_bytes(w.limits.file.min(total))
        .with_max_total_output_bytes(total)
        .with_max_reader_workspace_bytes(w.limits.decoder_memory)
        .with_rar50_dictionary_size_limit(w.limits.decoder_memory)
        .with_rar50_buffered_decode_limit(w.limits.decoder_memory);
    let a = match ArchiveReader::read_with_options(data, opts) {
        Ok(a) => a,
        Err(rars::Error::NeedPassword) => {
            return Ok(Opened::Partly(
                Vec::new(),
                vec!["(encrypted RAR headers)".into()],
            ));
        }
        Err(e) => return Err(bad("RAR", e)),
    };
    let mut outs: Vec<(String, Shared)> = Vec::new();
    let mut encrypted = Vec::new();
    let files = w.limits.files as usize;
    let res = a.extract_with_control(opts, |m| {
        if m.meta.is_directory || m.meta.is_redirection {
            return Ok(ExtractionDecision::Skip);
        }
        let name = String::from_utf8_lossy(&m.meta.name).into_owned();
        if m.meta.is_encrypted {
            encrypted.push(name);
            // A solid archive cannot skip; an encrypted one stops here.
            return Ok(if m.is_solid() {
                ExtractionDecision::Stop
            } else {
                ExtractionDecision::Skip
            });
        }
        if outs.len() >= files {
            return Ok(ExtractionDecision::Stop);
        }
        let s = Shared::default();
        outs.push((name, s.clone()));
        Ok(ExtractionDecision::Extract(Box::new(s)))
    });
    too_many(w, outs.len() + encrypted.len())?;
    match res {
        Ok(_) => {}
        Err(rars::Error::NeedPassword) => {}
        Err(e) => {
            let text = e.to_string();
            return Err(if text.contains("limit") || text.contains("exceed") {
                Fail::Limit(format!("RAR: {text}"))
            } else {
                bad("RAR", text)
            });
        }
    }
    let members = outs
        .into_iter()
        .map(|(name, s)| Member {
            name,
            data: std::mem::take(&mut *s.0.borrow_mut()),
        })
        .collect();
    done(members, encrypted)
}

pub(crate) fn lha(w: &mut Walker, data: &[u8]) -> Read2 {
    let (input, seen) = Counted::new(data);
    let ratio = Ratio::new(w, seen);
    let mut r = delharc::LhaDecodeReader::new(input).map_err(|e| bad("LHA", e))?;
    let mut members = Vec::new();
    let mut left = w.cap(data.len() as u64);
    loop {
        let h = r.header();
        if !h.is_directory() {
            too_many(w, members.len() + 1)?;
            let name = String::from_utf8_lossy(&h.filename).into_owned();
            if !r.is_decoder_supported() {
                return Err(Fail::Bad(format!(
                    "LHA member {name:?} uses an unknown method"
                )));
            }
            let packed = h.compressed_size;
            let cap = w.cap(packed).min(left);
            let out = read_capped(&mut r, cap, w.deadline(), "an LHA member", Some(&ratio))?;
            r.crc_check().map_err(|e| bad("LHA", e))?;
            left -= out.len() as u64;
            members.push(Member { name, data: out });
        }
        match r.next_file() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(bad("LHA", e)),
        }
    }
    done(members, Vec::new())
}

pub(crate) fn cfb(w: &mut Walker, data: &[u8]) -> Read2 {
    let mut c = cfb::CompoundFile::open(Cursor::new(data)).map_err(|e| bad("OLE", e))?;
    let paths: Vec<_> = c
        .walk()
        .filter(|e| e.is_stream())
        .map(|e| e.path().to_path_buf())
        .collect();
    too_many(w, paths.len())?;
    let mut members = Vec::new();
    // Streams are stored, not packed: the file's own size bounds them.
    let mut left = w.limits.file.min(data.len() as u64);
    for p in paths {
        let mut s = c.open_stream(&p).map_err(|e| bad("OLE", e))?;
        let out = read_capped(
            &mut s as &mut dyn Read,
            left,
            w.deadline(),
            "an OLE stream",
            None,
        )?;
        left -= out.len() as u64;
        members.push(Member {
            name: p.to_string_lossy().trim_start_matches('/').to_string(),
            data: out,
        });
    }
    done(members, Vec::new())
}
