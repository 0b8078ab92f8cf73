//! The admin command line (SPEC "Interface contract"). Every command calls
//! the store's service layer; errors go to stderr with exit status 1 and
//! leave the store unchanged.

mod addresses;
mod services;

use addresses::{AliasCmd, DomainCmd, UserCmd};
use clap::{Parser, Subcommand};
use mailhost_config::{Config, Size};
use mailhost_store::Store;
use services::{AutoreplyCmd, BillingArgs, ForwardCmd};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mailhost",
    version,
    about = "Mail hosting server with the provider's acceptable-use policy built in"
)]
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
    Serve {
        /// Log format on stderr: `text` (one line per event, coloured only
        /// on a terminal) or `json` (one object per line, for log
        /// collectors). Overrides `server.log_format`.
        #[arg(long, value_parser = ["text", "json"])]
        log_format: Option<String>,
    },
    /// Hosted domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Mailboxes.
    #[command(subcommand)]
    User(UserCmd),
    /// Aliases that deliver to hosted mailboxes.
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Forwarding of a mailbox (R-IN-4).
    #[command(subcommand)]
    Forward(ForwardCmd),
    /// The autoresponder of a mailbox (R-IN-5).
    #[command(subcommand)]
    Autoreply(AutoreplyCmd),
    /// Billable addresses per domain (R-ADDR-8).
    Billing(BillingArgs),
    /// The outbound queue.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Holds on accounts (R-ABUSE-1).
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Hosting packages: limits that override `[policy]` for the domains
    /// and mailboxes placed in them.
    #[command(subcommand)]
    Package(PackageCmd),
    /// The evidence log of policy decisions (R-ABUSE-3).
    Evidence(EvidenceArgs),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
}

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

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArg {
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
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
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
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

/// A JSON string literal (RFC 8259 §7).
fn json(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `--since`: an age such as "2h", or an RFC 3339 time with offset.
fn parse_since(s: &str) -> Result<i64, String> {
    parse_time("--since", s)
}

/// `--since` or `--until`: an age such as "2h" (that long ago), or an RFC
/// 3339 time with offset.
fn parse_time(flag: &str, s: &str) -> Result<i64, String> {
    if let Ok(d) = mailhost_config::Duration::parse(s) {
        return Ok(mailhost_store::now_ms() - d.std().as_millis() as i64);
    }
    let bad = || {
        format!("{flag} {s:?}: expected an age (\"2h\") or a time like 2026-11-22T18:00:00+00:00")
    };
    let (date, time) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(day)), None) = (d.next(), d.next(), d.next(), d.next())
    else {
        return Err(bad());
    };
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else {
        let p = time.rfind(['+', '-']).ok_or_else(bad)?;
        let (c, off) = time.split_at(p);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').ok_or_else(bad)?;
        (
            c,
            sign * (oh.parse::<i64>().map_err(|_| bad())? * 3600
                + om.parse::<i64>().map_err(|_| bad())? * 60),
        )
    };
    let mut t = clock.split(':').map(|x| x.parse::<i64>());
    let (Some(Ok(hh)), Some(Ok(mm)), ss) = (t.next(), t.next(), t.next()) else {
        return Err(bad());
    };
    let ss = ss.map(|r| r.map_err(|_| bad())).transpose()?.unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // days_from_civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + hh * 3600 + mm * 60 + ss - offset) * 1000)
}

/// The domain's DKIM key, made (RFC 6376, `dkim.rsa_bits`) if it has none.
async fn dkim_key(
    config: &Config,
    store: &Store,
    domain: &str,
) -> Result<mailhost_store::DkimKey, String> {
    if let Some(k) = store.dkim_key(domain).await.map_err(|e| e.to_string())? {
        return Ok(k);
    }
    let key = new_dkim_key(config, domain).await?;
    store.dkim_key_set(&key).await.map_err(|e| e.to_string())?;
    Ok(key)
}

async fn new_dkim_key(config: &Config, domain: &str) -> Result<mailhost_store::DkimKey, String> {
    let (d, sel, bits) = (
        domain.to_string(),
        config.dkim.selector.clone(),
        config.dkim.rsa_bits,
    );
    tokio::task::spawn_blocking(move || mailhost_mailauth::generate_key(&d, &sel, bits))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("DKIM key for {domain}: {e}"))
}

async fn open(config: &Config) -> Result<Store, String> {
    let store = Store::open(&config.store_url())
        .await
        .map_err(|e| e.to_string())?;
    store.set_default_quota(config.policy.quota.0);
    Ok(store)
}

