//! The test harness: a store in a temporary directory, a configuration
//! with short durations, and the delivery worker running on them.

#![allow(dead_code)]

pub mod sink;

use mailhost_config::Config;
use mailhost_delivery::{run, DeliveryCtx};
use mailhost_store::{NewMessage, Outbound, QueueItem, Resolved, Store};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const HOSTNAME: &str = "mail.local.test";

pub struct Harness {
    _dir: tempfile::TempDir,
    pub store: Store,
    pub config: Arc<Config>,
    pub wake: Arc<Notify>,
    token: CancellationToken,
    worker: Option<JoinHandle<()>>,
}

/// `[delivery]` settings: short durations, the given routes, and the
/// overrides (key, TOML value).
pub fn config(routes: &[(&str, SocketAddr)], overrides: &[(&str, &str)]) -> Arc<Config> {
    let mut keys: Vec<(String, String)> = [
        ("retry_base", "\"100ms\""),
        ("retry_max", "\"200ms\""),
        ("max_queue_time", "\"1h\""),
        ("delay_warning", "\"1h\""),
        ("connect_timeout", "\"2s\""),
        ("command_timeout", "\"2s\""),
        ("poll", "\"50ms\""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        keys.retain(|(x, _)| x != k);
        keys.push((k.to_string(), v.to_string()));
    }
    let routes: Vec<String> = routes
        .iter()
        .map(|(d, a)| format!("\"{d}\" = \"{a}\""))
        .collect();
    let mut text = format!(
        "[server]\nhostname = \"{HOSTNAME}\"\n\n[delivery]\nroutes = {{ {} }}\n",
        routes.join(", ")
    );
    for (k, v) in keys {
        text.push_str(&format!("{k} = {v}\n"));
    }
    Arc::new(Config::from_toml_with_env(&text, std::iter::empty()).unwrap())
}

impl Harness {
    pub async fn new(config: Arc<Config>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("mail.db").display()
        ))
        .await
        .unwrap();
        Harness {
            _dir: dir,
            store,
            config,
            wake: Arc::new(Notify::new()),
            token: CancellationToken::new(),
            worker: None,
        }
    }

    /// Starts the worker as node "n1".
    pub fn start(&mut self) {
        self.token = CancellationToken::new();
        let ctx = Arc::new(DeliveryCtx {
            policy: None,
            store: self.store.clone(),
            config: self.config.clone(),
            node: "n1".into(),
            shutdown: self.token.clone(),
            srs: None,
        });
        self.worker = Some(tokio::spawn(run(ctx, self.wake.clone())));
    }

    /// Cancels the worker and waits for it to return.
    pub async fn stop(&mut self) {
        self.token.cancel();
        if let Some(h) = self.worker.take() {
            tokio::time::timeout(Duration::from_secs(9), h)
                .await
                .expect("the worker stops after shutdown")
                .unwrap();
        }
    }

    /// Queues a message for remote recipients, as the SMTP server does.
    pub async fn queue(&self, sender: &str, rcpts: &[&str], body: &[u8]) {
        let outbound = rcpts
            .iter()
            .map(|r| Outbound {
                sender: sender.into(),
                rcpt: r.to_string(),
                account: None,
            })
            .collect();
        self.store
            .deliver(NewMessage {
                body: body.to_vec(),
                outbound,
                ..Default::default()
            })
            .await
            .unwrap();
        self.wake.notify_one();
    }

    /// Creates a local mailbox; returns its id.
    pub async fn mailbox(&self, addr: &str) -> i64 {
        let domain = addr.split_once('@').unwrap().1;
        if !self.store.is_hosted(domain).await.unwrap() {
            self.store
                .domain_add(domain, &format!("admin@{domain}"), None)
                .await
                .unwrap();
        }
        self.store
            .user_add(addr, "secret", None, None)
            .await
            .unwrap();
        match self.store.resolve(addr).await.unwrap() {
            Resolved::Deliver(a) => a[0].id,
            other => panic!("{other:?}"),
        }
    }

    /// Every message in a mailbox, with its prefix.
    pub async fn read_mailbox(&self, id: i64) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.store.list_messages(id).await.unwrap() {
            out.push(
                String::from_utf8_lossy(&self.store.read_message(id, m.id).await.unwrap())
                    .into_owned(),
            );
        }
        out
    }

    pub async fn queue_rows(&self) -> Vec<QueueItem> {
        self.store.queue_list().await.unwrap()
    }
}

/// Waits until `f` holds, polling; panics after a generous deadline (a
/// liveness bound, not a timing assertion).
pub async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if f().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A message with CRLF line ends.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!("From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@local.test>\r\n\r\n{body}")
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}
