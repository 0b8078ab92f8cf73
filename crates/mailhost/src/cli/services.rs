//! Mailbox services and reports: forwarding (R-IN-4), the autoresponder
//! (R-IN-5), billing (R-ADDR-8).

use super::{admin, print_json};
use clap::Subcommand;
use mailhost_admin::time::parse_date;
use mailhost_admin::AutoreplyReq;
use mailhost_config::Config;
use mailhost_store::address::login_to_address;

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

pub async fn forward(config: Config, f: ForwardCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    let (a, c) = admin(config).await?;
    match f {
        ForwardCmd::Set {
            address,
            destinations,
            keep_copy,
            force,
        } => {
            let r = a
                .forward_set(&c, &address, &destinations, keep_copy, force)
                .await
                .map_err(e)?;
            if let Some(w) = &r.warning {
                eprintln!("mailhost: warning: {w}");
            }
            println!(
                "forwarding for {}: {} (keep copy: {})",
                shown(&address),
                r.destinations.join(", "),
                yes_no(r.keep_copy)
            );
        }
        ForwardCmd::Clear { address } => {
            a.forward_clear(&c, &address).await.map_err(e)?;
            println!("forwarding for {address} cleared");
        }
        ForwardCmd::Show { address } => match a.forward_get(&c, &address).await.map_err(e)? {
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

/// The address as the store keeps it.
fn shown(address: &str) -> String {
    login_to_address(address).unwrap_or_else(|| address.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

pub async fn autoreply(config: Config, cmd: AutoreplyCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    match cmd {
        AutoreplyCmd::Set {
            address,
            subject,
            body,
            from,
            until,
        } => {
            let ar = AutoreplyReq {
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
            let (a, c) = admin(config).await?;
            a.autoreply_set(&c, &address, ar).await.map_err(e)?;
            println!("autoreply for {} set", shown(&address));
        }
        AutoreplyCmd::Clear { address } => {
            let (a, c) = admin(config).await?;
            a.autoreply_clear(&c, &address).await.map_err(e)?;
            println!("autoreply for {address} cleared");
        }
        AutoreplyCmd::Show { address } => {
            let (a, c) = admin(config).await?;
            match a.autoreply_get(&c, &address).await.map_err(e)? {
                None => println!("no autoreply for {address}"),
                Some(r) => {
                    println!(
                        "subject: {}",
                        r.subject
                            .as_deref()
                            .unwrap_or("(Re: and the original subject)")
                    );
                    println!("from: {}", r.from.as_deref().unwrap_or("-"));
                    println!("until: {}", r.until.as_deref().unwrap_or("-"));
                    println!();
                    println!("{}", r.body);
                }
            }
        }
    }
    Ok(())
}

pub async fn billing(config: Config, b: BillingArgs) -> Result<(), String> {
    let (a, c) = admin(config).await?;
    let rows = a
        .billing(&c, b.domain.as_deref())
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
        BillingFormat::Json => print_json(&rows)?,
    }
    Ok(())
}
