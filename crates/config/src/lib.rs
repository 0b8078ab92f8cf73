//! mailhost configuration.
//!
//! Layout: [`Config`] holds one typed struct per TOML section of the SPEC's
//! interface contract (`[server]`, `[store]`, `[listen]`, `[tls]`,
//! `[delivery]`, `[policy]`, `[lists]`, `[antivirus]`). Every key is
//! optional; unknown keys are errors that name the key. Durations
//! (`"90s"`, `"14d"`) and sizes (`"25MB"`) are parsed by [`Duration`] and
//! [`Size`]. Environment variables `MAILHOST_SECTION__KEY` override the file
//! ([`Config::load`]).
//!
//! Every other crate receives the parts it needs from here; nothing else
//! reads the environment or the file.

mod units;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use units::{Duration, Size};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config: {0}")]
    Invalid(String),
}

/// The whole configuration. Field names are the contract: add, never rename.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub store: Store,
    pub listen: Listen,
    pub tls: Tls,
    pub delivery: Delivery,
    pub policy: Policy,
    pub lists: Lists,
    pub antivirus: Antivirus,
    pub limits: Limits,
    pub dkim: Dkim,
    pub smtp: Smtp,
    pub web: Web,
}

/// The panels (R-WEB-5).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Web {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_lifetime: Duration,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            session_idle: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// SMTP reception, port 25 and submission alike.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Smtp {
    /// A bare LF in message data: `"normalize"` (default) takes it as a
    /// line end and stores CRLF; `"reject"` refuses the message (554
    /// 5.6.0). Only `<CRLF>.<CRLF>` ever ends the data, and a bare CR is
    /// refused either way (RFC 5321 §2.3.8).
    pub bare_lf: BareLf,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BareLf {
    #[default]
    Normalize,
    Reject,
}

/// How `serve` writes its log to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event, `key=value` fields; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Host name used in greetings, Received headers and Message-IDs.
    pub hostname: String,
    /// Directory for the embedded store, TLS pair and other local state.
    pub data_dir: PathBuf,
    /// Time zone of the policy clock (off-peak windows).
    pub timezone: String,
    /// Largest message accepted or sent (R-IN-2); advertised with SIZE.
    pub max_message_size: Size,
    /// Name of this node when several share one PostgreSQL store; locks
    /// held by a node are released when it starts again.
    pub node: String,
    /// How long SIGTERM waits for open sessions before exiting.
    pub shutdown_grace: Duration,
    /// Free space kept in `data_dir` (as Postfix's `queue_minfree`): below
    /// it new mail is refused with 452 4.3.1, so that logins, deletions
    /// and admin commands still have room to work. Absent: twice
    /// `max_message_size`, and at least 1% of the file system.
    pub min_free_space: Option<Size>,
    /// `text` or `json`; `serve --log-format` overrides it.
    pub log_format: LogFormat,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            hostname: default_hostname(),
            data_dir: PathBuf::from("./data"),
            timezone: "Africa/Johannesburg".into(),
            max_message_size: Size(25 * 1024 * 1024),
            node: String::new(),
            shutdown_grace: Duration::from_secs(10),
            min_free_space: None,
            log_format: LogFormat::Text,
        }
    }
}

