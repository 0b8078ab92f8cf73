//! Raw DEFLATE on a connection (IMAP COMPRESS=DEFLATE, RFC 4978): input
//! is inflated as it arrives, output deflated and flushed with a sync
//! flush at every send, so the client can read each response as soon as
//! it is sent (RFC 4978 §4).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;

pub(crate) struct Deflate {
    inflate: Decompress,
    deflate: Compress,
    /// Compressed bytes received and not yet inflated.
    pub raw: Vec<u8>,
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("DEFLATE: {e}"))
}

impl Deflate {
    pub fn new() -> Self {
        Deflate {
            // RFC 4978 §4: raw DEFLATE (RFC 1951), no zlib header.
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::fast(), false),
            raw: Vec::new(),
        }
    }

    /// Inflates what `raw` holds, at most `room` bytes, onto `out`;
    /// returns how many. 0 with `raw` not empty: more input is needed.
    pub fn inflate_into(&mut self, out: &mut Vec<u8>, room: usize) -> io::Result<usize> {
        if self.raw.is_empty() || room == 0 {
            return Ok(0);
        }
        let mut tmp = Vec::with_capacity(room);
        let before = self.inflate.total_in();
        let status = self
            .inflate
            .decompress_vec(&self.raw, &mut tmp, FlushDecompress::None)
            .map_err(bad)?;
        let used = (self.inflate.total_in() - before) as usize;
        self.raw.drain(..used);
        if status == Status::StreamEnd && !self.raw.is_empty() {
            return Err(bad("data after the end of the stream"));
        }
        out.extend_from_slice(&tmp);
        Ok(tmp.len())
    }

    /// Deflates `data` onto `out`, ending with a sync flush.
    pub fn deflate_into(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut done = 0;
        loop {
            out.reserve(data.len() - done + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&data[done..], out, FlushCompress::Sync)
                .map_err(bad)?;
            done += (self.deflate.total_in() - before) as usize;
            // The flush is complete when it left room in the output.
            if done == data.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut a = Deflate::new();
        let mut b = Deflate::new();
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut wire = Vec::new();
        for part in text.chunks(7000) {
            a.deflate_into(part, &mut wire).unwrap();
        }
        let mut got = Vec::new();
        for piece in wire.chunks(333) {
            b.raw.extend_from_slice(piece);
            while b.inflate_into(&mut got, 4096).unwrap() > 0 {}
        }
        assert_eq!(got, text);
        // Garbage is an error, not a panic.
        let mut c = Deflate::new();
        c.raw.extend_from_slice(&[0xff; 64]);
        assert!(c.inflate_into(&mut Vec::new(), 100).is_err());
    }
}
