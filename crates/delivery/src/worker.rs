//! The queue worker: claim, route, send, record.
//!
//! Every `delivery.poll` (or at once when woken) the worker claims due
//! rows with a lease in this node's name, groups them by domain, and runs
//! one task per domain. A domain's messages are spread over at most
//! `per_domain` connections ("lanes"), all domains together over at most
//! `max_connections`. A lane sends its messages one after another over one
//! connection (RSET between, QUIT at the end); the rows of one message to
//! one domain (same body, same sender) go in one transaction with several
//! RCPTs.
//!
//! For each message the MX hosts are tried in order (RFC 5321 §5.1) while
//! a host gives no answer (cannot connect, times out, breaks); a host's
//! reply to MAIL, RCPT or DATA is the answer for those recipients.
//!
//! A lane's connection outlives it by `connection_cache_time`: it waits,
//! open, for the next lane to the same host (as Postfix's connection
//! cache), which checks it with RSET before using it. Mail arriving at a
//! steady rate is claimed a little at a time, so without this nearly every
//! message would pay for a new connection (and TLS handshake).
//!
//! Crash safety: a row is removed only by `queue_done_many`/`queue_fail` after
//! its outcome is known. Rows of a worker that stops (crash, or shutdown
//! in mid-transaction) keep their lease; `run` releases this node's leases
//! when it starts, so they are sent again: every queued message is
//! delivered at least once.

use crate::client::{self, Connection, Envelope};
use crate::outcome::{Failure, Outcome};
use crate::record::{local_checks, record};
use crate::route::{self, HickoryDns, Hop};
use crate::DeliveryCtx;
use mailhost_store::{QueueItem, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

/// Rows claimed at once.
const CLAIM_LIMIT: usize = 100;
/// Rows in flight at most: claiming more than can be sent would only let
/// their leases run out while they wait.
const MAX_IN_FLIGHT: usize = 500;
/// How long shutdown waits for transactions in flight.
const MAX_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What every delivery task shares.
struct Shared {
    ctx: Arc<DeliveryCtx>,
    dns: HickoryDns,
    params: client::Params,
    /// `max_connections` permits.
    all: Arc<Semaphore>,
    /// `per_domain` permits per domain with work in flight.
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The rows being worked on. A row whose lease ran out while it waited
    /// can be claimed again by this node; it must not be sent twice. A row
    /// is its id *and* its body: SQLite gives a new row the id of a deleted
    /// one that had the highest id, so an id alone can name a new message
    /// while the old one is still being finished.
    in_flight: Mutex<HashSet<(i64, String)>>,
    /// Open connections no lane is using, by host name, oldest first.
    idle: Mutex<HashMap<String, Vec<Parked>>>,
}

/// A connection waiting in the cache, and since when.
struct Parked {
    conn: Connection,
    since: Instant,
}

/// How long a cached connection has to answer the RSET that checks it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long closing an unused connection may take (QUIT and shutdown).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

impl Shared {
    /// A cached connection to one of `hop`'s addresses that still answers,
    /// the most recently used first.
    async fn reuse(&self, hop: &Hop) -> Option<Connection> {
        let keep = self.ctx.config.delivery.connection_cache_time.std();
        loop {
            let parked = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                let list = idle.get_mut(&hop.host)?;
                let i = list
                    .iter()
                    .rposition(|p| hop.addrs.contains(&p.conn.addr))?;
                list.remove(i)
            };
            let mut c = parked.conn;
            if parked.since.elapsed() <= keep
                && c.probe(PROBE_TIMEOUT.min(self.params.command_timeout))
                    .await
            {
                return Some(c);
            }
            close(c);
        }
    }

    /// Puts a lane's connection in the cache, or closes it when it cannot
    /// be used again, caching is off, the node is stopping, or the host
    /// already has `per_domain` connections waiting.
    fn park(&self, conn: Connection) {
        let d = &self.ctx.config.delivery;
        if !conn.usable()
            || d.connection_cache_time.std().is_zero()
            || self.ctx.shutdown.is_cancelled()
        {
            return close(conn);
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = idle.values().map(Vec::len).sum();
        let list = idle.entry(conn.host.clone()).or_default();
        if list.len() >= d.per_domain.max(1) as usize || total >= d.max_connections.max(1) as usize
        {
            drop(idle);
            return close(conn);
        }
        list.push(Parked {
            conn,
            since: Instant::now(),
        });
    }

    /// Closes the cached connections that waited longer than
    /// `connection_cache_time`, or all of them.
    fn expire(&self, all: bool) -> usize {
        let keep = self.ctx.config.delivery.connection_cache_time.std();
        let mut old = Vec::new();
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            for list in idle.values_mut() {
                // Oldest first: the expired ones are a prefix.
                let n = if all {
                    list.len()
                } else {
                    list.iter().take_while(|p| p.since.elapsed() > keep).count()
                };
                old.extend(list.drain(..n));
            }
            idle.retain(|_, l| !l.is_empty());
        }
        let n = old.len();
        old.into_iter().for_each(|p| close(p.conn));
        n
    }
}