fn default_hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Store {
    /// `sqlite://PATH` or `postgres://user:pw@host/db`. Empty: SQLite in
    /// `data_dir/mailhost.db`.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// SMTP (MX role). "" disables the listener.
    pub smtp: String,
    pub submission: String,
    pub submissions: String,
    pub pop3: String,
    pub pop3s: String,
    /// IMAP with STARTTLS (R-POP-5).
    pub imap: String,
    /// IMAP over implicit TLS (RFC 8314).
    pub imaps: String,
    /// Panels and API, plain HTTP (behind a proxy that terminates TLS).
    pub http: String,
    /// Panels and API over TLS with the server's certificate.
    pub https: String,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            smtp: "0.0.0.0:25".into(),
            submission: "0.0.0.0:587".into(),
            submissions: "0.0.0.0:465".into(),
            pop3: "0.0.0.0:110".into(),
            pop3s: "0.0.0.0:995".into(),
            imap: "0.0.0.0:143".into(),
            imaps: "0.0.0.0:993".into(),
            http: "127.0.0.1:8080".into(),
            https: "0.0.0.0:8443".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain. Absent: a self-signed pair is made in data_dir.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Static next hops by recipient domain (smarthost, tests): "host:port".
    /// The key "*" routes every remote domain (smarthost).
    pub routes: BTreeMap<String, String>,
    /// DNS server for MX, SPF, DKIM and DMARC lookups ("127.0.0.1:5353").
    /// Empty: the system's resolvers (/etc/resolv.conf).
    pub dns_server: String,
    /// One DNS query's wait for an answer, for the SPF/DKIM/DMARC checks.
    pub dns_timeout: Duration,
    /// Bound on all the SPF, DKIM and DMARC checks of one received message
    /// (R-IN-6); what is unfinished then is `temperror`, and the message is
    /// accepted. RFC 7208 §4.6.4 allows SPF 20 s, but the client waits for
    /// its 250 meanwhile.
    pub verify_timeout: Duration,
    /// Port used for hosts found by MX lookup (25; tests use another).
    pub mx_port: u16,
    /// Name sent in EHLO; empty: server.hostname.
    pub helo: String,
    /// First retry interval; each next one doubles, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A message still undelivered after this long bounces (RFC 5321
    /// §4.5.4.1 suggests 4-5 days).
    pub max_queue_time: Duration,
    /// A delay DSN (RFC 3464) is sent once after this long.
    pub delay_warning: Duration,
    pub connect_timeout: Duration,
    /// Per SMTP command and reply (RFC 5321 §4.5.3.2 has per-command
    /// values; one bound keeps it simple and is at least as strict).
    pub command_timeout: Duration,
    /// Connections at once to one destination domain.
    pub per_domain: u32,
    /// Outbound connections at once in all.
    pub max_connections: u32,
    /// How long a connection stays open after its last message, for the
    /// next messages to the same host (as Postfix's connection cache,
    /// whose default is also 2s); "0s" closes each connection at once.
    pub connection_cache_time: Duration,
    /// How often the queue is scanned for due messages.
    pub poll: Duration,
    /// Messages with more Received headers than this are refused as
    /// looping (RFC 5321 §6.3).
    pub max_received: u32,
    /// R-IN-4: how long an SRS address of forwarded mail takes its bounce
    /// (whole days; at most 1023).
    pub srs_max_age: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            routes: BTreeMap::new(),
            dns_server: String::new(),
            dns_timeout: Duration::from_secs(2),
            verify_timeout: Duration::from_secs(5),
            mx_port: 25,
            helo: String::new(),
            retry_base: Duration::from_secs(5 * 60),
            retry_max: Duration::from_secs(4 * 3600),
            max_queue_time: Duration::from_secs(5 * 86400),
            delay_warning: Duration::from_secs(4 * 3600),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            per_domain: 4,
            max_connections: 64,
            connection_cache_time: Duration::from_secs(2),
            poll: Duration::from_secs(1),
            max_received: 50,
            srs_max_age: Duration::from_secs(21 * 86400),
        }
    }
}

/// DKIM signing (RFC 6376): a key per hosted domain, made on `domain add`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dkim {
    /// Selector for new keys: the record is SELECTOR._domainkey.DOMAIN.
    pub selector: String,
    /// RSA key size for new keys.
    pub rsa_bits: u32,
    /// Whether submitted mail is signed (R-OUT-9). `false` is for a
    /// provider whose outbound relay signs instead, and for comparing with
    /// servers that do not sign; keys are still made and published.
    pub sign: bool,
}

