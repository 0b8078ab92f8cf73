//! Mailing-list benchmarks (R-LIST): the time and memory to expand and
//! queue one post to a list of N members (local store, real engine, DKIM
//! signing each copy), and the consent export of M ledger events (paged
//! reads written as CSV, as `mailhost list consent` does). In-process on
//! a fresh SQLite store in a temporary directory, which it removes.

use mailhost_config::Config;
use mailhost_store::{post_state, ConsentEvent, NewPost, Store};
use std::sync::Arc;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A memory figure of this process from /proc/self/status, in KB:
/// `VmHWM` (the peak so far) or `VmRSS`.
fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn peak_kb() -> u64 {
    status_kb("VmHWM:")
}

fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

pub async fn main(members: usize, events: usize, runs: usize) -> Res<()> {
    let dir = std::env::temp_dir().join(format!("mailhost-bench-lists-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let r = run(&dir, members, events, runs).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn run(dir: &std::path::Path, members: usize, events: usize, runs: usize) -> Res<()> {
    let store = Store::open(&format!("sqlite://{}", dir.join("b.db").display())).await?;
    let mut config = Config::default();
    config.lists.max_members = members as u32 + 10;
    // Expansion alone is measured: the posts follow one another at once
    // (the throttle's spacing has its own benchmark, bench/lists_throttle.sh).
    config.lists.throttle = mailhost_config::Duration::from_secs(0);
    let config = Arc::new(config);
    store
        .domain_add("bench.test", "boss@bench.test", None)
        .await?;
    store.user_add("owner@bench.test", "pw", None, None).await?;
    let key = mailhost_mailauth::generate_key("bench.test", "mh", 2048)?;
    store.dkim_key_set(&key).await?;
    let signer = Arc::new(mailhost_mailauth::Signer::new(store.clone()));
    let lists = mailhost_lists::Lists::new(store.clone(), config.clone())
        .await?
        .with_signer(signer);
    let list = store
        .list_create("news@bench.test", "owner@bench.test", "News")
        .await?;
    for i in 0..members {
        let m = format!("member{i}@remote{}.example", i % 50);
        let ev = lists.event(&list.address, &m, "confirmed", &Default::default());
        store
            .list_confirm(&list, &m, &format!("t{i}"), members as i64 + 10, &ev)
            .await?;
    }
    let list = store
        .list_get(&list.address)
        .await?
        .ok_or("list vanished")?;
    let body = format!(
        "From: Owner <owner@bench.test>\r\nTo: news@bench.test\r\nSubject: bench\r\nMessage-ID: <b@bench.test>\r\n\r\n{}",
        "0123456789abcdef ".repeat(240) // about 4 KB
    )
    .into_bytes();
    let mut times = Vec::new();
    let base_rss = rss_kb();
    for _ in 0..runs {
        let id = store
            .list_post_add(
                NewPost {
                    list_id: list.id,
                    body: body.clone(),
                    poster: "owner@bench.test".into(),
                    state: post_state::SCHEDULED,
                    release_at: 0,
                    message_id: None,
                },
                None,
            )
            .await?;
        let post = store.list_post(id).await?.ok_or("post vanished")?;
        let t = Instant::now();
        let n = lists.expand(&post).await?;
        times.push(t.elapsed().as_secs_f64());
        if n != members {
            return Err(format!("expanded {n} copies, want {members}").into());
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let med = times[times.len() / 2];
    println!(
        "expand: {members} members, 4 KB post, DKIM RSA-2048 per copy: median {:.3} s ({:.0} copies/s) over {runs} runs; RSS {} KB -> {} KB, peak {} KB",
        med,
        members as f64 / med,
        base_rss,
        rss_kb(),
        peak_kb()
    );
    // The consent export of `events` ledger events.
    let mut batch = Vec::new();
    for i in 0..events {
        let mut ev: ConsentEvent = lists.event(
            "export@bench.test",
            &format!("a{i}@remote.example"),
            "confirmed",
            &Default::default(),
        );
        ev.ip = Some("192.0.2.1".into());
        ev.token_hash = Some(format!("{i:064x}"));
        ev.message_id = Some(format!("<{i}@bench.test>"));
        batch.push(ev);
        if batch.len() == 1000 {
            for e in batch.drain(..) {
                store.consent_append(&e).await?;
            }
        }
    }
    for e in batch.drain(..) {
        store.consent_append(&e).await?;
    }
    let t = Instant::now();
    let mut w = csv::Writer::from_writer(std::io::sink());
    let (mut after, mut n) = (0, 0usize);
    loop {
        let page = store.consent_page("export@bench.test", after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            w.write_record([
                e.id.to_string(),
                e.list.clone(),
                e.address.clone(),
                e.event.clone(),
                e.at_local.clone(),
                e.ip.clone().unwrap_or_default(),
                e.method.clone(),
                e.message_id.clone().unwrap_or_default(),
                e.token_hash.clone().unwrap_or_default(),
            ])?;
            n += 1;
        }
    }
    w.flush()?;
    let took = t.elapsed().as_secs_f64();
    println!(
        "consent export: {n} events in {took:.3} s ({:.0} events/s), peak RSS {} KB",
        n as f64 / took,
        peak_kb()
    );
    Ok(())
}