/// QUIT in the background: the peer's answer decides nothing.
fn close(conn: Connection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.quit()).await;
    });
}

/// Removes its rows from the in-flight set when the task ends or is
/// aborted.
struct InFlight<'a>(&'a Shared, Vec<(i64, String)>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut set = self.0.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.1 {
            set.remove(id);
        }
    }
}

/// The queue worker: releases this node's old leases, then claims due rows
/// every `delivery.poll` (and at once when notified), delivers them, and
/// returns after shutdown (finishing or abandoning in-flight transactions
/// within a few seconds; abandoned rows keep their lease and are retried).
///
/// Callers that queue mail wake it with `wake.notify_one()` (which is
/// remembered if the worker is busy at that moment).
pub async fn run(ctx: Arc<DeliveryCtx>, wake: Arc<Notify>) {
    let cfg = ctx.config.clone();
    let d = &cfg.delivery;
    match ctx.store.queue_release(&ctx.node).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            rows = n,
            "released this node's queue leases from an earlier run"
        ),
        Err(e) => tracing::warn!("cannot release old queue leases: {e}"),
    }
    let tls = crate::tls::client_config()
        .map_err(|e| tracing::warn!("outbound TLS disabled: {e}"))
        .ok();
    let helo = if d.helo.is_empty() {
        cfg.server.hostname.clone()
    } else {
        d.helo.clone()
    };
    let sh = Arc::new(Shared {
        dns: HickoryDns::new(d),
        params: client::Params {
            helo,
            connect_timeout: d.connect_timeout.std(),
            command_timeout: d.command_timeout.std(),
            tls,
        },
        all: Arc::new(Semaphore::new(d.max_connections.max(1) as usize)),
        domains: Mutex::new(HashMap::new()),
        in_flight: Mutex::new(HashSet::new()),
        idle: Mutex::new(HashMap::new()),
        ctx,
    });
    let keep = d.connection_cache_time.std();
    let reaper = (!keep.is_zero()).then(|| {
        let sh = sh.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval((keep / 2).max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = sh.ctx.shutdown.cancelled() => break,
                    _ = tick.tick() => { sh.expire(false); }
                }
            }
        })
    });
    // Long enough for a whole lane: connecting, and the slowest command
    // twice over, with room to spare.
    let lease = d.connect_timeout.std() + 2 * d.command_timeout.std() + Duration::from_secs(60);
    let mut tasks = JoinSet::new();
    loop {
        while let Some(r) = tasks.try_join_next() {
            if let Err(e) = r {
                tracing::error!("delivery task failed: {e}");
            }
        }
        if sh.ctx.shutdown.is_cancelled() {
            break;
        }
        // A full claim means more is due: claim again at once. Otherwise
        // wait for new mail, a finished lane (room for more), or the poll.
        if claim(&sh, lease, &mut tasks).await {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = sh.ctx.shutdown.cancelled() => break,
            _ = wake.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep(d.poll.std()) => {}
        }
    }
    // Let transactions in flight finish for a moment; lanes start no new
    // message after shutdown. What is still running then is dropped with
    // its rows leased.
    let wait = cfg.server.shutdown_grace.std().min(MAX_SHUTDOWN_WAIT);
    if tokio::time::timeout(wait, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::info!(
            tasks = tasks.len(),
            "abandoning deliveries in flight; their rows are retried on restart"
        );
        tasks.shutdown().await;
    }
    if let Some(r) = reaper {
        let _ = r.await;
    }
    let n = sh.expire(true);
    if n > 0 {
        tracing::debug!(connections = n, "closing cached outbound connections");
        // The QUITs run in their own tasks; give them a moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Claims due rows and starts a task for each domain among them. Returns
/// whether the claim was full (more rows are probably due).
async fn claim(sh: &Arc<Shared>, lease: Duration, tasks: &mut JoinSet<()>) -> bool {
    let busy = sh.in_flight.lock().unwrap_or_else(|e| e.into_inner()).len();
    let limit = CLAIM_LIMIT.min(MAX_IN_FLIGHT.saturating_sub(busy));
    if limit == 0 {
        return false;
    }
    let rows = match sh.ctx.store.queue_claim(&sh.ctx.node, lease, limit).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("cannot claim queued mail: {e}");
            return false;
        }
    };
    let full = rows.len() == limit;
    let mut by_domain: HashMap<String, Vec<QueueItem>> = HashMap::new();
    {
        let mut set = sh.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows {
            // Claimed again after its lease ran out while still in flight
            // here: the new lease covers it; it is not sent twice.
            if set.insert((row.id, row.blob_id.clone())) {
                by_domain.entry(row.domain.clone()).or_default().push(row);
            }
        }
    }
    sh.domains
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|_, s| Arc::strong_count(s) > 1);
    for (domain, rows) in by_domain {
        tasks.spawn(deliver_domain(sh.clone(), domain, rows));
    }
    full
}

