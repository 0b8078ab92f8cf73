//! Mailbox services and reports: forwarding (R-IN-4), the autoresponder
//! (R-IN-5), billing (R-ADDR-8).

use super::{json, open, parse_time};
use clap::Subcommand;
use mailhost_config::Config;
use mailhost_store::Autoreply;

#[derive(Subcommand)]
pub enum ForwardCmd {
    /// Replaces the mailbox's forwarding destinations (local or remote).
    Set {
        address: String,
        #[arg(required = true)]
        destinations: Vec<String>,
        /// Keep a copy in the mailbox too.
        #[arg(long)]
        keep_copy: bool,
        /// Allow more destinations than the package's max_forwards.
        #[arg(long)]
        force: bool,
    },
    /// Mail stays in the mailbox again.
    Clear {
        address: String,
    },
    Show {
        address: String,
    },
}

#[derive(Subcommand)]
pub enum AutoreplyCmd {
    Set {
        address: String,
        /// The reply's subject; without it, "Re: " and the original's.
        #[arg(long)]
        subject: Option<String>,
        /// The reply's text (UTF-8, at most 64 KB).
        #[arg(long)]
        body: String,
        /// Start: 2026-12-24 (that day, UTC) or 2026-12-24T09:00:00+09:00.
        #[arg(long)]
        from: Option<String>,
        /// End: 2026-12-31 (through that day, UTC) or a time with offset.
        #[arg(long)]
        until: Option<String>,
    },
    Clear {
        address: String,
    },
    Show {
        address: String,
    },
}

#[derive(clap::Args)]
pub struct BillingArgs {
    /// One domain; without it, every domain.
    pub domain: Option<String>,
    #[arg(long, default_value = "table")]
    pub format: BillingFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BillingFormat {
    Table,
    Csv,
    Json,
}

/// `--from`/`--until`: a date (`end`: through its end) or an RFC 3339 time.
fn parse_date(flag: &str, s: &str, end: bool) -> Result<i64, String> {
    let day = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    if day {
        let t = parse_time(flag, &format!("{s}T00:00:00Z"))?;
        return Ok(if end { t + 86_400_000 } else { t });
    }
    if !s.contains('T') {
        return Err(format!(
            "{flag} {s:?}: expected a date like 2026-12-24 or a time like 2026-12-24T09:00:00+09:00"
        ));
    }
    parse_time(flag, s)
}

pub async fn forward(config: Config, f: ForwardCmd) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    let store = open(&config).await?;
    match f {
        ForwardCmd::Set {
            address,
            destinations,
            keep_copy,
            force,
        } => {
            let r = store
                .forward_set(
                    &address,
                    &destinations,
                    keep_copy,
                    force,
                    config.policy.max_forwards,
                )
                .await
                .map_err(e)?;
            if let Some(w) = &r.warning {
                eprintln!("mailhost: warning: {w}");
            }
            println!(
                "forwarding for {}: {} (keep copy: {})",
                r.address,
                r.forwarding.destinations.join(", "),
                yes_no(r.forwarding.keep_copy)
            );
        }
        ForwardCmd::Clear { address } => {
            store.forward_clear(&address).await.map_err(e)?;
            println!("forwarding for {address} cleared");
        }
        ForwardCmd::Show { address } => match store.forward_show(&address).await.map_err(e)? {
            None => println!("no forwarding for {address}"),
            Some(f) => {
                println!("keep copy: {}", yes_no(f.keep_copy));
                for d in f.destinations {
                    println!("{d}");
                }
            }
        },
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

pub async fn autoreply(config: Config, a: AutoreplyCmd) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    match a {
        AutoreplyCmd::Set {
            address,
            subject,
            body,
            from,
            until,
        } => {
            let ar = Autoreply {
                subject,
                body,
                from: from
                    .as_deref()
                    .map(|f| parse_date("--from", f, false))
                    .transpose()?,
                until: until
                    .as_deref()
                    .map(|u| parse_date("--until", u, true))
                    .transpose()?,
            };
            let store = open(&config).await?;
            let addr = store.autoreply_set(&address, &ar).await.map_err(e)?;
            println!("autoreply for {addr} set");
        }
        AutoreplyCmd::Clear { address } => {
            open(&config)
                .await?
                .autoreply_clear(&address)
                .await
                .map_err(e)?;
            println!("autoreply for {address} cleared");
        }
        AutoreplyCmd::Show { address } => {
            match open(&config)
                .await?
                .autoreply_show(&address)
                .await
                .map_err(e)?
            {
                None => println!("no autoreply for {address}"),
                Some(a) => {
                    let t = |v: Option<i64>| v.map_or("-".to_string(), mailhost_store::rfc3339);
                    println!(
                        "subject: {}",
                        a.subject
                            .as_deref()
                            .unwrap_or("(Re: and the original subject)")
                    );
                    println!("from: {}", t(a.from));
                    println!("until: {}", t(a.until));
                    println!();
                    println!("{}", a.body);
                }
            }
        }
    }
    Ok(())
}

pub async fn billing(config: Config, b: BillingArgs) -> Result<(), String> {
    let rows = open(&config)
        .await?
        .billing(b.domain.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    match b.format {
        BillingFormat::Table | BillingFormat::Csv => {
            // CSV per RFC 4180 (domain names hold no comma or quote).
            let sep = if matches!(b.format, BillingFormat::Csv) {
                ","
            } else {
                "\t"
            };
            println!(
                "{}",
                ["domain", "mailboxes", "aliases", "suspended", "billable"].join(sep)
            );
            for r in rows {
                let n = [r.mailboxes, r.aliases, r.suspended, r.billable].map(|v| v.to_string());
                println!("{}{sep}{}", r.domain, n.join(sep));
            }
        }
        BillingFormat::Json => {
            let items: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{{\"domain\":{},\"mailboxes\":{},\"aliases\":{},\"suspended\":{},\"billable\":{}}}",
                        json(&r.domain),
                        r.mailboxes,
                        r.aliases,
                        r.suspended,
                        r.billable
                    )
                })
                .collect();
            println!("[{}]", items.join(","));
        }
    }
    Ok(())
}
