//! The ClamAV daemon as an engine (R-AV-6), over TCP or a unix socket
//! (clamd(8), "COMMANDS"): each part goes as `zINSTREAM` in 64 KiB chunks
//! (4-byte big-endian length, then the bytes; a zero length ends it) on a
//! pooled `zIDSESSION` connection, and the reply is parsed exactly:
//! `stream: OK`, `stream: NAME FOUND`, `INSTREAM size limit exceeded.
//! ERROR`, or another `… ERROR`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One chunk of INSTREAM.
pub const CHUNK: usize = 64 * 1024;
/// Longest reply accepted (a signature name is short).
const MAX_REPLY: usize = 4096;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// clamd's verdict on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Found(String),
    /// The stream passed clamd's StreamMaxLength.
    SizeLimit,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("clamd at {0}: {1}")]
    Io(String, std::io::Error),
    #[error("clamd at {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("clamd: {0}")]
    Refused(String),
}

/// Parses one reply, without the session id prefix (`N: `) and the
/// terminating NUL.
pub fn parse_reply(text: &str) -> Result<Reply, String> {
    let t = text.trim_end_matches(['\0', '\n']);
    let t = match t.split_once(": ") {
        Some((id, rest)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => t,
    };
    if t == "INSTREAM size limit exceeded. ERROR" {
        return Ok(Reply::SizeLimit);
    }
    if let Some(rest) = t.strip_prefix("stream: ") {
        if rest == "OK" {
            return Ok(Reply::Ok);
        }
        if let Some(name) = rest.strip_suffix(" FOUND") {
            if !name.is_empty() {
                return Ok(Reply::Found(name.to_string()));
            }
        }
        if let Some(e) = rest.strip_suffix(" ERROR") {
            return Err(e.to_string());
        }
    }
    if let Some(e) = t.strip_suffix(" ERROR") {
        return Err(e.to_string());
    }
    Err(format!("unexpected reply {t:?}"))
}

/// A pool of clamd sessions.
pub struct Clamd {
    addr: String,
    timeout: Duration,
    size: usize,
    idle: Mutex<Vec<Box<dyn Io>>>,
    version: Mutex<Option<(Instant, String)>>,
}

impl Clamd {
    pub fn new(addr: &str, timeout: Duration, size: usize) -> Clamd {
        Clamd {
            addr: addr.to_string(),
            timeout,
            size: size.max(1),
            idle: Mutex::new(Vec::new()),
            version: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, Error> {
        let io = |e| Error::Io(self.addr.clone(), e);
        let mut s: Box<dyn Io> = if self.addr.contains('/') {
            Box::new(
                tokio::net::UnixStream::connect(&self.addr)
                    .await
                    .map_err(io)?,
            )
        } else {
            let s = tokio::net::TcpStream::connect(&self.addr)
                .await
                .map_err(io)?;
            let _ = s.set_nodelay(true);
            Box::new(s)
        };
        s.write_all(b"zIDSESSION\0").await.map_err(io)?;
        Ok(s)
    }

    fn take(&self) -> Option<Box<dyn Io>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give(&self, s: Box<dyn Io>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.size {
            idle.push(s);
        }
    }

    /// Scans one stream. A pooled session that clamd has closed (its
    /// IdleTimeout) is retried once on a fresh connection.
    pub async fn scan(&self, data: &[u8]) -> Result<Reply, Error> {
        if let Some(s) = self.take() {
            if let Ok((s, r)) = self.instream(s, data).await {
                self.give(s);
                return Ok(r);
            }
        }
        let s = self.connect().await?;
        let (s, r) = self.instream(s, data).await?;
        self.give(s);
        Ok(r)
    }

    async fn instream(
        &self,
        mut s: Box<dyn Io>,
        data: &[u8],
    ) -> Result<(Box<dyn Io>, Reply), Error> {
        let addr = self.addr.clone();
        let work = async {
            s.write_all(b"zINSTREAM\0").await?;
            for c in data.chunks(CHUNK) {
                s.write_all(&(c.len() as u32).to_be_bytes()).await?;
                s.write_all(c).await?;
            }
            s.write_all(&0u32.to_be_bytes()).await?;
            s.flush().await?;
            read_reply(&mut s).await
        };
        let text = match tokio::time::timeout(self.timeout, work).await {
            Err(_) => return Err(Error::Timeout(addr, self.timeout)),
            Ok(Err(e)) => return Err(Error::Io(addr, e)),
            Ok(Ok(t)) => t,
        };
        match parse_reply(&text) {
            Ok(r) => Ok((s, r)),
            Err(e) => Err(Error::Refused(e)),
        }
    }

    /// `ClamAV 1.0.7/27466/Tue Dec  1 08:00:00 2026`, asked at most once a
    /// minute, for `X-Virus-Scanned`.
    pub async fn version(&self) -> Result<String, Error> {
        if let Some((at, v)) = &*self.version.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < Duration::from_secs(60) {
                return Ok(v.clone());
            }
        }
        let addr = self.addr.clone();
        let work = async {
            let mut s: Box<dyn Io> = if addr.contains('/') {
                Box::new(tokio::net::UnixStream::connect(&addr).await?)
            } else {
                Box::new(tokio::net::TcpStream::connect(&addr).await?)
            };
            s.write_all(b"zVERSION\0").await?;
            read_reply(&mut s).await
        };
        let v = match tokio::time::timeout(self.timeout, work).await {
            Err(_) => return Err(Error::Timeout(addr, self.timeout)),
            Ok(Err(e)) => return Err(Error::Io(addr, e)),
            Ok(Ok(t)) => t.trim_end_matches(['\0', '\n']).to_string(),
        };
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), v.clone()));
        Ok(v)
    }
}

/// Reads up to the NUL that ends a `z` reply.
async fn read_reply(s: &mut Box<dyn Io>) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 256];
    loop {
        let n = s.read(&mut b).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(i) = b[..n].iter().position(|&c| c == 0) {
            out.extend_from_slice(&b[..i]);
            break;
        }
        out.extend_from_slice(&b[..n]);
        if out.len() > MAX_REPLY {
            return Err(std::io::Error::other("reply too long"));
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply("stream: OK\0"), Ok(Reply::Ok));
        assert_eq!(parse_reply("1: stream: OK"), Ok(Reply::Ok));
        assert_eq!(
            parse_reply("12: stream: Eicar-Test-Signature FOUND"),
            Ok(Reply::Found("Eicar-Test-Signature".into()))
        );
        assert_eq!(
            parse_reply("3: INSTREAM size limit exceeded. ERROR"),
            Ok(Reply::SizeLimit)
        );
        assert!(parse_reply("stream: Can't allocate memory ERROR").is_err());
        assert!(parse_reply("UNKNOWN COMMAND").is_err());
        assert!(parse_reply("stream:  FOUND").is_err());
        assert!(parse_reply("").is_err());
    }
}
