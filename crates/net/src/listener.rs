//! Accept loops: connection caps (global and per client IP), implicit TLS,
//! and graceful shutdown.

use crate::conn::{Conn, Stream};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Stops listeners and tells sessions to finish; the tracker waits for them.
#[derive(Clone, Default)]
pub struct Shutdown {
    pub token: CancellationToken,
    pub tracker: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Signals every listener and session, then waits at most `grace` for
    /// sessions to end. Returns false if some were still running.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// Open connections, counted over every listener of the process.
pub struct ConnLimits {
    per_ip: u32,
    max: u32,
    open: Mutex<(u32, HashMap<IpAddr, u32>)>,
}

/// Releases its connection slot when dropped.
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut g = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.ip);
            }
        }
    }
}

impl ConnLimits {
    pub fn new(per_ip: u32, max: u32) -> Arc<Self> {
        Arc::new(ConnLimits {
            per_ip,
            max,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.1.get(&ip).copied().unwrap_or(0);
        if n >= self.per_ip || g.0 >= self.max {
            return None;
        }
        g.0 += 1;
        g.1.insert(ip, n + 1);
        Some(ConnSlot {
            limits: self.clone(),
            ip,
        })
    }

    pub fn open(&self) -> u32 {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

/// One listening socket and how to treat its connections.
pub struct Listener {
    /// Service name for logs ("smtp", "pop3s", …).
    pub name: &'static str,
    pub socket: TcpListener,
    /// Implicit TLS (ports 465, 995): the handshake runs before the session.
    pub implicit_tls: Option<TlsAcceptor>,
    /// Sent, then the connection closed, when a cap is reached.
    pub busy_reply: &'static [u8],
    pub limits: Arc<ConnLimits>,
    pub handshake_timeout: Duration,
}

impl Listener {
    /// Accepts until shutdown; each session runs `handler` as a tracked task.
    pub async fn run<F, Fut>(self, shutdown: Shutdown, handler: F)
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        loop {
            let accepted = tokio::select! {
                r = self.socket.accept() => r,
                _ = shutdown.token.cancelled() => break,
            };
            let (mut tcp, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(service = self.name, "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            // TCP keepalive: a peer that vanished (a laptop closed during
            // IMAP IDLE) is found and its session and lease freed.
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(120))
                .with_interval(Duration::from_secs(30));
            let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&ka);
            let local = tcp.local_addr().unwrap_or(peer);
            let Some(slot) = self.limits.acquire(peer.ip()) else {
                tracing::info!(service = self.name, %peer, "connection refused: connection limit");
                let reply = self.busy_reply;
                shutdown.tracker.spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), tcp.write_all(reply)).await;
                });
                continue;
            };
            let handler = handler.clone();
            let tls = self.implicit_tls.clone();
            let hs_timeout = self.handshake_timeout;
            let name = self.name;
            shutdown.tracker.spawn(async move {
                let _slot = slot;
                let stream = match tls {
                    None => Stream::Plain(tcp),
                    Some(acc) => match tokio::time::timeout(hs_timeout, acc.accept(tcp)).await {
                        Ok(Ok(s)) => Stream::Tls(Box::new(s)),
                        Ok(Err(e)) => {
                            tracing::debug!(service = name, %peer, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => return,
                    },
                };
                handler(Conn::new(stream, peer, local)).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_global_caps() {
        let l = ConnLimits::new(2, 3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = l.acquire(a).unwrap();
        let _s2 = l.acquire(a).unwrap();
        assert!(l.acquire(a).is_none());
        let _s3 = l.acquire(b).unwrap();
        assert!(l.acquire(b).is_none(), "global cap");
        drop(s1);
        assert!(l.acquire(a).is_some());
    }
}