async fn exec(config: Config, cmd: Command) -> Result<(), String> {
    let e = |e: mailhost_store::StoreError| e.to_string();
    match cmd {
        Command::Serve { .. } => unreachable!("handled in main"),
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
        Command::Hold(h) => {
            let store = open(&config).await?;
            match h {
                HoldCmd::List => {
                    for h in store.hold_list().await.map_err(e)? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            h.account,
                            h.rule,
                            mailhost_policy::rfc3339(h.started),
                            mailhost_policy::rfc3339(h.ends),
                            h.reason
                        );
                    }
                }
                HoldCmd::Release { address } => {
                    let n = store
                        .hold_release(&address.to_ascii_lowercase())
                        .await
                        .map_err(e)?;
                    if n == 0 {
                        return Err(format!("{address} is not on hold"));
                    }
                    println!("{address}: {n} hold(s) released");
                }
            }
        }
        Command::Package(p) => {
            let store = open(&config).await?;
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            match p {
                PackageCmd::Set {
                    name,
                    hourly_limit,
                    quota,
                    max_forwards,
                } => {
                    let quota = quota
                        .map(|q| Size::parse(&q).map(|s| s.0 as i64))
                        .transpose()
                        .map_err(|m| format!("--quota: {m}"))?;
                    let p = store
                        .package_set(
                            &name,
                            hourly_limit.map(i64::from),
                            quota,
                            max_forwards.map(i64::from),
                        )
                        .await
                        .map_err(e)?;
                    println!(
                        "package {}: hourly limit {}, quota {}, max forwards {}",
                        p.name,
                        show(p.hourly_limit),
                        show(p.quota),
                        show(p.max_forwards)
                    );
                    if quota.is_some() {
                        // Allowed, but those mailboxes take no new mail
                        // until they fit (R-IN-3).
                        for u in store.package_overruns(&p.name).await.map_err(e)? {
                            eprintln!(
                                "mailhost: warning: {} uses {} bytes, more than the new quota of {}: new mail is refused until it fits (R-IN-3)",
                                u.address, u.used, u.quota
                            );
                        }
                    }
                }
                PackageCmd::List => {
                    for p in store.package_list().await.map_err(e)? {
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
        }
        Command::Evidence(a) => {
            let store = open(&config).await?;
            if let Some(EvidenceCmd::Export { id }) = a.export {
                let Some(ev) = store.evidence_get(id).await.map_err(e)? else {
                    return Err(format!("no evidence record {id}"));
                };
                let Some(h) = ev.headers else {
                    return Err(format!("evidence record {id} concerns no message"));
                };
                use std::io::Write;
                std::io::stdout().write_all(&h).map_err(|e| e.to_string())?;
                return Ok(());
            }
            let since = a.since.as_deref().map(parse_since).transpose()?;
            let until = a
                .until
                .as_deref()
                .map(|u| parse_time("--until", u))
                .transpose()?;
            let q = mailhost_store::EvidenceQuery {
                account: a.account.map(|s| s.to_ascii_lowercase()),
                ip: a.ip,
                rule: a.rule,
                since,
                until,
                limit: 1000,
            };
            for r in store.evidence_search(&q).await.map_err(e)? {
                match a.format {
                    Format::Table => println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        r.id,
                        mailhost_policy::rfc3339(r.at),
                        r.ip,
                        r.account.as_deref().unwrap_or("-"),
                        r.rule,
                        r.decision,
                        r.queue_id.as_deref().unwrap_or("-"),
                        r.message_id.as_deref().unwrap_or("-"),
                        r.reply
                    ),
                    Format::Json => println!(
                        "{{\"id\":{},\"time\":{},\"ip\":{},\"account\":{},\"rule\":{},\"decision\":{},\"service\":{},\"queue_id\":{},\"message_id\":{},\"reply\":{}}}",
                        r.id,
                        json(&mailhost_policy::rfc3339(r.at)),
                        json(&r.ip),
                        r.account.as_deref().map_or("null".into(), json),
                        json(&r.rule),
                        json(&r.decision),
                        json(&r.service),
                        r.queue_id.as_deref().map_or("null".into(), json),
                        r.message_id.as_deref().map_or("null".into(), json),
                        json(&r.reply)
                    ),
                }
            }
        }
        Command::Config(ConfigCmd::Check) => {
            println!("configuration OK; store: {}", config.store_url());
        }
        Command::Domain(d) => addresses::domain(config, d).await?,
        Command::User(u) => addresses::user(config, u).await?,
        Command::Alias(a) => addresses::alias(config, a).await?,
        Command::Forward(f) => services::forward(config, f).await?,
        Command::Autoreply(a) => services::autoreply(config, a).await?,
        Command::Billing(b) => services::billing(config, b).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_parses_times_and_ages() {
        assert_eq!(
            super::parse_since("2026-11-22T17:07:41+00:00").unwrap(),
            1_795_367_261_000
        );
        assert_eq!(
            super::parse_since("2026-11-22T19:07:41+02:00").unwrap(),
            1_795_367_261_000
        );
        assert_eq!(
            super::parse_since("2026-11-22T17:07:41Z").unwrap(),
            1_795_367_261_000
        );
        assert!(super::parse_since("1h").unwrap() <= mailhost_store::now_ms() - 3_600_000);
        for bad in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22",
            "2026-11-22T25:00:00Z",
        ] {
            assert!(super::parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_escapes() {
        assert_eq!(super::json("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