/// One message: the rows with the same body and sender, in claim order.
type Message = Vec<QueueItem>;

async fn deliver_domain(sh: Arc<Shared>, domain: String, rows: Vec<QueueItem>) {
    let _guard = InFlight(
        &sh,
        rows.iter().map(|r| (r.id, r.blob_id.clone())).collect(),
    );
    // Each stage of a row's way out is traced, so that a row that stays
    // leased without an attempt shows where it waits (RUST_LOG=mailhost_delivery=trace).
    tracing::trace!(%domain, ids = ?rows.iter().map(|r| r.id).collect::<Vec<_>>(), "claimed");
    let mut messages: Vec<Message> = Vec::new();
    let mut index: HashMap<(String, String, Vec<u8>), usize> = HashMap::new();
    for row in rows {
        // Rows with a prefix of their own (a list member's headers) are
        // messages of their own.
        let key = (row.blob_id.clone(), row.sender.clone(), row.prefix.clone());
        match index.get(&key) {
            Some(&i) => messages[i].push(row),
            None => {
                index.insert(key, messages.len());
                messages.push(vec![row]);
            }
        }
    }
    // The policy's last word before anything is sent: a 4xx defers the
    // message, a 5xx bounces it.
    // Each recipient is decided on its own (R-OUT-7 marks single
    // recipients); those refused alike share one outcome and one DSN.
    if let Some(policy) = &sh.ctx.policy {
        let mut allowed = Vec::with_capacity(messages.len());
        for m in messages {
            let mut send = Vec::with_capacity(m.len());
            let mut refused: Vec<(mailhost_policy::Refusal, Message)> = Vec::new();
            for row in m {
                match policy
                    .before_delivery(&mailhost_policy::QueuedCtx { item: &row })
                    .await
                {
                    mailhost_policy::Verdict::Allow => send.push(row),
                    mailhost_policy::Verdict::Refuse(r) => {
                        match refused.iter_mut().find(|(q, _)| q.text() == r.text()) {
                            Some((_, rows)) => rows.push(row),
                            None => refused.push((r, vec![row])),
                        }
                    }
                }
            }
            for (r, rows) in refused {
                tracing::info!(%domain, rule = r.rule, "delivery refused by policy: {}", r.reason);
                if let Err(e) = policy_refusal(&sh, &rows, &r).await {
                    tracing::warn!(%domain, "cannot record a policy refusal: {e}");
                }
            }
            if !send.is_empty() {
                allowed.push(send);
            }
        }
        messages = allowed;
        if messages.is_empty() {
            return;
        }
    }
    let cfg = &sh.ctx.config;
    let hops = if domain.is_empty() {
        // RFC 3463 X.1.3: bad destination address syntax.
        Err(Failure::local(
            true,
            "5.1.3",
            "the recipient address has no domain",
        ))
    } else {
        route::next_hops(&domain, &cfg.delivery, &cfg.server.hostname, &sh.dns).await
    };
    let hops = match hops {
        Ok(h) => Arc::new(h),
        Err(f) => {
            // The whole domain fails alike: every message gets the answer.
            for m in messages {
                if let Err(e) = finish_without_sending(&sh, &m, &f).await {
                    tracing::warn!(%domain, "cannot record a routing failure: {e}");
                }
            }
            return;
        }
    };
    let per_domain = sh
        .domains
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(domain.clone())
        .or_insert_with(|| Arc::new(Semaphore::new(cfg.delivery.per_domain.max(1) as usize)))
        .clone();
    let lanes = (cfg.delivery.per_domain.max(1) as usize).min(messages.len());
    let mut split: Vec<Vec<Message>> = vec![Vec::new(); lanes];
    for (i, m) in messages.into_iter().enumerate() {
        split[i % lanes].push(m);
    }
    let mut set = JoinSet::new();
    for msgs in split {
        set.spawn(lane(sh.clone(), hops.clone(), per_domain.clone(), msgs));
    }
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            tracing::error!(%domain, "delivery lane failed: {e}");
        }
    }
}

