//! Domains, mailboxes and aliases (SPEC "Command line").

use super::{admin, password, PasswordArg};
use clap::Subcommand;
use mailhost_admin::{NewUser, PageReq, UserPatch};
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

/// A size flag: "50MB", "512KB" or bytes.
pub(super) fn size(flag: &str, v: &str) -> Result<u64, String> {
    Size::parse(v)
        .map(|s| s.0)
        .map_err(|m| format!("{flag}: {m}"))
}

pub async fn domain(config: Config, d: DomainCmd) -> Result<(), String> {
    let (a, c) = admin(config).await?;
    match d {
        DomainCmd::Add {
            domain,
            contact,
            package,
        } => {
            let d = a
                .domain_add(&c, &domain, &contact, package.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "domain {} added; publish its records: mailhost domain dns {}",
                d.domain, d.domain
            );
        }
        DomainCmd::Dns { domain } => {
            for r in a.domain_dns(&c, &domain).await.map_err(|e| e.to_string())? {
                println!("{}", r.zone);
            }
        }
        DomainCmd::List => {
            let mut p = PageReq::all();
            loop {
                let page = a.domain_list(&c, &p).await.map_err(|e| e.to_string())?;
                for d in page.items {
                    println!(
                        "{}\t{}\t{}\t{}",
                        d.domain,
                        d.contact,
                        d.package.as_deref().unwrap_or("-"),
                        d.addresses
                    );
                }
                match page.next {
                    Some(n) => p.cursor = Some(n),
                    None => break,
                }
            }
        }
        DomainCmd::Set {
            domain,
            contact,
            package,
        } => {
            a.domain_set(&c, &domain, contact.as_deref(), package.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!("domain {domain} updated");
        }
        DomainCmd::Remove { domain } => {
            a.domain_remove(&c, &domain)
                .await
                .map_err(|e| e.to_string())?;
            println!("domain {domain} removed");
        }
    }
    Ok(())
}

pub async fn user(config: Config, u: UserCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    // Read the password before opening the store, so a bad invocation
    // touches nothing.
    let pw = match &u {
        UserCmd::Add { password: p, .. } | UserCmd::Passwd { password: p, .. } => {
            Some(password(p)?)
        }
        _ => None,
    }
    .unwrap_or_default();
    let (a, c) = admin(config).await?;
    match u {
        UserCmd::Add {
            address,
            password: _,
            quota,
            package,
        } => {
            let quota = quota.map(|q| size("--quota", &q)).transpose()?;
            let u = a
                .user_add(
                    &c,
                    NewUser {
                        address,
                        password: pw,
                        quota,
                        package,
                    },
                )
                .await
                .map_err(e)?;
            println!("mailbox {} added", u.address);
        }
        UserCmd::Passwd {
            address,
            password: _,
        } => {
            a.user_passwd(&c, &address, &pw, None).await.map_err(e)?;
            println!("password changed");
        }
        UserCmd::Suspend { address } => {
            a.user_update(&c, &address, suspend(true))
                .await
                .map_err(e)?;
            println!("{address} suspended");
        }
        UserCmd::Resume { address } => {
            a.user_update(&c, &address, suspend(false))
                .await
                .map_err(e)?;
            println!("{address} resumed");
        }
        UserCmd::Delete { address } => {
            a.user_delete(&c, &address).await.map_err(e)?;
            println!("{address} deleted");
        }
        UserCmd::Quota { address, set } => {
            if let Some(v) = set.as_deref() {
                let quota = if v == "default" {
                    None
                } else {
                    Some(size("--set", v)?)
                };
                let patch = UserPatch {
                    quota: Some(quota),
                    ..Default::default()
                };
                a.user_update(&c, &address, patch).await.map_err(e)?;
            }
            let q = a.user_quota(&c, &address).await.map_err(e)?;
            if set.is_some() && q.used > q.quota {
                eprintln!(
                    "mailhost: warning: {} uses {} bytes, more than its new quota of {}: new mail is refused until it fits (R-IN-3)",
                    q.address, q.used, q.quota
                );
            }
            println!(
                "{}: {} of {} bytes ({}%), {} messages",
                q.address, q.used, q.quota, q.percent, q.messages
            );
        }
        UserCmd::List { domain } => {
            let mut p = PageReq::all();
            loop {
                let page = a.user_list(&c, &domain, &p).await.map_err(e)?;
                for u in &page.items {
                    let status = if u.suspended { "suspended" } else { "active" };
                    let detail = match u.kind.as_str() {
                        "alias" | "postmaster" => format!("-> {}", u.targets.join(", ")),
                        "all" => "-> every active mailbox".to_string(),
                        _ => format!(
                            "{} messages, {} of {} bytes ({}%)",
                            u.messages,
                            u.quota_used,
                            u.quota,
                            u.percent()
                        ),
                    };
                    println!("{}\t{}\t{}\t{}", u.address, u.kind, status, detail);
                }
                match page.next {
                    Some(n) => p.cursor = Some(n),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

fn suspend(s: bool) -> UserPatch {
    UserPatch {
        suspended: Some(s),
        ..Default::default()
    }
}

pub async fn alias(config: Config, cmd: AliasCmd) -> Result<(), String> {
    let (a, c) = admin(config).await?;
    match cmd {
        AliasCmd::Add { alias, targets } => {
            let al = a
                .alias_add(&c, &alias, &targets)
                .await
                .map_err(|e| e.to_string())?;
            println!("alias {} added", al.alias);
        }
        AliasCmd::Remove { alias } => {
            a.alias_remove(&c, &alias)
                .await
                .map_err(|e| e.to_string())?;
            println!("alias {alias} removed");
        }
    }
    Ok(())
}
