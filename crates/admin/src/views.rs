//! What the operations return: the JSON API's response bodies, also
//! printed by the CLI and shown by the panels. Times are RFC 3339 with
//! their UTC offset (R-ABUSE-3); sizes are bytes.

use mailhost_store::rfc3339;
use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list and the cursor of the next one (null: the last).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: vec![],
            next: None,
        }
    }
}

impl<T> Page<T> {
    /// `items` read with one more than `limit` asked for: the extra one
    /// says a next page exists, whose cursor `key` gives.
    pub fn of(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(key)
        } else {
            None
        };
        Page { items, next }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Domain {
    pub domain: String,
    /// The technical contact: where postmaster@ goes (R-ADDR-4).
    pub contact: String,
    pub package: Option<String>,
    /// Mailboxes and aliases (billable addresses, R-ADDR-8).
    pub addresses: i64,
    pub created: String,
}

impl From<mailhost_store::DomainInfo> for Domain {
    fn from(d: mailhost_store::DomainInfo) -> Self {
        Domain {
            domain: d.name,
            contact: d.contact,
            package: d.package,
            addresses: d.addresses,
            created: rfc3339(d.created_at),
        }
    }
}

/// One record to publish in the domain's zone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    pub ttl: u32,
    /// The record as a zone-file line.
    pub zone: String,
}

impl From<mailhost_mailauth::DnsRecord> for DnsRecord {
    fn from(r: mailhost_mailauth::DnsRecord) -> Self {
        DnsRecord {
            zone: r.zone_line().trim_end().to_string(),
            name: r.name,
            rtype: r.rtype.to_string(),
            value: r.value,
            ttl: r.ttl,
        }
    }
}

/// A record to publish and what DNS says of it now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsCheck {
    #[serde(flatten)]
    pub record: DnsRecord,
    /// `ok`, `different`, `missing` or `unknown` (DNS did not answer).
    pub status: String,
    /// What DNS gave for that name and type (of TXT, those of the same
    /// kind: SPF, DKIM or DMARC).
    pub found: Vec<String>,
}