/// A refusal by the policy before delivery, recorded for its rows like a
/// failure before any connection (a 4xx defers them, a 5xx bounces them).
/// A bounce is also a decision for the evidence log (R-ABUSE-3), with the
/// message's headers for an abuse report and its Message-ID, which ties it
/// to the record of the message's acceptance.
async fn policy_refusal(
    sh: &Shared,
    rows: &[QueueItem],
    r: &mailhost_policy::Refusal,
) -> Result<(), StoreError> {
    let body = body_of(sh, rows).await?;
    if r.code >= 500 {
        let headers = crate::dsn::header_section(&body);
        let message_id = mail_parser::MessageParser::default()
            .parse_headers(headers)
            .and_then(|m| m.message_id().map(|id| format!("<{id}>")));
        let e = mailhost_store::Evidence {
            account: rows[0].account.clone(),
            rule: r.rule.to_string(),
            decision: "bounce".into(),
            reply: format!(
                "{} {} {} (to {})",
                r.code,
                r.enhanced,
                r.text(),
                rows.iter()
                    .map(|q| q.rcpt.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            service: "delivery".into(),
            message_id,
            headers: (!headers.is_empty()).then(|| headers.to_vec()),
            ..Default::default()
        };
        if let Err(err) = sh.ctx.store.evidence_record(&e).await {
            tracing::warn!("cannot record a policy bounce in the evidence log: {err}");
        }
    }
    let f = Failure::local(r.code >= 500, r.enhanced, r.text());
    record(&sh.ctx, rows, vec![Outcome::Failed(f); rows.len()], &body).await
}

/// The row's own header fields before the shared body.
fn with_prefix(row: &QueueItem, body: Vec<u8>) -> Vec<u8> {
    if row.prefix.is_empty() {
        return body;
    }
    let mut out = Vec::with_capacity(row.prefix.len() + body.len());
    out.extend_from_slice(&row.prefix);
    out.extend_from_slice(&body);
    out
}

/// The body of a message's rows; empty when it is gone (nothing can be
/// sent, but the failure is still recorded and notified).
async fn body_of(sh: &Shared, rows: &[QueueItem]) -> Result<Vec<u8>, StoreError> {
    match sh.ctx.store.queue_body(&rows[0].blob_id).await {
        Ok(b) => Ok(with_prefix(&rows[0], b)),
        Err(StoreError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A routing or loop failure before any connection: recorded for every row
/// of the message (it needs the body for the notice's headers).
async fn finish_without_sending(
    sh: &Shared,
    rows: &[QueueItem],
    f: &Failure,
) -> Result<(), StoreError> {
    let body = body_of(sh, rows).await?;
    record(
        &sh.ctx,
        rows,
        vec![Outcome::Failed(f.clone()); rows.len()],
        &body,
    )
    .await
}

/// Sends `msgs` one after another over one connection per host.
async fn lane(
    sh: Arc<Shared>,
    hops: Arc<Vec<Hop>>,
    per_domain: Arc<Semaphore>,
    msgs: Vec<Message>,
) {
    let shutdown = &sh.ctx.shutdown;
    let permits = tokio::select! {
        _ = shutdown.cancelled() => return,
        p = async { (per_domain.acquire_owned().await, sh.all.clone().acquire_owned().await) } => p,
    };
    let (Ok(_domain_permit), Ok(_permit)) = permits else {
        return;
    };
    tracing::trace!(ids = ?msgs.iter().flatten().map(|r| r.id).collect::<Vec<_>>(), "lane started");
    let mut conn: Option<(usize, Connection)> = None;
    let mut dead: Vec<Option<Failure>> = vec![None; hops.len()];
    for rows in msgs {
        if shutdown.is_cancelled() {
            break; // the rest keep their lease and are sent after restart
        }
        let body = match sh.ctx.store.queue_body(&rows[0].blob_id).await {
            Ok(b) => with_prefix(&rows[0], b),
            Err(StoreError::NotFound(e)) => {
                // Cannot happen while a row references the body; if it
                // does, nothing can ever be sent.
                tracing::error!("{e}; dropping its queue rows");
                for r in &rows {
                    let _ = sh.ctx.store.queue_fail(r, None).await;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!("cannot read a queued message: {e}");
                continue;
            }
        };
        let outcomes = match local_checks(&body, &sh.ctx.config) {
            Some(f) => vec![Outcome::Failed(f); rows.len()],
            None => send_message(&sh, &hops, &mut conn, &mut dead, &rows, &body).await,
        };
        // The lane waits for the outcome's commit before the next message:
        // a crash then leaves at most one message per lane sent but still
        // queued (sent again after restart, RFC 1047). Going on while it
        // commits measured no faster.
        if let Err(e) = record(&sh.ctx, &rows, outcomes, &body).await {
            tracing::warn!("cannot record delivery results (the rows will be retried): {e}");
        }
    }
    if let Some((_, c)) = conn {
        sh.park(c);
    }
}

/// Tries the hosts in order until every recipient has an answer; returns
/// one outcome per row.
async fn send_message(
    sh: &Shared,
    hops: &[Hop],
    conn: &mut Option<(usize, Connection)>,
    dead: &mut [Option<Failure>],
    rows: &[QueueItem],
    body: &[u8],
) -> Vec<Outcome> {
    let rcpts: Vec<String> = rows.iter().map(|r| r.rcpt.clone()).collect();
    let mut results: Vec<Option<Outcome>> = vec![None; rows.len()];
    let mut pending: Vec<usize> = (0..rows.len()).collect();
    // The last "no answer", and whether every host refused for good (a
    // 5xx greeting everywhere), in which case it is a permanent failure.
    let mut last: Option<Failure> = None;
    let mut all_permanent = true;
    for (i, hop) in hops.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        if let Some(f) = &dead[i] {
            all_permanent &= f.permanent;
            last = Some(f.clone());
            continue;
        }
        if !matches!(conn, Some((h, c)) if *h == i && c.usable()) {
            if let Some((_, old)) = conn.take() {
                sh.park(old);
            }
            if let Some(c) = sh.reuse(hop).await {
                tracing::debug!(host = %hop.host, addr = %c.addr, "reusing a cached connection");
                *conn = Some((i, c));
            } else {
                match client::connect(hop, &sh.params).await {
                    Ok(c) => {
                        tracing::debug!(host = %hop.host, addr = %c.addr, tls = ?c.tls, "connected");
                        *conn = Some((i, c));
                    }
                    Err(f) => {
                        dead[i] = Some(f.clone());
                        all_permanent &= f.permanent;
                        last = Some(f);
                        continue;
                    }
                }
            }
        }
        let Some((_, c)) = conn.as_mut() else {
            continue;
        };
        let these: Vec<String> = pending.iter().map(|&k| rcpts[k].clone()).collect();
        let out = c
            .send(&Envelope {
                sender: &rows[0].sender,
                rcpts: &these,
                body,
            })
            .await;
        let mut still = Vec::new();
        for (&k, o) in pending.iter().zip(out) {
            match o {
                Outcome::NoAnswer(f) => {
                    all_permanent &= f.permanent;
                    last = Some(f);
                    still.push(k);
                }
                done => results[k] = Some(done),
            }
        }
        pending = still;
        if !c.usable() {
            // A host that broke on the first message of its connection is
            // not tried again by this lane; one that broke later may just
            // limit messages per connection.
            if c.transactions <= 1 {
                dead[i] = last.clone();
            }
            *conn = None;
        }
    }
    let fallback = || Failure::local(false, "4.4.1", "no MX host could be reached");
    let final_failure = last.map(|mut f| {
        f.permanent = all_permanent && f.permanent;
        f
    });
    for k in pending {
        results[k] = Some(Outcome::Failed(
            final_failure.clone().unwrap_or_else(fallback),
        ));
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Outcome::Failed(fallback())))
        .collect()
}