impl Default for Dkim {
    fn default() -> Self {
        Dkim {
            selector: "mailhost".into(),
            rsa_bits: 2048,
            sign: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Whether the acceptable-use rules run at all. `false` leaves only
    /// what keeps the server safe (no relay, known recipients, submission
    /// needs authentication, message size): for benchmarks and migrations.
    pub enforce: bool,
    /// R-OUT-5: recipients per message.
    pub max_recipients: u32,
    /// R-OUT-6: Max Hourly Emails per account.
    pub hourly_limit: u32,
    pub hold_duration: Duration,
    /// R-OUT-7.
    pub domain_hourly_limit: u32,
    /// R-OUT-8: distinct external recipients of similar messages per
    /// customer within `bulk_window`; `bulk_similarity` is the estimated
    /// Jaccard similarity (0..1) of two messages' shingle sets above which
    /// they count as the same content.
    pub bulk_threshold: u32,
    pub bulk_window: Duration,
    pub bulk_similarity: f64,
    /// R-POP-3.
    pub pop_logins_per_hour: u32,
    pub pop_lockout: Duration,
    /// R-ABUSE-4: failed logins (SMTP AUTH and POP3 together) tolerated
    /// within `auth_window` from one IP address and for one account, before
    /// that address or account is locked out for `auth_lockout`.
    pub auth_failures_per_ip: u32,
    pub auth_failures_per_account: u32,
    pub auth_window: Duration,
    pub auth_lockout: Duration,
    /// R-OUT-2.
    pub pop_before_smtp: Duration,
    /// R-POP-2.
    pub read_retention: Duration,
    /// R-ADDR-7.
    pub quarantine: Duration,
    /// R-IN-4.
    pub max_forwards: u32,
    /// R-IN-5.
    pub autoreply_interval: Duration,
    /// R-IN-3: default mailbox quota.
    pub quota: Size,
    /// R-POP-5: retention of mail first read over IMAP ("0s": off).
    pub imap_read_retention: Duration,
    /// R-POP-3 with R-POP-5: IMAP logins count against
    /// `pop_logins_per_hour` too (false: only POP3 logins count).
    pub imap_logins_count: bool,
    /// LOGIN and AUTHENTICATE on port 143 without STARTTLS from loopback
    /// addresses (a local webmail, benchmarks). Off by default: passwords
    /// go over TLS only (RFC 9051 §6.2.3, LOGINDISABLED).
    pub imap_plaintext_loopback: bool,
    /// R-ADDR-5: who may send to all@DOMAIN.
    pub all_from: AllFrom,
}

/// R-ADDR-5: who may send to all@DOMAIN.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllFrom {
    /// Authenticated senders of the same domain.
    #[default]
    Domain,
    /// Anyone, from anywhere.
    Anyone,
    /// Only the domain's technical contact, authenticated.
    Admin,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enforce: true,
            max_recipients: 25,
            hourly_limit: 300,
            hold_duration: Duration::from_secs(3600),
            domain_hourly_limit: 3000,
            bulk_threshold: 250,
            bulk_window: Duration::from_secs(24 * 3600),
            bulk_similarity: 0.5,
            pop_logins_per_hour: 120,
            pop_lockout: Duration::from_secs(3600),
            auth_failures_per_ip: 20,
            auth_failures_per_account: 10,
            auth_window: Duration::from_secs(15 * 60),
            auth_lockout: Duration::from_secs(15 * 60),
            pop_before_smtp: Duration::from_secs(30 * 60),
            read_retention: Duration::from_secs(14 * 86400),
            quarantine: Duration::from_secs(14 * 86400),
            max_forwards: 6,
            autoreply_interval: Duration::from_secs(7 * 86400),
            quota: Size(50 * 1024 * 1024),
            imap_read_retention: Duration::from_secs(0),
            imap_logins_count: true,
            imap_plaintext_loopback: false,
            all_from: AllFrom::Domain,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lists {
    pub offpeak_threshold: u32,
    pub max_members: u32,
    pub throttle: Duration,
    pub offpeak: Vec<String>,
    /// The panels' address as list members reach it, for the links in
    /// list mail (confirmation, one-click unsubscribe: RFC 8058 wants
    /// HTTPS). "": `https://{server.hostname}` with `listen.https`'s port.
    pub url: String,
    /// How long a confirmation link stays valid (R-LIST-1).
    pub confirm_expiry: Duration,
    /// Confirmation mails one address may be sent per day, and one client
    /// IP may cause per hour, across all lists (no mail-bombing through a
    /// list).
    pub confirm_per_address: u32,
    pub confirm_per_ip: u32,
    /// Proxies whose `X-Forwarded-For` names the client for the consent
    /// ledger; from anyone else the TCP peer is recorded.
    pub trusted_proxies: Vec<String>,
    /// `dmarc`: rewrite From only for posters whose domain publishes a
    /// DMARC policy of reject or quarantine; `always`: for every post.
    pub from_rewrite: String,
    /// List passes (X-Loop) a message may already carry.
    pub max_hops: u32,
    /// The largest post a list takes: every member gets a copy, so it is
    /// smaller than `server.max_message_size` (Sympa's default, 5 MB).
    pub max_post_size: Size,
    /// Bounce scoring (Mailman's): one bounce counted per member per
    /// `bounce_interval`, forgotten after `bounce_stale` without one; at
    /// `bounce_threshold` (a hard bounce counts 1, a soft one 0.5) the
    /// member is disabled.
    pub bounce_interval: Duration,
    pub bounce_stale: Duration,
    pub bounce_threshold: u32,
}

impl Default for Lists {
    fn default() -> Self {
        Lists {
            offpeak_threshold: 250,
            max_members: 1000,
            throttle: Duration::from_secs(6),
            offpeak: vec![
                "sat 00:00-24:00".into(),
                "sun 00:00-24:00".into(),
                "mon-fri 01:00-06:00".into(),
            ],
            url: String::new(),
            confirm_expiry: Duration::from_secs(7 * 86_400),
            confirm_per_address: 3,
            confirm_per_ip: 30,
            trusted_proxies: Vec::new(),
            from_rewrite: "dmarc".into(),
            max_hops: 1,
            max_post_size: Size(5 * 1024 * 1024),
            bounce_interval: Duration::from_secs(86_400),
            bounce_stale: Duration::from_secs(7 * 86_400),
            bounce_threshold: 5,
        }
    }
}

/// Which engine checks mail (R-AV-6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvEngine {
    /// The built-in engine on ClamAV signature files.
    #[default]
    Builtin,
    /// The ClamAV daemon (INSTREAM).
    Clamd,
}

/// What happens when clamd is down or times out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvOnError {
    /// `451 4.3.0` at DATA; queued mail is retried.
    #[default]
    Tempfail,
    /// Delivered, with `X-Virus-Scanned` saying it was not checked.
    Accept,
}

