//! Single-stream compressors: GZIP (RFC 1952, `flate2`), BZIP2 (`bzip2`),
//! XZ (`lzma-rust2`, with a dictionary memory limit). Each yields one
//! member, read within the size and expansion-ratio caps.

use super::{read_capped, Counted, Member, Opened, Ratio, Read2, Walker};

pub(crate) fn gzip(w: &mut Walker, data: &[u8]) -> Read2 {
    let (input, seen) = Counted::new(data);
    let ratio = Ratio::new(w, seen);
    let mut d = flate2::read::MultiGzDecoder::new(input);
    let cap = w.cap(data.len() as u64);
    let out = read_capped(&mut d, cap, w.deadline(), "gzip", Some(&ratio))?;
    let name = d
        .header()
        .and_then(|h| h.filename())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_else(|| "gzip data".into());
    Ok(Opened::Members(vec![Member { name, data: out }]))
}

pub(crate) fn bzip2(w: &mut Walker, data: &[u8]) -> Read2 {
    let (input, seen) = Counted::new(data);
    let ratio = Ratio::new(w, seen);
    let mut d = bzip2::read::MultiBzDecoder::new(input);
    let cap = w.cap(data.len() as u64);
    let out = read_capped(&mut d, cap, w.deadline(), "bzip2", Some(&ratio))?;
    Ok(Opened::Members(vec![Member {
        name: "bzip2 data".into(),
        data: out,
    }]))
}

pub(crate) fn xz(w: &mut Walker, data: &[u8]) -> Read2 {
    let kb = u32::try_from(w.limits.decoder_memory >> 10).unwrap_or(u32::MAX);
    let (input, seen) = Counted::new(data);
    let ratio = Ratio::new(w, seen);
    let mut d = lzma_rust2::XzReader::new_mem_limit(input, true, kb);
    let cap = w.cap(data.len() as u64);
    let out = read_capped(&mut d, cap, w.deadline(), "xz", Some(&ratio))?;
    Ok(Opened::Members(vec![Member {
        name: "xz data".into(),
        data: out,
    }]))
}
