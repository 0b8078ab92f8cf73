//! The operator's commands: the queue, holds, packages, the evidence log.

use super::{admin, print_json};
use crate::cli::addresses::size;
use clap::Subcommand;
use mailhost_admin::time::parse_time;
use mailhost_admin::{EvidenceFilter, PageReq};
use mailhost_config::Config;

#[derive(Subcommand)]
pub enum HoldCmd {
    /// Holds in force: account, rule, start, end, reason.
    List,
    /// Lifts the holds on an account.
    Release { address: String },
}

#[derive(Subcommand)]
pub enum PackageCmd {
    /// Creates a package or changes the limits given.
    Set {
        name: String,
        /// R-OUT-6 Max Hourly Emails per account.
        #[arg(long)]
        hourly_limit: Option<u32>,
        /// R-IN-3 mailbox quota, e.g. "100MB".
        #[arg(long)]
        quota: Option<String>,
        /// R-IN-4 forwarding destinations per mailbox.
        #[arg(long)]
        max_forwards: Option<u32>,
    },
    /// Packages and their limits ("-": the server default).
    List,
}

#[derive(clap::Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub export: Option<EvidenceCmd>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub ip: Option<String>,
    #[arg(long)]
    pub rule: Option<String>,
    /// A time (2026-11-22T18:00:00+00:00) or an age ("2h": the last two hours).
    #[arg(long)]
    pub since: Option<String>,
    /// The end of the time range, in the same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value = "table")]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum EvidenceCmd {
    /// The full headers of the message behind a decision, for an abuse report.
    Export { id: i64 },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum QueueCmd {
    /// Every queued recipient: id, age, attempts, sender, recipient, last error.
    List,
    /// Makes every queued message due for delivery now.
    Flush,
}

/// Evidence records printed at most (newest first), as before paging.
const EVIDENCE_MAX: usize = 1000;

pub async fn queue(config: Config, q: QueueCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    let (a, c) = admin(config).await?;
    match q {
        QueueCmd::List => {
            for i in a.queue_list(&c).await.map_err(e)? {
                let sender = if i.sender.is_empty() { "<>" } else { &i.sender };
                println!(
                    "{}\t{}s\t{}\t{}\t{}\t{}",
                    i.id,
                    i.age_seconds,
                    i.attempts,
                    sender,
                    i.rcpt,
                    i.last_error.as_deref().unwrap_or("-")
                );
            }
        }
        QueueCmd::Flush => {
            let n = a.queue_flush(&c).await.map_err(e)?;
            println!("{n} queued recipient(s) due now");
        }
    }
    Ok(())
}

pub async fn hold(config: Config, h: HoldCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    let (a, c) = admin(config).await?;
    match h {
        HoldCmd::List => {
            let mut p = PageReq::all();
            loop {
                let page = a.hold_list(&c, &p).await.map_err(e)?;
                for h in page.items {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        h.account, h.rule, h.started, h.ends, h.reason
                    );
                }
                match page.next {
                    Some(n) => p.cursor = Some(n),
                    None => break,
                }
            }
        }
        HoldCmd::Release { address } => {
            let n = a.hold_release(&c, &address).await.map_err(e)?;
            println!("{address}: {n} hold(s) released");
        }
    }
    Ok(())
}

pub async fn package(config: Config, p: PackageCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    match p {
        PackageCmd::Set {
            name,
            hourly_limit,
            quota,
            max_forwards,
        } => {
            let quota = quota.map(|q| size("--quota", &q)).transpose()?;
            let (a, c) = admin(config).await?;
            let (p, over) = a
                .package_set(&c, &name, hourly_limit, quota, max_forwards)
                .await
                .map_err(e)?;
            println!(
                "package {}: hourly limit {}, quota {}, max forwards {}",
                p.name,
                show(p.hourly_limit),
                show(p.quota),
                show(p.max_forwards)
            );
            for u in over {
                eprintln!(
                    "mailhost: warning: {} uses {} bytes, more than the new quota of {}: new mail is refused until it fits (R-IN-3)",
                    u.address, u.used, u.quota
                );
            }
        }
        PackageCmd::List => {
            let (a, c) = admin(config).await?;
            for p in a.package_list(&c).await.map_err(e)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    p.name,
                    show(p.hourly_limit),
                    show(p.quota),
                    show(p.max_forwards)
                );
            }
        }
    }
    Ok(())
}

pub async fn evidence(config: Config, args: EvidenceArgs) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    if let Some(EvidenceCmd::Export { id }) = args.export {
        let (a, c) = admin(config).await?;
        let h = a.evidence_export(&c, id).await.map_err(e)?;
        use std::io::Write;
        std::io::stdout().write_all(&h).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let f = EvidenceFilter {
        account: args.account,
        ip: args.ip,
        rule: args.rule,
        since: args
            .since
            .as_deref()
            .map(|s| parse_time("--since", s))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|u| parse_time("--until", u))
            .transpose()?,
    };
    let (a, c) = admin(config).await?;
    let mut p = PageReq::all();
    let mut printed = 0;
    while printed < EVIDENCE_MAX {
        let page = a.evidence_search(&c, &f, &p).await.map_err(e)?;
        for r in page.items {
            printed += 1;
            match args.format {
                Format::Table => println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.time,
                    r.ip,
                    r.account.as_deref().unwrap_or("-"),
                    r.rule,
                    r.decision,
                    r.queue_id.as_deref().unwrap_or("-"),
                    r.message_id.as_deref().unwrap_or("-"),
                    r.reply
                ),
                Format::Json => print_json(&r)?,
            }
        }
        match page.next {
            Some(n) => p.cursor = Some(n),
            None => break,
        }
    }
    Ok(())
}