/// What happens to content that cannot be checked (over a limit,
/// unparseable, two readings that disagree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvUnscannable {
    /// Treated like infected: replaced by `DELETED<n>.TXT` (fail closed).
    #[default]
    Remove,
    /// Delivered, marked unchecked.
    Pass,
}

/// Virus checking (R-AV-1..6).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Antivirus {
    /// `builtin` or `clamd`.
    pub engine: AvEngine,
    /// clamd's address: `host:port` or a unix socket path.
    pub clamd: String,
    /// Extra `.hdb`/`.hsb`/`.ndb`/`.ldb` files for the built-in engine,
    /// reloaded when they change.
    pub signatures: PathBuf,
    pub on_error: AvOnError,
    pub unscannable: AvUnscannable,
    /// Also check text parts that are not attachments (R-AV-1 checks only
    /// attachments and non-text inline parts).
    pub scan_text_parts: bool,
    /// Unpacking limits (R-AV-2), ClamAV's defaults: containers nested at
    /// most this deep,
    pub max_depth: u32,
    /// files in one message,
    pub max_files: u32,
    /// bytes expanded in one message,
    pub max_scan_size: Size,
    /// bytes in one expanded file,
    pub max_file_size: Size,
    /// times its packed size a file may expand to (past 1 MiB),
    pub max_ratio: u32,
    /// and time spent on one message.
    pub max_scan_time: Duration,
    /// Dictionary memory one decoder (xz, 7z, RAR) may use.
    pub decoder_memory: Size,
    /// How long clamd may take for one part.
    pub clamd_timeout: Duration,
    /// Connections kept open to clamd.
    pub clamd_connections: u32,
    /// How often the signature directory is checked for changes.
    pub reload_interval: Duration,
    /// R-ABUSE-1: infected submissions from one account within an hour
    /// that put the account on hold.
    pub infected_hold: u32,
}

