//! Single-stream compressors: GZIP (RFC 1952, `flate2`), BZIP2 (`bzip2`),
//! XZ (`lzma-rust2`, with a dictionary memory limit). Each yields one
//! member, read within the size and expansion-ratio caps.

use std::io::Read;

use super::{read_capped, Counted, Fail, Member, Opened, Ratio, Read2, Walker};

/// Decodes the one stream `open` makes of the packed bytes; the decoder
/// comes back too, for what it read besides the data (a gzip name).
fn read_one<'a, R: Read>(
    w: &Walker,
    data: &'a [u8],
    what: &str,
    open: impl FnOnce(Counted<&'a [u8]>) -> R,
) -> Result<(R, Vec<u8>), Fail> {
    let (input, seen) = Counted::new(data);
    let ratio = Ratio::new(w, seen);
    let mut d = open(input);
    let cap = w.cap(data.len() as u64);
    let out = read_capped(&mut d, cap, w.deadline(), what, Some(&ratio))?;
    Ok((d, out))
}

fn one(name: &str, data: Vec<u8>) -> Read2 {
    Ok(Opened::Members(vec![Member {
        name: name.into(),
        data,
    }]))
}

pub(crate) fn gzip(w: &mut Walker, data: &[u8]) -> Read2 {
    let (d, out) = read_one(w, data, "gzip", flate2::read::MultiGzDecoder::new)?;
    let name = d
        .header()
        .and_then(|h| h.filename())
        .map(|n| String::from_utf8_lossy(n).into_owned());
    one(name.as_deref().unwrap_or("gzip data"), out)
}

pub(crate) fn bzip2(w: &mut Walker, data: &[u8]) -> Read2 {
    let (_, out) = read_one(w, data, "bzip2", bzip2::read::MultiBzDecoder::new)?;
    one("bzip2 data", out)
}

pub(crate) fn xz(w: &mut Walker, data: &[u8]) -> Read2 {
    let kb = u32::try_from(w.limits.decoder_memory >> 10).unwrap_or(u32::MAX);
    let (_, out) = read_one(w, data, "xz", |input| {
        lzma_rust2::XzReader::new_mem_limit(input, true, kb)
    })?;
    one("xz data", out)
}
