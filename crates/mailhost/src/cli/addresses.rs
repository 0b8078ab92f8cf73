//! Domains, mailboxes and aliases (SPEC "Command line").

use super::{dkim_key, new_dkim_key, open, password, PasswordArg};
use clap::Subcommand;
use mailhost_config::{Config, Size};

#[derive(Subcommand)]
pub enum DomainCmd {
    Add {
        domain: String,
        /// The domain's technical contact (domain admin).
        #[arg(long)]
        contact: String,
        #[arg(long)]
        package: Option<String>,
    },
    List,
    Remove {
        domain: String,
    },
    /// Changes the technical contact (where postmaster@ goes, R-ADDR-4)
    /// or the package.
    Set {
        domain: String,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        package: Option<String>,
    },
    /// The DNS records to publish: MX, SPF, DKIM, DMARC. Makes the DKIM key
    /// if the domain has none yet.
    Dns {
        domain: String,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    Add {
        address: String,
        #[command(flatten)]
        password: PasswordArg,
        /// Mailbox quota, e.g. "50MB".
        #[arg(long)]
        quota: Option<String>,
        #[arg(long)]
        package: Option<String>,
    },
    Passwd {
        address: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    Suspend {
        address: String,
    },
    Resume {
        address: String,
    },
    Delete {
        address: String,
    },
    /// Mailboxes, aliases and the domain's own addresses, with usage and
    /// quota.
    List {
        domain: String,
    },
    /// Usage and quota of one mailbox (R-IN-3).
    Quota {
        address: String,
        /// Sets the mailbox's own quota ("default": from its package or
        /// the server again); below the usage it warns.
        #[arg(long)]
        set: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AliasCmd {
    Add {
        alias: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    Remove {
        alias: String,
    },
}

/// Whole percent of `used` in `quota`, rounded down.
fn percent(used: i64, quota: i64) -> i64 {
    if quota <= 0 {
        return 100;
    }
    (used.max(0) as i128 * 100 / quota as i128) as i64
}

pub async fn domain(config: Config, d: DomainCmd) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    let store = open(&config).await?;
    match d {
        DomainCmd::Add {
            domain,
            contact,
            package,
        } => {
            // The key is made first (the slow, fallible step), so a
            // failure leaves no domain behind.
            let name = mailhost_store::address::normalize_domain(&domain).map_err(e)?;
            let key = new_dkim_key(&config, &name).await?;
            let name = store
                .domain_add(&name, &contact, package.as_deref())
                .await
                .map_err(e)?;
            store.dkim_key_set(&key).await.map_err(e)?;
            println!("domain {name} added; publish its records: mailhost domain dns {name}");
        }
        DomainCmd::Dns { domain } => {
            let name = mailhost_store::address::normalize_domain(&domain).map_err(e)?;
            if !store.is_hosted(&name).await.map_err(e)? {
                return Err(format!("no such domain: {name}"));
            }
            let key = dkim_key(&config, &store, &name).await?;
            print!(
                "{}",
                mailhost_mailauth::dns_records(&name, &config.server.hostname, Some(&key))
            );
        }
        DomainCmd::List => {
            for d in store.domain_list().await.map_err(e)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    d.name,
                    d.contact,
                    d.package.as_deref().unwrap_or("-"),
                    d.addresses
                );
            }
        }
        DomainCmd::Set {
            domain,
            contact,
            package,
        } => {
            store
                .domain_set(&domain, contact.as_deref(), package.as_deref())
                .await
                .map_err(e)?;
            println!("domain {domain} updated");
        }
        DomainCmd::Remove { domain } => {
            store.domain_remove(&domain).await.map_err(e)?;
            println!("domain {domain} removed");
        }
    }
    Ok(())
}

pub async fn user(config: Config, u: UserCmd) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    // Read the password before opening the store, so a bad invocation
    // touches nothing.
    let store_needed = open(&config);
    match u {
        UserCmd::Add {
            address,
            password: p,
            quota,
            package,
        } => {
            let quota = quota
                .map(|q| Size::parse(&q).map(|s| s.0))
                .transpose()
                .map_err(|m| format!("--quota: {m}"))?;
            let pw = password(p)?;
            let store = store_needed.await?;
            let a = store
                .user_add(&address, &pw, quota, package.as_deref())
                .await
                .map_err(e)?;
            println!("mailbox {a} added");
        }
        UserCmd::Passwd {
            address,
            password: p,
        } => {
            let pw = password(p)?;
            store_needed
                .await?
                .user_passwd(&address, &pw)
                .await
                .map_err(e)?;
            println!("password changed");
        }
        UserCmd::Suspend { address } => {
            store_needed
                .await?
                .user_set_suspended(&address, true)
                .await
                .map_err(e)?;
            println!("{address} suspended");
        }
        UserCmd::Resume { address } => {
            store_needed
                .await?
                .user_set_suspended(&address, false)
                .await
                .map_err(e)?;
            println!("{address} resumed");
        }
        UserCmd::Delete { address } => {
            store_needed
                .await?
                .user_delete(&address, config.policy.quarantine.std())
                .await
                .map_err(e)?;
            println!("{address} deleted");
        }
        UserCmd::Quota { address, set } => {
            let store = store_needed.await?;
            let q = match set.as_deref() {
                None => store.user_quota(&address).await.map_err(e)?,
                Some(v) => {
                    let quota = if v == "default" {
                        None
                    } else {
                        Some(Size::parse(v).map_err(|m| format!("--set: {m}"))?.0)
                    };
                    let q = store.user_set_quota(&address, quota).await.map_err(e)?;
                    if q.used > q.quota {
                        eprintln!(
                            "mailhost: warning: {} uses {} bytes, more than its new quota of {}: new mail is refused until it fits (R-IN-3)",
                            q.address, q.used, q.quota
                        );
                    }
                    q
                }
            };
            println!(
                "{}: {} of {} bytes ({}%), {} messages",
                q.address,
                q.used,
                q.quota,
                percent(q.used, q.quota),
                q.messages
            );
        }
        UserCmd::List { domain } => {
            for a in store_needed.await?.user_list(&domain).await.map_err(e)? {
                let status = if a.suspended { "suspended" } else { "active" };
                let detail = match a.kind.as_str() {
                    "alias" | "postmaster" => format!("-> {}", a.targets.join(", ")),
                    "all" => "-> every active mailbox".to_string(),
                    _ => {
                        let q = a.effective_quota.unwrap_or(config.policy.quota.0 as i64);
                        format!(
                            "{} messages, {} of {} bytes ({}%)",
                            a.messages,
                            a.bytes,
                            q,
                            percent(a.bytes, q)
                        )
                    }
                };
                println!("{}\t{}\t{}\t{}", a.address, a.kind, status, detail);
            }
        }
    }
    Ok(())
}

pub async fn alias(config: Config, a: AliasCmd) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    let store = open(&config).await?;
    match a {
        AliasCmd::Add { alias, targets } => {
            let a = store.alias_add(&alias, &targets).await.map_err(e)?;
            println!("alias {a} added");
        }
        AliasCmd::Remove { alias } => {
            store
                .alias_remove(&alias, config.policy.quarantine.std())
                .await
                .map_err(e)?;
            println!("alias {alias} removed");
        }
    }
    Ok(())
}