impl Default for Antivirus {
    fn default() -> Self {
        Antivirus {
            engine: AvEngine::Builtin,
            clamd: "127.0.0.1:3310".into(),
            signatures: PathBuf::from("./data/signatures"),
            on_error: AvOnError::Tempfail,
            unscannable: AvUnscannable::Remove,
            scan_text_parts: false,
            max_depth: 17,
            max_files: 10_000,
            max_scan_size: Size(400 << 20),
            max_file_size: Size(100 << 20),
            max_ratio: 250,
            max_scan_time: Duration(std::time::Duration::from_secs(120)),
            decoder_memory: Size(128 << 20),
            clamd_timeout: Duration(std::time::Duration::from_secs(30)),
            clamd_connections: 4,
            reload_interval: Duration(std::time::Duration::from_secs(10)),
            infected_hold: 5,
        }
    }
}

/// Protocol resource limits (an addition to the contract): they bound what
/// one client can cost the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections from one IP address, all listeners together.
    pub connections_per_ip: u32,
    /// Open connections in all.
    pub max_connections: u32,
    /// Idle time allowed while waiting for a command (RFC 5321 §4.5.3.2.7
    /// suggests 5 minutes).
    pub command_timeout: Duration,
    /// Idle time allowed between blocks of DATA (RFC 5321 §4.5.3.2.6: 3 min).
    pub data_timeout: Duration,
    /// Longest whole SMTP session.
    pub session_timeout: Duration,
    /// Invalid commands tolerated before the connection is closed.
    pub max_errors: u32,
    /// POP3 autologout timer (RFC 1939 §3: at least 10 minutes).
    pub pop3_timeout: Duration,
    /// IMAP autologout once logged in (RFC 9051 §5.4: at least 30 minutes).
    pub imap_timeout: Duration,
    /// IMAP autologout before login (RFC 9051 §5.4 allows it shorter).
    pub imap_login_timeout: Duration,
    /// How often an IDLE session hears `* OK Still here`, so that NAT
    /// boxes and firewalls keep the connection.
    pub imap_idle_keepalive: Duration,
    /// How often an IDLE or waiting session looks in the store for changes
    /// made by other nodes (changes on this node wake it at once).
    pub imap_poll: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_per_ip: 20,
            max_connections: 2000,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            session_timeout: Duration::from_secs(1800),
            max_errors: 10,
            pop3_timeout: Duration::from_secs(600),
            imap_timeout: Duration::from_secs(30 * 60),
            imap_login_timeout: Duration::from_secs(5 * 60),
            imap_idle_keepalive: Duration::from_secs(120),
            imap_poll: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Load `path` (if given) and apply `MAILHOST_SECTION__KEY` overrides from
    /// `env`. With no file, the defaults apply.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_with_env(&text, env)
    }

    pub fn from_toml_with_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("MAILHOST_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            if section.is_empty() || key.is_empty() {
                continue;
            }
            let section = section.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            let parsed = parse_env_value(&value);
            let table = root
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match table {
                toml::Value::Table(t) => {
                    t.insert(key, parsed);
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: [{section}] is not a section"
                    )))
                }
            }
        }
        // serde_path_to_error names the key ("policy.hold_duration") that a
        // bad value or unknown field sits under.
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(root))
            .map_err(|e| ConfigError::Invalid(format!("{}: {}", e.path(), e.inner().message())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.max_message_size.0 < 1024 {
            return Err(ConfigError::Invalid(
                "server.max_message_size: must be at least 1KB".into(),
            ));
        }
        if !(1024..=4096).contains(&self.dkim.rsa_bits) {
            // RFC 8301 §3.2: at least 1024 bits; verifiers need not accept more than 4096.
            return Err(ConfigError::Invalid(
                "dkim.rsa_bits: must be from 1024 to 4096".into(),
            ));
        }
        if self.delivery.verify_timeout.std() < std::time::Duration::from_millis(100)
            || self.delivery.dns_timeout.std() < std::time::Duration::from_millis(100)
        {
            return Err(ConfigError::Invalid(
                "delivery.verify_timeout and delivery.dns_timeout: must be at least 100ms".into(),
            ));
        }
        if self.delivery.dns_timeout.std() > self.delivery.verify_timeout.std() {
            return Err(ConfigError::Invalid(
                "delivery.dns_timeout: must not be longer than delivery.verify_timeout".into(),
            ));
        }
        if !["dmarc", "always"].contains(&self.lists.from_rewrite.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "lists.from_rewrite: {:?} is neither \"dmarc\" nor \"always\"",
                self.lists.from_rewrite
            )));
        }
        if self.policy.max_recipients == 0 {
            return Err(ConfigError::Invalid(
                "policy.max_recipients: must be at least 1".into(),
            ));
        }
        if !(self.policy.bulk_similarity > 0.0 && self.policy.bulk_similarity <= 1.0) {
            return Err(ConfigError::Invalid(
                "policy.bulk_similarity: must be above 0 and at most 1".into(),
            ));
        }
        if self.antivirus.max_files == 0 || self.antivirus.max_ratio == 0 {
            return Err(ConfigError::Invalid(
                "antivirus.max_files and antivirus.max_ratio: must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The free space `data_dir` keeps ([`Server::min_free_space`]), given
    /// the file system's size in bytes.
    pub fn min_free_space(&self, fs_size: u64) -> u64 {
        match self.server.min_free_space {
            Some(s) => s.0,
            None => (2 * self.server.max_message_size.0).max(fs_size / 100),
        }
    }

    /// The store URL with the embedded default filled in.
    pub fn store_url(&self) -> String {
        if self.store.url.is_empty() {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("mailhost.db").display()
            )
        } else {
            self.store.url.clone()
        }
    }
}

/// An environment value is read as a TOML value when it is one (`25`,
/// `true`, `["a"]`, `{ a = "b" }`), else as a plain string, so that
/// `MAILHOST_SERVER__HOSTNAME=mx.example` needs no quotes.
fn parse_env_value(v: &str) -> toml::Value {
    let doc = format!("v = {v}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(v.into())),
        Err(_) => toml::Value::String(v.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        vec![]
    }

    #[test]
    fn defaults_without_file() {
        let c = Config::from_toml_with_env("", no_env()).unwrap();
        assert_eq!(c.policy.max_recipients, 25);
        assert_eq!(c.policy.hold_duration.as_secs(), 3600);
        assert_eq!(c.server.max_message_size.0, 25 * 1024 * 1024);
        assert_eq!(c.listen.smtp, "0.0.0.0:25");
        assert_eq!(c.smtp.bare_lf, BareLf::Normalize);
        assert_eq!(c.server.log_format, LogFormat::Text);
        // Twice the largest message, at least 1% of the disk.
        assert_eq!(c.min_free_space(1 << 30), 50 * 1024 * 1024);
        assert_eq!(c.min_free_space(100 << 30), 1 << 30);
        assert!(c.store_url().starts_with("sqlite://"));
    }

    #[test]
    fn full_contract_example_parses() {
        let text = r#"
[server]
hostname = "mail.example.net"
data_dir = "./data"
timezone = "Africa/Johannesburg"
max_message_size = "25MB"
[store]
url = "sqlite://./data/mailhost.db"
[listen]
smtp = "0.0.0.0:25"
submission = "0.0.0.0:587"
submissions = "0.0.0.0:465"
pop3 = "0.0.0.0:110"
pop3s = "0.0.0.0:995"
imap = "0.0.0.0:143"
imaps = "0.0.0.0:993"
http = "127.0.0.1:8080"
https = "0.0.0.0:8443"
[tls]
cert = "/path/fullchain.pem"
key = "/path/key.pem"
[delivery]
routes = { "example.org" = "127.0.0.1:2526" }
[policy]
max_recipients = 25
hourly_limit = 300
hold_duration = "1h"
domain_hourly_limit = 3000
bulk_threshold = 250
bulk_window = "24h"
pop_logins_per_hour = 120
pop_lockout = "1h"
pop_before_smtp = "30m"
read_retention = "14d"
quarantine = "14d"
max_forwards = 6
autoreply_interval = "7d"
quota = "50MB"
imap_read_retention = "0s"
all_from = "domain"
[lists]
offpeak_threshold = 250
max_members = 1000
throttle = "6s"
offpeak = ["sat 00:00-24:00", "sun 00:00-24:00", "mon-fri 01:00-06:00"]
[antivirus]
engine = "builtin"
clamd = "127.0.0.1:3310"
signatures = "./data/signatures"
"#;
        let c = Config::from_toml_with_env(text, no_env()).unwrap();
        assert_eq!(c.server.hostname, "mail.example.net");
        assert_eq!(c.delivery.routes["example.org"], "127.0.0.1:2526");
        assert_eq!(c.policy.read_retention.as_secs(), 14 * 86400);
        assert_eq!(c.policy.quota.0, 50 * 1024 * 1024);
    }

    #[test]
    fn new_sections_parse() {
        let c = Config::from_toml_with_env(
            "[smtp]\nbare_lf = \"reject\"\n[server]\nlog_format = \"json\"\nmin_free_space = \"10MB\"\n",
            no_env(),
        )
        .unwrap();
        assert_eq!(c.smtp.bare_lf, BareLf::Reject);
        assert_eq!(c.server.log_format, LogFormat::Json);
        assert_eq!(c.min_free_space(1 << 40), 10 * 1024 * 1024);
        let e = Config::from_toml_with_env("[smtp]\nbare_lf = \"maybe\"\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bare_lf"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml_with_env("[policy]\nmax_recipient = 3\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_recipient"), "{e}");
        let e = Config::from_toml_with_env("[nosuch]\na = 1\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nosuch"), "{e}");
    }

    #[test]
    fn bad_duration_names_key_and_value() {
        let e = Config::from_toml_with_env("[policy]\nhold_duration = \"3 parsecs\"\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 parsecs"), "{e}");
        assert!(e.contains("hold_duration"), "{e}");
    }

    #[test]
    fn env_overrides_file() {
        let env = vec![
            (
                "MAILHOST_POLICY__HOLD_DURATION".to_string(),
                "3s".to_string(),
            ),
            (
                "MAILHOST_POLICY__MAX_RECIPIENTS".to_string(),
                "5".to_string(),
            ),
            (
                "MAILHOST_SERVER__HOSTNAME".to_string(),
                "mx.test".to_string(),
            ),
            ("MAILHOST_LISTEN__HTTP".to_string(), "".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::from_toml_with_env("[policy]\nhold_duration = \"1h\"\n", env).unwrap();
        assert_eq!(c.policy.hold_duration.as_secs(), 3);
        assert_eq!(c.policy.max_recipients, 5);
        assert_eq!(c.server.hostname, "mx.test");
        assert_eq!(c.listen.http, "");
    }

    #[test]
    fn env_unknown_key_is_an_error() {
        let env = vec![("MAILHOST_POLICY__NOPE".to_string(), "1".to_string())];
        let e = Config::from_toml_with_env("", env).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
