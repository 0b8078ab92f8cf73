//! A buffered client connection, plain or TLS.

use bytes::BufMut;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only during the STARTTLS handshake.
    Upgrading,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("timed out")]
    Timeout,
    #[error("connection closed")]
    Eof,
    #[error("server shutting down")]
    Shutdown,
    #[error("buffer limit reached")]
    Full,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Read granularity: small while a client is idle between commands (idle
/// connections must stay cheap), larger once data is streaming in.
const IDLE_CHUNK: usize = 2 * 1024;
const READ_CHUNK: usize = 32 * 1024;

pub struct Conn {
    stream: Stream,
    /// COMPRESS=DEFLATE (RFC 4978), once started.
    z: Option<Box<crate::deflate::Deflate>>,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

impl Conn {
    pub fn new(stream: Stream, peer: SocketAddr, local: SocketAddr) -> Self {
        Conn {
            stream,
            z: None,
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::with_capacity(512),
            peer,
            local,
        }
    }

    /// The stream itself, for a protocol library that does its own
    /// buffering (HTTP); nothing may have been read yet.
    pub fn into_stream(self) -> Stream {
        debug_assert!(self.rbuf.len() == self.rpos && self.wbuf.is_empty());
        self.stream
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.rpos = (self.rpos + n).min(self.rbuf.len());
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
            if self.rbuf.capacity() > 4 * READ_CHUNK {
                self.rbuf.shrink_to(IDLE_CHUNK);
            }
        }
    }

    /// Gives back buffer memory while the connection waits a long time
    /// with nothing pending (an IMAP IDLE): thousands of such connections
    /// should cost little each.
    pub fn shrink(&mut self) {
        if self.rpos == self.rbuf.len() {
            self.rbuf = Vec::new();
            self.rpos = 0;
        }
        if self.wbuf.is_empty() && self.wbuf.capacity() > 512 {
            self.wbuf = Vec::with_capacity(512);
        }
    }

    /// Drops everything buffered; returns how much was dropped.
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.rbuf.len() - self.rpos;
        self.rbuf.clear();
        self.rpos = 0;
        n
    }

    /// Queues a reply; it is sent at the next [`Conn::flush`] or before the
    /// next read that has to wait for the client.
    pub fn write(&mut self, data: &[u8]) {
        self.wbuf.extend_from_slice(data);
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            if let Some(z) = &mut self.z {
                let mut out = Vec::with_capacity(self.wbuf.len() / 2 + 64);
                z.deflate_into(&self.wbuf, &mut out)?;
                self.stream.write_all(&out).await?;
            } else {
                self.stream.write_all(&self.wbuf).await?;
            }
            self.wbuf.clear();
            if self.wbuf.capacity() > 4 * READ_CHUNK {
                self.wbuf.shrink_to(512);
            }
        }
        self.stream.flush().await
    }

    /// Starts COMPRESS=DEFLATE (RFC 4978) in both directions: call it
    /// right after the OK that accepts it has been flushed.
    pub fn start_deflate(&mut self) {
        self.discard_buffered();
        self.z = Some(Box::new(crate::deflate::Deflate::new()));
    }

    pub fn is_compressed(&self) -> bool {
        self.z.is_some()
    }

    /// Sends queued replies directly when they grow large (a RETR of a big
    /// message), so the write buffer stays bounded.
    pub async fn write_big(&mut self, data: &[u8]) -> io::Result<()> {
        if self.z.is_some() {
            self.write(data);
            if self.wbuf.len() > 64 * 1024 {
                self.flush().await?;
            }
            return Ok(());
        }
        if self.wbuf.len() + data.len() > 64 * 1024 {
            self.flush().await?;
            self.stream.write_all(data).await
        } else {
            self.write(data);
            Ok(())
        }
    }

    /// Reads more input into the buffer: flushes queued replies first, waits
    /// at most `timeout`, and — when `cancel` is given — gives up when the
    /// server shuts down. `max_buffered` bounds the memory one client can
    /// make us hold.
    pub async fn read_more(
        &mut self,
        timeout: Duration,
        cancel: Option<&CancellationToken>,
        max_buffered: usize,
    ) -> Result<usize, ReadError> {
        self.flush().await?;
        if self.rpos > 0 && self.rpos * 2 >= self.rbuf.len() {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        let have = self.rbuf.len() - self.rpos;
        if have >= max_buffered {
            return Err(ReadError::Full);
        }
        let chunk = if have == 0 { IDLE_CHUNK } else { READ_CHUNK };
        let want = chunk.min(max_buffered - have);
        if self.z.is_some() {
            return self.read_inflated(timeout, cancel, want).await;
        }
        self.rbuf.reserve(want);
        // Reading into the spare capacity, which only grows the buffer by
        // what arrived, makes this cancel-safe: a caller may drop it (an
        // IMAP IDLE woken by new mail) without leaving garbage behind.
        let read = async {
            let mut buf = (&mut self.rbuf).limit(want);
            match cancel {
                Some(c) => tokio::select! {
                    r = self.stream.read_buf(&mut buf) => Some(r),
                    _ = c.cancelled() => None,
                },
                None => Some(self.stream.read_buf(&mut buf).await),
            }
        };
        match tokio::time::timeout(timeout, read).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(None) => Err(ReadError::Shutdown),
            Ok(Some(Ok(0))) => Err(ReadError::Eof),
            Ok(Some(Ok(n))) => Ok(n),
            Ok(Some(Err(e))) => Err(ReadError::Io(e)),
        }
    }

    /// `read_more` under COMPRESS=DEFLATE: compressed bytes are read
    /// (cancel-safe, as above) until some text comes out of them.
    async fn read_inflated(
        &mut self,
        timeout: Duration,
        cancel: Option<&CancellationToken>,
        want: usize,
    ) -> Result<usize, ReadError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let z = self.z.as_mut().expect("compressed");
            let n = z.inflate_into(&mut self.rbuf, want)?;
            if n > 0 {
                return Ok(n);
            }
            if z.raw.len() > 4 * READ_CHUNK {
                return Err(ReadError::Full);
            }
            let read = async {
                let mut buf = (&mut z.raw).limit(READ_CHUNK);
                match cancel {
                    Some(c) => tokio::select! {
                        r = self.stream.read_buf(&mut buf) => Some(r),
                        _ = c.cancelled() => None,
                    },
                    None => Some(self.stream.read_buf(&mut buf).await),
                }
            };
            match tokio::time::timeout_at(deadline, read).await {
                Err(_) => return Err(ReadError::Timeout),
                Ok(None) => return Err(ReadError::Shutdown),
                Ok(Some(Ok(0))) => return Err(ReadError::Eof),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Upgrades to TLS. Anything the client sent after the command that
    /// asked for TLS is discarded first: it arrived in clear text and must
    /// not be executed inside the TLS session (RFC 3207 §4.2, the STARTTLS
    /// command-injection flaw, CVE-2011-0411).
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor, timeout: Duration) -> io::Result<()> {
        self.flush().await?;
        self.discard_buffered();
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }

    pub async fn close(mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}