impl From<mailhost_mailauth::Checked> for DnsCheck {
    fn from(c: mailhost_mailauth::Checked) -> Self {
        DnsCheck {
            status: c.found.as_str().to_string(),
            record: c.record.into(),
            found: c.values,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Billing {
    pub domain: String,
    pub mailboxes: i64,
    pub aliases: i64,
    pub suspended: i64,
    pub billable: i64,
}

/// An address of a domain: a mailbox, an alias, postmaster@ or all@.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct User {
    pub address: String,
    /// `mailbox`, `alias`, `postmaster` or `all`.
    pub kind: String,
    pub suspended: bool,
    /// The quota that applies (R-IN-3), from the mailbox, its package or
    /// the server.
    pub quota: i64,
    /// The mailbox's own quota, if it has one.
    pub own_quota: Option<i64>,
    pub package: Option<String>,
    pub quota_used: i64,
    pub messages: i64,
    /// Where an alias or postmaster@ delivers.
    pub targets: Vec<String>,
}

impl User {
    pub fn from_info(a: mailhost_store::AddressInfo, default_quota: i64) -> Self {
        User {
            quota: a.effective_quota.unwrap_or(default_quota),
            own_quota: a.quota,
            address: a.address,
            kind: a.kind,
            suspended: a.suspended,
            package: a.package,
            quota_used: a.bytes,
            messages: a.messages,
            targets: a.targets,
        }
    }

    /// Whole percent of the quota used, rounded down.
    pub fn percent(&self) -> i64 {
        percent(self.quota_used, self.quota)
    }
    pub fn used_text(&self) -> String {
        size_text(self.quota_used)
    }
    pub fn quota_text(&self) -> String {
        size_text(self.quota)
    }
}

/// A size as the hosting manual writes it: binary units, "50 MB".
pub fn size_text(bytes: i64) -> String {
    const K: i64 = 1 << 10;
    let b = bytes.max(0);
    let (v, unit) = match b {
        b if b >= K * K * K => (b as f64 / (K * K * K) as f64, "GB"),
        b if b >= K * K => (b as f64 / (K * K) as f64, "MB"),
        b if b >= K => (b as f64 / K as f64, "KB"),
        b => return format!("{b} B"),
    };
    if v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Whole percent of `used` in `quota`, rounded down (100 for no quota).
pub fn percent(used: i64, quota: i64) -> i64 {
    if quota <= 0 {
        return 100;
    }
    (used.max(0) as i128 * 100 / quota as i128) as i64
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quota {
    pub address: String,
    pub used: i64,
    pub quota: i64,
    pub percent: i64,
    pub messages: i64,
}

impl Quota {
    pub fn used_text(&self) -> String {
        size_text(self.used)
    }
    pub fn quota_text(&self) -> String {
        size_text(self.quota)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alias {
    pub alias: String,
    pub targets: Vec<String>,
    pub suspended: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Forwarding {
    pub destinations: Vec<String>,
    pub keep_copy: bool,
    /// Set when more destinations than the package allows were forced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Autoreply {
    /// None: "Re: " and the original's subject.
    pub subject: Option<String>,
    pub body: String,
    pub from: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Package {
    pub name: String,
    pub hourly_limit: Option<i64>,
    pub quota: Option<i64>,
    pub max_forwards: Option<i64>,
}

impl From<mailhost_store::Package> for Package {
    fn from(p: mailhost_store::Package) -> Self {
        Package {
            name: p.name,
            hourly_limit: p.hourly_limit,
            quota: p.quota,
            max_forwards: p.max_forwards,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hold {
    pub account: String,
    pub rule: String,
    pub reason: String,
    pub started: String,
    pub ends: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Evidence {
    pub id: i64,
    pub time: String,
    pub ip: String,
    pub account: Option<String>,
    pub rule: String,
    pub decision: String,
    pub service: String,
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
    pub reply: String,
}

impl From<mailhost_store::Evidence> for Evidence {
    fn from(r: mailhost_store::Evidence) -> Self {
        Evidence {
            id: r.id,
            time: rfc3339(r.at),
            ip: r.ip,
            account: r.account,
            rule: r.rule,
            decision: r.decision,
            service: r.service,
            queue_id: r.queue_id,
            message_id: r.message_id,
            reply: r.reply,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notice {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub published: String,
}

impl From<mailhost_store::Notice> for Notice {
    fn from(n: mailhost_store::Notice) -> Self {
        Notice {
            id: n.id,
            title: n.title,
            body: n.body,
            author: n.author,
            published: rfc3339(n.published_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminLogin {
    pub login: String,
    /// `operator` or `domain`.
    pub role: String,
    pub domains: Vec<String>,
    pub must_change: bool,
    pub created: String,
}

impl From<mailhost_store::AdminLogin> for AdminLogin {
    fn from(a: mailhost_store::AdminLogin) -> Self {
        AdminLogin {
            login: a.login,
            role: if a.operator { "operator" } else { "domain" }.into(),
            domains: a.domains,
            must_change: a.must_change,
            created: rfc3339(a.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Token {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub last_ip: Option<String>,
}

impl From<mailhost_store::TokenInfo> for Token {
    fn from(t: mailhost_store::TokenInfo) -> Self {
        Token {
            id: t.id,
            login: t.login,
            name: t.name,
            created: rfc3339(t.created_at),
            expires: t.expires_at.map(rfc3339),
            last_used: t.last_used_at.map(rfc3339),
            last_ip: t.last_ip,
        }
    }
}

/// A new token: its secret is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub token: Token,
    pub secret: String,
}

/// An app password of a mailbox (its secret is shown only when made).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppPassword {
    pub id: i64,
    pub address: String,
    pub name: String,
    /// Of `pop3`, `smtp`, `imap`.
    pub protocols: Vec<String>,
    pub created: String,
    pub last_used: Option<String>,
}

impl From<mailhost_store::AppPassword> for AppPassword {
    fn from(p: mailhost_store::AppPassword) -> Self {
        AppPassword {
            id: p.id,
            address: p.address,
            name: p.name,
            protocols: p.protocols,
            created: rfc3339(p.created_at),
            last_used: p.last_used_at.map(rfc3339),
        }
    }
}

/// A new app password, with its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewAppPassword {
    #[serde(flatten)]
    pub app_password: AppPassword,
    /// Type this into the mail client instead of the mailbox password.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Audit {
    pub id: i64,
    pub time: String,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub object: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl From<mailhost_store::AuditEntry> for Audit {
    fn from(a: mailhost_store::AuditEntry) -> Self {
        Audit {
            id: a.id,
            time: rfc3339(a.at),
            actor: a.actor,
            ip: a.ip,
            action: a.action,
            object: a.object,
            before: a.before,
            after: a.after,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueItem {
    pub id: i64,
    pub age_seconds: i64,
    pub attempts: i64,
    pub sender: String,
    pub rcpt: String,
    pub last_error: Option<String>,
}

/// A mailing list (R-LIST-1).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct MailingList {
    pub address: String,
    /// The mailbox that owns it.
    pub owner: String,
    pub name: String,
    /// members | owner | moderated
    pub posting: String,
    /// Confirmed members.
    pub members: i64,
    pub created: String,
}

/// What an invitation did for one address (R-LIST-2).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ListInvite {
    pub address: String,
    /// invited | member | refused
    pub status: String,
    pub message: String,
}

/// One address on a list, in whatever state (R-LIST-1).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ListMember {
    pub address: String,
    /// invited | pending | member | unsubscribed | suppressed | disabled
    pub state: String,
    /// When the state last changed.
    pub since: String,
    /// The bounce score (hard 1, soft 0.5; disabled at the threshold).
    pub bounce_score: f64,
}

/// A post held for the owner's decision (posting policy `moderated`).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct HeldPost {
    pub id: i64,
    pub poster: String,
    pub subject: String,
    pub received: String,
    pub size: usize,
}

/// One event of a list's consent ledger, as exported (R-LIST-1): the
/// same fields in the CLI's CSV and JSON, the API and the panels.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ConsentRecord {
    pub id: i64,
    pub list: String,
    pub address: String,
    pub event: String,
    /// In the server's time zone, with its UTC offset.
    pub time: String,
    pub time_utc: String,
    pub ip: Option<String>,
    /// mail | web | invite | api | cli | one-click | bounce
    pub method: String,
    pub message_id: Option<String>,
    pub token_sha256: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

impl ConsentRecord {
    /// The CSV header, in the order of [`ConsentRecord::csv_row`].
    pub const CSV_HEADER: [&'static str; 12] = [
        "id",
        "list",
        "address",
        "event",
        "time",
        "time_utc",
        "ip",
        "method",
        "message_id",
        "token_sha256",
        "user_agent",
        "detail",
    ];

    /// The row; a text a spreadsheet would run as a formula (`=`, `+`,
    /// `-`, `@`, tab, CR first: a subscriber's user agent, say) gets a `'`
    /// in front (OWASP "CSV injection"); the JSON export keeps it as is.
    pub fn csv_row(&self) -> [String; 12] {
        let t = |v: &str| {
            if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{v}")
            } else {
                v.to_string()
            }
        };
        let o = |v: &Option<String>| t(v.as_deref().unwrap_or_default());
        [
            self.id.to_string(),
            t(&self.list),
            t(&self.address),
            t(&self.event),
            t(&self.time),
            t(&self.time_utc),
            o(&self.ip),
            t(&self.method),
            o(&self.message_id),
            o(&self.token_sha256),
            o(&self.user_agent),
            o(&self.detail),
        ]
    }
}

impl From<mailhost_store::ConsentEvent> for ConsentRecord {
    fn from(e: mailhost_store::ConsentEvent) -> Self {
        ConsentRecord {
            id: e.id,
            time_utc: mailhost_store::rfc3339(e.at),
            list: e.list,
            address: e.address,
            event: e.event,
            time: e.at_local,
            ip: e.ip,
            method: e.method,
            message_id: e.message_id,
            token_sha256: e.token_hash,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}
