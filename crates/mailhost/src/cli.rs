//! The admin command line (SPEC "Interface contract"). Every command calls
//! the store's service layer; errors go to stderr with exit status 1 and
//! leave the store unchanged.

use clap::{Parser, Subcommand};
use mailhost_config::{Config, Size};
use mailhost_store::Store;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mailhost", version, about = "Mail hosting server with the provider's acceptable-use policy built in")]
pub struct Args {
    /// TOML configuration file; without it the defaults apply.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every configured service.
    Serve,
    /// Hosted domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Mailboxes.
    #[command(subcommand)]
    User(UserCmd),
    /// Aliases that deliver to hosted mailboxes.
    #[command(subcommand)]
    Alias(AliasCmd),
    /// The outbound queue.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand)]
pub enum QueueCmd {
    /// Every queued recipient: id, age, attempts, sender, recipient, last error.
    List,
    /// Makes every queued message due for delivery now.
    Flush,
}

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
    Remove { domain: String },
    /// The DNS records to publish: MX, SPF, DKIM, DMARC. Makes the DKIM key
    /// if the domain has none yet.
    Dns { domain: String },
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
    Suspend { address: String },
    Resume { address: String },
    Delete { address: String },
    List { domain: String },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArg {
    #[arg(long)]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
pub enum AliasCmd {
    Add {
        alias: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    Remove { alias: String },
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Validate the configuration and print the effective store URL.
    Check,
}

fn password(p: PasswordArg) -> Result<String, String> {
    match p.password {
        Some(pw) => Ok(pw),
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

pub fn run(config: Config, cmd: Command) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailhost: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(exec(config, cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailhost: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The domain's DKIM key, made (RFC 6376, `dkim.rsa_bits`) if it has none.
async fn dkim_key(config: &Config, store: &Store, domain: &str) -> Result<mailhost_store::DkimKey, String> {
    if let Some(k) = store.dkim_key(domain).await.map_err(|e| e.to_string())? {
        return Ok(k);
    }
    let key = new_dkim_key(config, domain).await?;
    store.dkim_key_set(&key).await.map_err(|e| e.to_string())?;
    Ok(key)
}

async fn new_dkim_key(config: &Config, domain: &str) -> Result<mailhost_store::DkimKey, String> {
    let (d, sel, bits) = (domain.to_string(), config.dkim.selector.clone(), config.dkim.rsa_bits);
    tokio::task::spawn_blocking(move || mailhost_mailauth::generate_key(&d, &sel, bits))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("DKIM key for {domain}: {e}"))
}

async fn open(config: &Config) -> Result<Store, String> {
    Store::open(&config.store_url()).await.map_err(|e| e.to_string())
}

async fn exec(config: Config, cmd: Command) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    match cmd {
        Command::Serve => unreachable!("handled in main"),
        Command::Queue(q) => {
            let store = open(&config).await?;
            match q {
                QueueCmd::List => {
                    let now = mailhost_store::now_ms();
                    for i in store.queue_list().await.map_err(e)? {
                        let sender = if i.sender.is_empty() { "<>" } else { &i.sender };
                        println!(
                            "{}\t{}s\t{}\t{}\t{}\t{}",
                            i.id,
                            (now - i.created_at) / 1000,
                            i.attempts,
                            sender,
                            i.rcpt,
                            i.last_error.as_deref().unwrap_or("-")
                        );
                    }
                }
                QueueCmd::Flush => {
                    let n = store.queue_flush().await.map_err(e)?;
                    println!("{n} queued recipient(s) due now");
                }
            }
        }
        Command::Config(ConfigCmd::Check) => {
            println!("configuration OK; store: {}", config.store_url());
        }
        Command::Domain(d) => {
            let store = open(&config).await?;
            match d {
                DomainCmd::Add { domain, contact, package } => {
                    // The key is made first (the slow, fallible step), so a
                    // failure leaves no domain behind.
                    let name = mailhost_store::address::normalize_domain(&domain).map_err(e)?;
                    let key = new_dkim_key(&config, &name).await?;
                    let name = store.domain_add(&name, &contact, package.as_deref()).await.map_err(e)?;
                    store.dkim_key_set(&key).await.map_err(e)?;
                    println!("domain {name} added; publish its records: mailhost domain dns {name}");
                }
                DomainCmd::Dns { domain } => {
                    let name = mailhost_store::address::normalize_domain(&domain).map_err(e)?;
                    if !store.is_hosted(&name).await.map_err(e)? {
                        return Err(format!("no such domain: {name}"));
                    }
                    let key = dkim_key(&config, &store, &name).await?;
                    print!("{}", mailhost_mailauth::dns_records(&name, &config.server.hostname, Some(&key)));
                }
                DomainCmd::List => {
                    for d in store.domain_list().await.map_err(e)? {
                        println!("{}\t{}\t{}\t{}", d.name, d.contact, d.package.as_deref().unwrap_or("-"), d.addresses);
                    }
                }
                DomainCmd::Remove { domain } => {
                    store.domain_remove(&domain).await.map_err(e)?;
                    println!("domain {domain} removed");
                }
            }
        }
        Command::User(u) => {
            // Read the password before opening the store, so a bad invocation
            // touches nothing.
            let store_needed = open(&config);
            match u {
                UserCmd::Add { address, password: p, quota, package } => {
                    let quota = quota
                        .map(|q| Size::parse(&q).map(|s| s.0))
                        .transpose()
                        .map_err(|m| format!("--quota: {m}"))?;
                    let pw = password(p)?;
                    let store = store_needed.await?;
                    let a = store.user_add(&address, &pw, quota, package.as_deref()).await.map_err(e)?;
                    println!("mailbox {a} added");
                }
                UserCmd::Passwd { address, password: p } => {
                    let pw = password(p)?;
                    store_needed.await?.user_passwd(&address, &pw).await.map_err(e)?;
                    println!("password changed");
                }
                UserCmd::Suspend { address } => {
                    store_needed.await?.user_set_suspended(&address, true).await.map_err(e)?;
                    println!("{address} suspended");
                }
                UserCmd::Resume { address } => {
                    store_needed.await?.user_set_suspended(&address, false).await.map_err(e)?;
                    println!("{address} resumed");
                }
                UserCmd::Delete { address } => {
                    store_needed.await?.user_delete(&address).await.map_err(e)?;
                    println!("{address} deleted");
                }
                UserCmd::List { domain } => {
                    for a in store_needed.await?.user_list(&domain).await.map_err(e)? {
                        let status = if a.suspended { "suspended" } else { "active" };
                        let detail = if a.kind == "alias" {
                            format!("-> {}", a.targets.join(", "))
                        } else {
                            format!("{} messages, {} bytes", a.messages, a.bytes)
                        };
                        println!("{}\t{}\t{}\t{}", a.address, a.kind, status, detail);
                    }
                }
            }
        }
        Command::Alias(a) => {
            let store = open(&config).await?;
            match a {
                AliasCmd::Add { alias, targets } => {
                    let a = store.alias_add(&alias, &targets).await.map_err(e)?;
                    println!("alias {a} added");
                }
                AliasCmd::Remove { alias } => {
                    store.alias_remove(&alias).await.map_err(e)?;
                    println!("alias {alias} removed");
                }
            }
        }
    }
    Ok(())
}
