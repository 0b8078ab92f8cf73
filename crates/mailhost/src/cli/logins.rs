//! Admin logins, API tokens, the notice board and the audit log.

use super::{password, print_json, PasswordArg};
use clap::Subcommand;
use mailhost_admin::PageReq;
use mailhost_config::Config;

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Adds an operator or the admin of one or more domains. Without a
    /// password, a one-time one is printed, to be changed at first
    /// sign-in.
    Add {
        login: String,
        #[arg(long, conflicts_with = "domain", required_unless_present = "domain")]
        operator: bool,
        #[arg(long, num_args = 1..)]
        domain: Vec<String>,
        #[command(flatten)]
        password: OptionalPassword,
    },
    /// Logins: name, role, domains.
    List,
    Remove {
        login: String,
    },
    /// Sets a login's password; it must be changed at the next sign-in.
    Passwd {
        login: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Turns off the two-step sign-in of an admin login or a mailbox
    /// (`local@domain`), for someone who lost their phone and recovery
    /// codes.
    TotpOff {
        login: String,
    },
}

#[derive(clap::Args)]
#[group(required = false, multiple = false)]
pub struct OptionalPassword {
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Makes an API token for an admin login or a mailbox address and
    /// prints it, once.
    Create {
        login: String,
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. "90d"; without it the token lasts until revoked.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Tokens (of one login): id, login, name, created, expires, last use.
    List {
        login: Option<String>,
    },
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum NoticeCmd {
    /// Publishes a policy amendment: on every panel, and mailed once to
    /// every domain's postmaster@.
    Publish {
        #[arg(long)]
        title: String,
        #[arg(
            long,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        #[arg(long)]
        body_file: Option<std::path::PathBuf>,
    },
    /// Notices, newest first.
    List,
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Only actions by this login (`cli` for the command line).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only actions on this object (an address, domain or login).
    #[arg(long)]
    pub object: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

fn dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

pub async fn admins(config: Config, cmd: AdminCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    match cmd {
        AdminCmd::Add {
            login,
            operator,
            domain,
            password: p,
        } => {
            let pw = match (p.password, p.password_stdin) {
                (Some(pw), _) => Some(pw),
                (None, true) => Some(password(&PasswordArg {
                    password: None,
                    password_stdin: true,
                })?),
                (None, false) => None,
            };
            let (a, c) = super::admin(config).await?;
            let (l, one_time) = a
                .admin_add(&c, &login, operator, &domain, pw.as_deref())
                .await
                .map_err(e)?;
            println!("admin login {} added ({})", l.login, l.role);
            if let Some(pw) = one_time {
                println!("one-time password (change it at first sign-in): {pw}");
            }
        }
        AdminCmd::List => {
            let (a, c) = super::admin(config).await?;
            for l in a.admin_list(&c).await.map_err(e)? {
                let domains = l.domains.join(",");
                println!(
                    "{}\t{}\t{}\t{}",
                    l.login,
                    l.role,
                    if domains.is_empty() { "-" } else { &domains },
                    l.created
                );
            }
        }
        AdminCmd::Remove { login } => {
            let (a, c) = super::admin(config).await?;
            a.admin_remove(&c, &login).await.map_err(e)?;
            println!("admin login {login} removed");
        }
        AdminCmd::Passwd { login, password: p } => {
            let pw = password(&p)?;
            let (a, c) = super::admin(config).await?;
            a.admin_passwd(&c, &login, &pw, None).await.map_err(e)?;
            println!("password of {login} set; it must be changed at the next sign-in");
        }
        AdminCmd::TotpOff { login } => {
            let (a, c) = super::admin(config).await?;
            a.totp_reset(&c, &login).await.map_err(e)?;
            println!("two-step sign-in of {login} turned off");
        }
    }
    Ok(())
}

pub async fn token(config: Config, cmd: TokenCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    match cmd {
        TokenCmd::Create {
            login,
            name,
            expires,
        } => {
            let ttl = expires
                .as_deref()
                .map(|d| {
                    mailhost_config::Duration::parse(d)
                        .map(|d| d.std().as_millis() as i64)
                        .map_err(|m| format!("--expires: {m}"))
                })
                .transpose()?;
            let (a, c) = super::admin(config).await?;
            let t = a
                .token_create(&c, &login, name.as_deref(), ttl)
                .await
                .map_err(e)?;
            // The secret alone on stdout, for scripts; the rest on stderr.
            eprintln!(
                "token {} for {} ({}); it is shown only now",
                t.token.id, t.token.login, t.token.name
            );
            println!("{}", t.secret);
        }
        TokenCmd::List { login } => {
            let (a, c) = super::admin(config).await?;
            for t in a.token_list(&c, login.as_deref()).await.map_err(e)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.login,
                    t.name,
                    t.created,
                    dash(t.expires.as_deref()),
                    dash(t.last_used.as_deref()),
                    dash(t.last_ip.as_deref())
                );
            }
        }
        TokenCmd::Revoke { id } => {
            let (a, c) = super::admin(config).await?;
            a.token_revoke(&c, id).await.map_err(e)?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

pub async fn notice(config: Config, cmd: NoticeCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    match cmd {
        NoticeCmd::Publish {
            title,
            body,
            body_file,
        } => {
            let body = match (body, body_file) {
                (Some(b), _) => b,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| format!("--body-file {}: {e}", f.display()))?,
                (None, None) => unreachable!("clap requires one"),
            };
            let (a, c) = super::admin(config).await?;
            let n = a.notice_publish(&c, &title, &body).await.map_err(e)?;
            println!("notice {} published {}", n.id, n.published);
        }
        NoticeCmd::List => {
            let (a, c) = super::admin(config).await?;
            let mut p = PageReq::all();
            loop {
                let page = a.notice_list(&c, &p).await.map_err(e)?;
                for n in page.items {
                    println!("{}\t{}\t{}\t{}", n.id, n.published, n.author, n.title);
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

pub async fn audit(config: Config, args: AuditArgs) -> Result<(), String> {
    let (a, c) = super::admin(config).await?;
    let mut p = PageReq::all();
    let mut left = args.limit;
    while left > 0 {
        p.limit = Some(left.min(mailhost_admin::MAX_PAGE));
        let page = a
            .audit_list(&c, args.actor.as_deref(), args.object.as_deref(), &p)
            .await
            .map_err(|e| e.to_string())?;
        left -= page.items.len();
        for r in page.items {
            if args.json {
                print_json(&r)?;
            } else {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{} -> {}",
                    r.id,
                    r.time,
                    r.actor,
                    dash(r.ip.as_deref()),
                    r.action,
                    r.object,
                    dash(r.before.as_deref()),
                    dash(r.after.as_deref())
                );
            }
        }
        match page.next {
            Some(n) => p.cursor = Some(n),
            None => break,
        }
    }
    Ok(())
}
