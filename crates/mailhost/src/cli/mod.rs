//! The admin command line (SPEC "Interface contract"). Every command calls
//! the service layer (`mailhost-admin`) as the operator and only prints
//! what it returns; errors go to stderr with exit status 1 and leave the
//! store unchanged.

mod addresses;
mod lists;
mod logins;
mod operator;
mod services;

use addresses::{AliasCmd, DomainCmd, UserCmd};
use clap::{Parser, Subcommand};
use logins::{AdminCmd, AuditArgs, NoticeCmd, TokenCmd};
use mailhost_admin::{Admin, Caller};
use mailhost_config::Config;
use mailhost_store::Store;
use operator::{EvidenceArgs, HoldCmd, PackageCmd, QueueCmd};
use services::{AutoreplyCmd, BillingArgs, ForwardCmd};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    /// Mailing lists: confirmed opt-in with a consent ledger (R-LIST-1..6).
    #[command(subcommand)]
    List(lists::ListCmd),
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
    /// Operator and domain-admin logins for the panels and API (R-WEB-5).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// API tokens (`Authorization: Bearer …`).
    #[command(subcommand)]
    Token(TokenCmd),
    /// The notice board: policy amendments mailed to every postmaster@
    /// (R-ABUSE-5).
    #[command(subcommand)]
    Notice(NoticeCmd),
    /// The audit log of admin actions, newest first.
    Audit(AuditArgs),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
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

fn password(p: &PasswordArg) -> Result<String, String> {
    match &p.password {
        Some(pw) => Ok(pw.clone()),
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

/// The service layer on the configured store, and the operator's
/// caller.
async fn admin(config: Config) -> Result<(Admin, Caller), String> {
    let store = Store::open(&config.store_url())
        .await
        .map_err(|e| e.to_string())?;
    store.set_default_quota(config.policy.quota.0);
    Ok((Admin::new(store, Arc::new(config)), Caller::cli()))
}

/// Prints one JSON value per line (`--format json`).
fn print_json<T: serde::Serialize>(v: &T) -> Result<(), String> {
    println!("{}", serde_json::to_string(v).map_err(|e| e.to_string())?);
    Ok(())
}

async fn exec(config: Config, cmd: Command) -> Result<(), String> {
    match cmd {
        Command::Serve { .. } => unreachable!("handled in main"),
        Command::Config(ConfigCmd::Check) => {
            println!("configuration OK; store: {}", config.store_url());
        }
        Command::Domain(d) => addresses::domain(config, d).await?,
        Command::User(u) => addresses::user(config, u).await?,
        Command::Alias(a) => addresses::alias(config, a).await?,
        Command::Forward(f) => services::forward(config, f).await?,
        Command::Autoreply(a) => services::autoreply(config, a).await?,
        Command::List(l) => lists::list(config, l).await?,
        Command::Billing(b) => services::billing(config, b).await?,
        Command::Queue(q) => operator::queue(config, q).await?,
        Command::Hold(h) => operator::hold(config, h).await?,
        Command::Package(p) => operator::package(config, p).await?,
        Command::Evidence(e) => operator::evidence(config, e).await?,
        Command::Admin(a) => logins::admins(config, a).await?,
        Command::Token(t) => logins::token(config, t).await?,
        Command::Notice(n) => logins::notice(config, n).await?,
        Command::Audit(a) => logins::audit(config, a).await?,
    }
    Ok(())
}
