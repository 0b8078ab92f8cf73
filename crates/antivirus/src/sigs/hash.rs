//! `.hdb` / `.hsb` hash signatures: `Hash:FileSize:Name[:MinFL]`, MD5 in
//! `.hdb`, MD5, SHA-1 or SHA-256 (told apart by length) in `.hsb`. A file is
//! hashed only when some signature has its size (or `*`), and only with the
//! algorithms those signatures use.

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;
use std::collections::HashMap;

use super::pattern::Unsupported;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Algo {
    Md5,
    Sha1,
    Sha256,
}

#[derive(Default, Debug, Clone, Copy)]
struct Needs {
    md5: bool,
    sha1: bool,
    sha256: bool,
}

impl Needs {
    fn add(&mut self, a: Algo) {
        match a {
            Algo::Md5 => self.md5 = true,
            Algo::Sha1 => self.sha1 = true,
            Algo::Sha256 => self.sha256 = true,
        }
    }
    fn or(self, o: Needs) -> Needs {
        Needs {
            md5: self.md5 || o.md5,
            sha1: self.sha1 || o.sha1,
            sha256: self.sha256 || o.sha256,
        }
    }
}

/// Every hash signature, looked up by size first.
#[derive(Default)]
pub struct Hashes {
    by_size: HashMap<u64, Needs>,
    any_size: Needs,
    /// (digest, size or None for `*`) → name.
    names: HashMap<(Vec<u8>, Option<u64>), String>,
    pub count: usize,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Hashes {
    /// Adds one line; `md5_only` for `.hdb`.
    pub fn add(&mut self, line: &str, md5_only: bool) -> Result<(), Unsupported> {
        let mut f = line.split(':');
        let (Some(h), Some(size), Some(name)) = (f.next(), f.next(), f.next()) else {
            return Err("malformed line");
        };
        let digest = unhex(h.trim()).ok_or("malformed hash")?;
        let algo = match digest.len() {
            16 => Algo::Md5,
            20 if !md5_only => Algo::Sha1,
            32 if !md5_only => Algo::Sha256,
            _ => return Err("malformed hash"),
        };
        if name.is_empty() {
            return Err("malformed line");
        }
        let size = match size {
            "*" => None,
            s => Some(s.parse::<u64>().map_err(|_| "malformed size")?),
        };
        match size {
            Some(s) => self.by_size.entry(s).or_default().add(algo),
            None => self.any_size.add(algo),
        }
        self.names.insert((digest, size), name.to_string());
        self.count += 1;
        Ok(())
    }

    /// The name of the signature `data` matches, if any.
    pub fn check(&self, data: &[u8]) -> Option<&str> {
        let size = data.len() as u64;
        let needs = self
            .by_size
            .get(&size)
            .copied()
            .unwrap_or_default()
            .or(self.any_size);
        let look = |d: Vec<u8>| {
            self.names
                .get(&(d.clone(), Some(size)))
                .or_else(|| self.names.get(&(d, None)))
                .map(String::as_str)
        };
        if needs.md5 {
            if let Some(n) = look(Md5::digest(data).to_vec()) {
                return Some(n);
            }
        }
        if needs.sha1 {
            if let Some(n) = look(Sha1::digest(data).to_vec()) {
                return Some(n);
            }
        }
        if needs.sha256 {
            if let Some(n) = look(Sha256::digest(data).to_vec()) {
                return Some(n);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_size_and_algorithm() {
        let mut h = Hashes::default();
        let hexs = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let md5 = hexs(&Md5::digest(b"hello"));
        let sha = hexs(&Sha256::digest(b"world!"));
        h.add(&format!("{md5}:5:Test.Md5"), true).unwrap();
        h.add(&format!("{sha}:*:Test.Sha256"), false).unwrap();
        assert_eq!(h.check(b"hello"), Some("Test.Md5"));
        assert_eq!(h.check(b"world!"), Some("Test.Sha256"));
        assert_eq!(h.check(b"hellO"), None);
        assert!(
            h.add(&format!("{sha}:6:X"), true).is_err(),
            ".hdb is MD5 only"
        );
        assert!(h.add("zz:1:X", false).is_err());
        assert!(h
            .add("00112233445566778899aabbccddeeff:x:X", false)
            .is_err());
    }
}
