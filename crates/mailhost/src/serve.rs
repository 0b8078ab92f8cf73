//! `mailhost serve`: opens the store, binds the configured listeners and
//! runs until SIGTERM or SIGINT, then stops accepting, lets sessions end
//! within `server.shutdown_grace`, and exits 0.

use mailhost_config::{Config, LogFormat};
use mailhost_net::{ConnLimits, Listener, Shutdown};
use mailhost_policy::{Engine, Service};
use mailhost_store::Store;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub fn run(config: Config) -> ExitCode {
    // RUST_LOG is one level (error, warn, info, debug, trace): per-module
    // filters would pull a regex engine into the build for little use.
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let log = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    match config.server.log_format {
        // One JSON object per event and line, fields flattened beside the
        // message, for log collectors.
        LogFormat::Json => log.json().flatten_event(true).with_ansi(false).init(),
        // Colour codes only for a person at a terminal: in a file or
        // journald they are noise (NO_COLOR, https://no-color.org, too).
        LogFormat::Text => log
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailhost: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailhost: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bind(name: &str, addr: &str) -> Result<Option<TcpListener>, String> {
    if addr.is_empty() {
        return Ok(None);
    }
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("listen.{name} = {addr:?}: {e}"))?;
    // Tests and scripts read this line to find ephemeral ports.
    println!(
        "mailhost: {name} listening on {}",
        l.local_addr().map_err(|e| e.to_string())?
    );
    Ok(Some(l))
}

async fn serve(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.server.data_dir)
        .map_err(|e| format!("server.data_dir {}: {e}", config.server.data_dir.display()))?;
    let store = Store::open(&config.store_url())
        .await
        .map_err(|e| e.to_string())?;
    let node = if config.server.node.is_empty() {
        config.server.hostname.clone()
    } else {
        config.server.node.clone()
    };
    let released = store
        .release_node_locks(&node)
        .await
        .map_err(|e| e.to_string())?;
    if released > 0 {
        tracing::info!(node, released, "released locks held before restart");
    }
    let tls_cfg = mailhost_net::tls::server_config(
        &config.tls,
        &config.server.data_dir,
        &config.server.hostname,
    )?;
    let tls = TlsAcceptor::from(tls_cfg);
    store.set_default_quota(config.policy.quota.0);
    // R-IN-4: one SRS key for every node on the store.
    let srs = Arc::new(mailhost_mailbox::Srs::new(
        &store
            .secret("srs")
            .await
            .map_err(|e| format!("the SRS key: {e}"))?,
        config.delivery.srs_max_age.std(),
    ));
    let policy = Arc::new(Engine::new(config.clone(), store.clone()));
    // R-WEB-5: an empty store gets its first operator login, whose
    // one-time password is shown here once.
    let admin =
        mailhost_admin::Admin::new(store.clone(), config.clone()).with_guard(policy.auth.clone());
    if let Some(first) = admin
        .first_operator()
        .await
        .map_err(|e| format!("making the first operator login: {e}"))?
    {
        println!(
            "mailhost: first operator login {:?}, one-time password {:?} (change it at first sign-in)",
            first.login, first.password
        );
        tracing::warn!(
            login = first.login,
            "made the first operator login; its one-time password is on stdout"
        );
    }
    // R-OUT-8: the bulk window is in memory before the first session
    // (with the acceptable-use rules off, nothing reads it).
    let track_bulk = config.policy.enforce;
    if track_bulk {
        let t0 = std::time::Instant::now();
        policy
            .bulk
            .load(&store, mailhost_store::now_ms())
            .await
            .map_err(|e| format!("loading the bulk window: {e}"))?;
        let (clusters, rcpts) = policy.bulk.size();
        tracing::info!(
            clusters,
            rcpts,
            ms = t0.elapsed().as_millis() as u64,
            "bulk window loaded"
        );
    } else {
        tracing::info!("policy.enforce = false: the bulk window is not kept in memory");
    }
    let shutdown = Shutdown::new();
    let limits = ConnLimits::new(
        config.limits.connections_per_ip,
        config.limits.max_connections,
    );
    let hs = Duration::from_secs(30);

    let mk = |name, socket, implicit_tls: Option<TlsAcceptor>, busy: &'static [u8]| Listener {
        name,
        socket,
        implicit_tls,
        busy_reply: busy,
        limits: limits.clone(),
        handshake_timeout: hs,
    };
    const SMTP_BUSY: &[u8] =
        b"421 4.7.0 too many connections from your address; try again later\r\n";
    const POP_BUSY: &[u8] =
        b"-ERR [SYS/TEMP] too many connections from your address; try again later\r\n";

    let wake = Arc::new(tokio::sync::Notify::new());
    let signer = Arc::new(mailhost_mailauth::Signer::new(store.clone()));
    let verifier = Arc::new(
        mailhost_mailauth::Verifier::new(
            &config.delivery.dns_server,
            config.delivery.dns_timeout.std(),
            config.delivery.verify_timeout.std(),
        )
        .map_err(|e| format!("delivery.dns_server: {e}"))?,
    );
    let min_free = config.clone();
    let space = Arc::new(mailhost_store::DiskSpace::new(
        store.clone(),
        vec![config.server.data_dir.clone()],
        Box::new(move |fs_size| min_free.min_free_space(fs_size)),
    ));
    // R-AV-6: one scanner for every listener; the built-in engine's
    // signature files are reloaded when they change.
    let scanner =
        mailhost_antivirus::Scanner::from_config(&config.antivirus, &config.server.hostname)
            .map_err(|e| format!("antivirus.signatures: {e}"))?;
    {
        let (s, every, token) = (
            scanner.clone(),
            config.antivirus.reload_interval.std(),
            shutdown.token.clone(),
        );
        tokio::spawn(async move { s.watch(every, token).await });
    }
    // R-LIST-1..6: the list engine (token key, time zone, windows).
    let mut lists = mailhost_lists::Lists::new(store.clone(), config.clone())
        .await?
        .with_wake(Arc::new(tokio::sync::Notify::new()), wake.clone())
        .with_dmarc(verifier.clone());
    if config.dkim.sign {
        lists = lists.with_signer(signer.clone());
    }
    {
        // Held posts, the throttle's slots and expansion (R-LIST-4, R-LIST-6).
        let (l, token) = (lists.clone(), shutdown.token.clone());
        tokio::spawn(async move { l.run(token).await });
    }
    let mut running = 0;
    // Port 25 (MX), 587 (submission, STARTTLS) and 465 (submissions,
    // implicit TLS, RFC 8314) run the same SMTP server in two roles.
    for (name, addr, service, implicit) in [
        ("smtp", &config.listen.smtp, Service::Mx, false),
        (
            "submission",
            &config.listen.submission,
            Service::Submission,
            false,
        ),
        (
            "submissions",
            &config.listen.submissions,
            Service::Submission,
            true,
        ),
    ] {
        if let Some(sock) = bind(name, addr).await? {
            let ctx = Arc::new(mailhost_smtp::SmtpCtx {
                store: store.clone(),
                policy: policy.clone(),
                config: config.clone(),
                tls: (!implicit).then(|| tls.clone()),
                hostname: config.server.hostname.clone(),
                service,
                shutdown: shutdown.token.clone(),
                wake: Some(wake.clone()),
                // Submitted mail and autoreplies are signed (R-OUT-9).
                signer: config.dkim.sign.then(|| signer.clone()),
                verifier: (service == Service::Mx).then(|| verifier.clone()),
                space: Some(space.clone()),
                srs: Some(srs.clone()),
                scanner: Some(scanner.clone()),
                lists: Some(lists.clone()),
            });
            let l = mk(name, sock, implicit.then(|| tls.clone()), SMTP_BUSY);
            tokio::spawn(l.run(shutdown.clone(), move |c| {
                mailhost_smtp::session(c, ctx.clone())
            }));
            running += 1;
        }
    }
    for (name, addr, implicit) in [
        ("pop3", &config.listen.pop3, false),
        ("pop3s", &config.listen.pop3s, true),
    ] {
        if let Some(sock) = bind(name, addr).await? {
            let ctx = Arc::new(mailhost_pop3::Pop3Ctx {
                store: store.clone(),
                tls: (!implicit).then(|| tls.clone()),
                hostname: config.server.hostname.clone(),
                node: node.clone(),
                limits: config.limits.clone(),
                shutdown: shutdown.token.clone(),
                pop_before_smtp: config.policy.pop_before_smtp.std(),
                guard: Some(policy.auth.clone()),
            });
            let l = mk(name, sock, implicit.then(|| tls.clone()), POP_BUSY);
            tokio::spawn(l.run(shutdown.clone(), move |c| {
                mailhost_pop3::session(c, ctx.clone())
            }));
            running += 1;
        }
    }
    // IMAP (R-POP-5): STARTTLS on listen.imap, implicit TLS on listen.imaps.
    let imap_cache: Arc<mailhost_imap::cache::FolderCache> = Default::default();
    const IMAP_BUSY: &[u8] = b"* BYE [UNAVAILABLE] too many connections; try again later\r\n";
    for (name, addr, implicit) in [
        ("imap", &config.listen.imap, false),
        ("imaps", &config.listen.imaps, true),
    ] {
        if let Some(sock) = bind(name, addr).await? {
            let ctx = Arc::new(mailhost_imap::ImapCtx {
                store: store.clone(),
                tls: (!implicit).then(|| tls.clone()),
                hostname: config.server.hostname.clone(),
                node: node.clone(),
                limits: config.limits.clone(),
                max_message_size: config.server.max_message_size.0,
                shutdown: shutdown.token.clone(),
                guard: Some(policy.auth.clone()),
                count_logins: config.policy.imap_logins_count,
                read_retention: !config.policy.imap_read_retention.std().is_zero(),
                plaintext_loopback: config.policy.imap_plaintext_loopback,
                cache: imap_cache.clone(),
            });
            let l = mk(name, sock, implicit.then(|| tls.clone()), IMAP_BUSY);
            tokio::spawn(l.run(shutdown.clone(), move |c| {
                mailhost_imap::session(c, ctx.clone())
            }));
            running += 1;
        }
    }
    // The panels and the JSON API (R-WEB-1..4): plain on listen.http
    // (for a proxy in front), TLS on listen.https.
    const HTTP_BUSY: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let web = mailhost_web::app(Arc::new(mailhost_web::Web {
        admin: admin.clone(),
    }));
    for (name, addr, implicit) in [
        ("http", &config.listen.http, false),
        ("https", &config.listen.https, true),
    ] {
        if let Some(sock) = bind(name, addr).await? {
            let l = mk(name, sock, implicit.then(|| tls.clone()), HTTP_BUSY);
            let (app, token) = (web.clone(), shutdown.token.clone());
            tokio::spawn(l.run(shutdown.clone(), move |c| {
                mailhost_web::connection(c, app.clone(), token.clone())
            }));
            running += 1;
        }
    }
    if running == 0 {
        return Err("no listener is configured".into());
    }
    // The outbound queue worker (R-OUT-9): delivers what submission queued.
    let delivery = tokio::spawn(mailhost_delivery::run(
        Arc::new(mailhost_delivery::DeliveryCtx {
            policy: Some(policy.clone()),
            store: store.clone(),
            config: config.clone(),
            node: node.clone(),
            shutdown: shutdown.token.clone(),
            srs: Some(srs.clone()),
        }),
        wake.clone(),
    ));
    // R-POP-2, R-POP-5: read mail goes after its retention.
    tokio::spawn(mailhost_mailbox::retention::run(
        store.clone(),
        config.policy.read_retention.std(),
        config.policy.imap_read_retention.std(),
        config.policy.autoreply_interval.std(),
        shutdown.token.clone(),
    ));
    tokio::spawn(mailhost_policy::bulk_index::follow_bulk_window(
        store.clone(),
        policy.bulk.clone(),
        track_bulk,
        shutdown.token.clone(),
    ));
    tracing::info!(store = store.backend_name(), node, "mailhost running");
    println!("mailhost: ready");

    wait_for_signal().await;
    tracing::info!("shutting down");
    let grace = config.server.shutdown_grace.std();
    if !shutdown.shutdown(grace).await {
        tracing::warn!("sessions still open after {grace:?}; exiting anyway");
    }
    // The worker stops within the grace period; rows it had in flight keep
    // their lease and are retried at the next start.
    let _ = tokio::time::timeout(grace, delivery).await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
