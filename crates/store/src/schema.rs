//! Schema migrations, written once for both backends. `{ID}`, `{SERIAL}`
//! (an id never given twice, even after the highest row is deleted: SQLite's
//! AUTOINCREMENT; PostgreSQL identities never repeat), `{BLOB}` and `{BYTES}`
//! (byte-order collation of an index column: PostgreSQL's "C") are the
//! only spellings that differ; every other type is BIGINT or TEXT.
//!
//! A migration is applied in one transaction together with the bump of
//! `meta.schema_version`, so a crash leaves either the old or the new schema.

pub const MIGRATIONS: &[&str] = &[
    // 1: domains, addresses (mailboxes and aliases share one namespace, so an
    // address is never both), message bodies and per-mailbox entries, locks.
    r#"
CREATE TABLE domains (
    id {ID},
    name TEXT NOT NULL UNIQUE,
    contact TEXT NOT NULL,
    package TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE addresses (
    id {ID},
    address TEXT NOT NULL UNIQUE,
    domain_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    password_hash TEXT,
    quota BIGINT,
    package TEXT,
    suspended BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX addresses_domain ON addresses (domain_id);
CREATE TABLE alias_targets (
    alias_id BIGINT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (alias_id, target)
);
CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    data {BLOB} NOT NULL
);
CREATE TABLE entries (
    id {ID},
    mailbox_id BIGINT NOT NULL,
    blob_id TEXT NOT NULL,
    uid TEXT NOT NULL,
    prefix {BLOB} NOT NULL,
    size BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    retrieved_at BIGINT
);
CREATE INDEX entries_mailbox ON entries (mailbox_id, id);
CREATE INDEX entries_blob ON entries (blob_id);
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    node TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    // 2: the outbound queue (one row per remote recipient; the body is a
    // blob shared with local deliveries), DKIM keys, POP-before-SMTP grants.
    r#"
CREATE TABLE queue (
    id {ID},
    blob_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    rcpt TEXT NOT NULL,
    domain TEXT NOT NULL,
    account TEXT,
    created_at BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    warned BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queue_due ON queue (next_attempt);
CREATE INDEX queue_blob ON queue (blob_id);
CREATE TABLE dkim_keys (
    domain TEXT PRIMARY KEY,
    selector TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE pop_grants (
    ip TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    // 3: the policy engine's shared state: the evidence log (R-ABUSE-3),
    // the send log behind hourly limits (R-OUT-6, R-OUT-7) and holds
    // (R-ABUSE-1).
    r#"
CREATE TABLE evidence (
    id {ID},
    at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    account TEXT,
    rule TEXT NOT NULL,
    decision TEXT NOT NULL,
    reply TEXT NOT NULL,
    service TEXT NOT NULL,
    queue_id TEXT,
    message_id TEXT,
    headers {BLOB}
);
CREATE INDEX evidence_at ON evidence (at);
CREATE INDEX evidence_account ON evidence (account, at);
CREATE TABLE send_log (
    account TEXT NOT NULL,
    domain TEXT NOT NULL,
    at BIGINT NOT NULL,
    rcpts BIGINT NOT NULL
);
CREATE INDEX send_log_account ON send_log (account, at);
CREATE INDEX send_log_domain ON send_log (domain, at);
CREATE TABLE holds (
    id {ID},
    account TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    started BIGINT NOT NULL,
    ends BIGINT NOT NULL,
    released BIGINT
);
CREATE INDEX holds_account ON holds (account, ends);
"#,
    // 4: login events and lockouts (R-ABUSE-4 brute force, R-POP-3 POP
    // logins per hour).
    r#"
CREATE TABLE auth_events (
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX auth_events_key ON auth_events (key, kind, at);
CREATE TABLE lockouts (
    key TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    until_at BIGINT NOT NULL
);
"#,
    // 5: cancelled addresses in quarantine (R-ADDR-7).
    r#"
CREATE TABLE quarantine (
    address TEXT PRIMARY KEY,
    until_at BIGINT NOT NULL
);
"#,
    // 6: hourly counts in one-minute buckets: a sliding hour is a sum of at
    // most 61 rows, however much was sent (send_log rows per message made
    // each check cost more than the last).
    r#"
CREATE TABLE send_counts (
    key TEXT NOT NULL,
    minute BIGINT NOT NULL,
    rcpts BIGINT NOT NULL,
    PRIMARY KEY (key, minute)
);
"#,
    // 7: hosting packages (per-account limits), customers found by their
    // domains' contact, and the bulk-mail window (R-OUT-8) as a log that
    // only grows at its end (every node keeps its own index of it in
    // memory). The send log of migration 3 gave way to send_counts in 6.
    r#"
CREATE TABLE packages (
    name TEXT PRIMARY KEY,
    hourly_limit BIGINT,
    quota BIGINT,
    max_forwards BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX domains_contact ON domains (contact);
CREATE TABLE bulk_log (
    id {SERIAL},
    cluster BIGINT NOT NULL,
    customer TEXT,
    signature {BLOB},
    account TEXT NOT NULL,
    rcpts {BLOB} NOT NULL,
    at BIGINT NOT NULL
);
DROP TABLE send_log;
"#,
    // 8: R-OUT-7: a queued recipient that was past its domain's hourly
    // limit when the message was accepted (sessions or nodes racing on one
    // count) bounces instead of being sent.
    r#"
ALTER TABLE queue ADD COLUMN over_limit BIGINT NOT NULL DEFAULT 0;
"#,
    // 9: mailbox services. Usage kept with every delivery and deletion
    // (R-IN-3) and the notice level last reached (0, 1 = past 90 %, 2 =
    // full), forwarding (R-IN-4: NULL forward_keep means none), the
    // autoresponder (R-IN-5) with whom it answered when, server secrets
    // (the SRS key), postmaster@ and all@ for every domain (R-ADDR-4,
    // R-ADDR-5), and an index that finds read mail past its retention
    // (R-POP-2) without a scan.
    r#"
ALTER TABLE addresses ADD COLUMN used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN quota_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN forward_keep BIGINT;
ALTER TABLE addresses ADD COLUMN autoreply BIGINT NOT NULL DEFAULT 0;
UPDATE addresses SET used = (SELECT CAST(COALESCE(SUM(e.size), 0) AS BIGINT) FROM entries e WHERE e.mailbox_id = addresses.id);
CREATE TABLE forwards (
    address_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    dest TEXT NOT NULL,
    PRIMARY KEY (address_id, position)
);
CREATE TABLE autoreplies (
    address_id BIGINT PRIMARY KEY,
    subject TEXT,
    body TEXT NOT NULL,
    from_at BIGINT,
    until_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE TABLE autoreply_sent (
    address_id BIGINT NOT NULL,
    sender TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (address_id, sender)
);
CREATE INDEX autoreply_sent_at ON autoreply_sent (at);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value {BLOB} NOT NULL
);
CREATE INDEX entries_retrieved ON entries (retrieved_at, id) WHERE retrieved_at IS NOT NULL;
INSERT INTO addresses (address, domain_id, kind, suspended, created_at)
  SELECT 'postmaster@' || d.name, d.id, 'postmaster', 0, d.created_at FROM domains d
  WHERE NOT EXISTS (SELECT 1 FROM addresses a WHERE a.address = 'postmaster@' || d.name);
INSERT INTO addresses (address, domain_id, kind, suspended, created_at)
  SELECT 'all@' || d.name, d.id, 'all', 0, d.created_at FROM domains d
  WHERE NOT EXISTS (SELECT 1 FROM addresses a WHERE a.address = 'all@' || d.name);
"#,
    // 10: the people who manage the service (R-WEB-5): admin logins and
    // the domains each may manage, API tokens (stored as their SHA-256:
    // a token is 128 random bits, so a plain hash suffices), panel
    // sessions, second factors, app passwords, the audit log of every
    // admin action, the notice board (R-ABUSE-5) and recent logins.
    r#"
CREATE TABLE admins (
    id {SERIAL},
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    operator BIGINT NOT NULL,
    must_change BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE admin_domains (
    admin_id BIGINT NOT NULL,
    domain TEXT NOT NULL,
    PRIMARY KEY (admin_id, domain)
);
CREATE INDEX admin_domains_domain ON admin_domains (domain);
CREATE TABLE tokens (
    id {SERIAL},
    hash TEXT NOT NULL UNIQUE,
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    last_ip TEXT
);
CREATE INDEX tokens_login ON tokens (login);
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    login TEXT NOT NULL,
    csrf TEXT NOT NULL,
    stage TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_login ON sessions (login);
CREATE TABLE totp (
    login TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    confirmed BIGINT NOT NULL DEFAULT 0,
    last_step BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
    login TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (login, hash)
);
CREATE TABLE app_passwords (
    id {SERIAL},
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    protocols TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX app_passwords_address ON app_passwords (address);
CREATE TABLE audit (
    id {SERIAL},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_object ON audit (object, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE TABLE notices (
    id {SERIAL},
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE TABLE logins (
    id {SERIAL},
    login TEXT NOT NULL,
    at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    protocol TEXT NOT NULL
);
CREATE INDEX logins_login ON logins (login, id);
CREATE INDEX logins_at ON logins (at);
CREATE INDEX addresses_domain_address ON addresses (domain_id, address);
CREATE INDEX addresses_domain_kind ON addresses (domain_id, kind, suspended);
"#,
    // 11: the listing index in byte order on PostgreSQL too (its "C"
    // collation; SQLite's BINARY already is), so that the panels' pages and
    // prefix searches, which compare in byte order, walk it instead of
    // scanning the domain.
    r#"
DROP INDEX addresses_domain_address;
CREATE INDEX addresses_domain_address ON addresses (domain_id, address{BYTES});
"#,
    // 12: IMAP (R-POP-5). Folders per mailbox with the counters SELECT and
    // STATUS answer from (RFC 9051 §7.3); the folder's id is its
    // UIDVALIDITY (ids are never given twice, so a folder deleted and made
    // again gets a new one, and RENAME keeps it). Entries gain their
    // folder, a per-folder UID given in the delivering transaction, a
    // MODSEQ (RFC 7162) and flags as bits: \Seen 1, \Answered 2,
    // \Flagged 4, \Deleted 8, \Draft 16, then the account's keywords
    // from bit 5 (`keywords`). Expunges leave a tombstone with their
    // MODSEQ for QRESYNC's VANISHED (RFC 7162 §3.2.10). ENVELOPE and
    // BODYSTRUCTURE are kept per body (`summaries`), computed once.
    // `mail_sessions` are the leases of open POP3 and IMAP sessions
    // (R-POP-4: one computer at a time, across nodes). Existing mail
    // goes to INBOX in arrival order; mail already read over POP3 is
    // \Seen.
    r#"
CREATE TABLE folders (
    id {SERIAL},
    account_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    special TEXT,
    uidnext BIGINT NOT NULL DEFAULT 1,
    modseq BIGINT NOT NULL DEFAULT 1,
    messages BIGINT NOT NULL DEFAULT 0,
    unseen BIGINT NOT NULL DEFAULT 0,
    deleted BIGINT NOT NULL DEFAULT 0,
    size BIGINT NOT NULL DEFAULT 0,
    recent_uid BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX folders_name ON folders (account_id, name{BYTES});
CREATE TABLE subscriptions (
    account_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE keywords (
    account_id BIGINT NOT NULL,
    bit BIGINT NOT NULL,
    name TEXT NOT NULL,
    folded TEXT NOT NULL,
    PRIMARY KEY (account_id, bit)
);
CREATE UNIQUE INDEX keywords_folded ON keywords (account_id, folded);
CREATE TABLE expunged (
    folder_id BIGINT NOT NULL,
    uid BIGINT NOT NULL,
    modseq BIGINT NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);
CREATE TABLE summaries (
    blob_id TEXT PRIMARY KEY,
    sent_at BIGINT,
    envelope {BLOB} NOT NULL,
    body {BLOB} NOT NULL,
    bodystructure {BLOB} NOT NULL
);
CREATE TABLE mail_sessions (
    id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    protocol TEXT NOT NULL,
    ip TEXT NOT NULL,
    node TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mail_sessions_account ON mail_sessions (account_id);
CREATE INDEX mail_sessions_node ON mail_sessions (node);
ALTER TABLE entries ADD COLUMN folder_id BIGINT;
ALTER TABLE entries ADD COLUMN imap_uid BIGINT;
ALTER TABLE entries ADD COLUMN modseq BIGINT NOT NULL DEFAULT 1;
ALTER TABLE entries ADD COLUMN flags BIGINT NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN imap_read_at BIGINT;
INSERT INTO folders (account_id, name, special, created_at)
  SELECT a.id, f.name, f.special, a.created_at FROM addresses a,
    (SELECT 'INBOX' AS name, CAST(NULL AS TEXT) AS special UNION ALL SELECT 'Sent', '\Sent'
     UNION ALL SELECT 'Drafts', '\Drafts' UNION ALL SELECT 'Trash', '\Trash'
     UNION ALL SELECT 'Junk', '\Junk' UNION ALL SELECT 'Archive', '\Archive') f
  WHERE a.kind = 'mailbox';
INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM folders;
UPDATE entries SET folder_id = r.fid, imap_uid = r.rn,
    flags = CASE WHEN entries.retrieved_at IS NULL THEN 0 ELSE 1 END
  FROM (SELECT e.id AS eid, f.id AS fid,
          ROW_NUMBER() OVER (PARTITION BY e.mailbox_id ORDER BY e.id) AS rn
        FROM entries e JOIN folders f ON f.account_id = e.mailbox_id AND f.name = 'INBOX') r
  WHERE entries.id = r.eid;
UPDATE folders SET
    messages = (SELECT COUNT(*) FROM entries e WHERE e.folder_id = folders.id),
    unseen = (SELECT COUNT(*) FROM entries e WHERE e.folder_id = folders.id AND e.flags = 0),
    size = (SELECT CAST(COALESCE(SUM(e.size), 0) AS BIGINT) FROM entries e WHERE e.folder_id = folders.id),
    uidnext = (SELECT CAST(COALESCE(MAX(e.imap_uid), 0) AS BIGINT) + 1 FROM entries e WHERE e.folder_id = folders.id);
CREATE UNIQUE INDEX entries_folder_uid ON entries (folder_id, imap_uid);
CREATE INDEX entries_folder_modseq ON entries (folder_id, modseq);
CREATE INDEX entries_imap_read ON entries (imap_read_at, id) WHERE imap_read_at IS NOT NULL;
"#,
    // 13: mailing lists (R-LIST-1..6). A list is an address of kind
    // 'list' (so no mailbox or alias can take its name) with a row in
    // `lists`: its owner (a mailbox of the domain), posting policy, and
    // `next_send_at`, the throttle's schedule (R-LIST-6) advanced in the
    // store so that it holds across restarts and nodes. Members move
    // through states (invited, pending, member, unsubscribed, suppressed,
    // disabled); `bounce_score` counts in halves (a soft bounce is 0.5).
    // `list_consent` is the consent ledger (R-LIST-1, seed 004): append
    // only, enforced by the database itself, and kept when a list goes.
    // `list_tokens_used` makes confirmation tokens single-use; `list_posts`
    // holds posts waiting for moderation or off-peak (R-LIST-4) and those
    // released; a queue row may carry a per-recipient header prefix (a
    // list's List-Unsubscribe and DKIM signature for that member).
    r#"
CREATE TABLE lists (
    id {SERIAL},
    address TEXT NOT NULL,
    domain_id BIGINT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    posting TEXT NOT NULL DEFAULT 'members',
    from_rewrite TEXT NOT NULL DEFAULT 'dmarc',
    next_send_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX lists_address ON lists (address);
CREATE INDEX lists_owner ON lists (owner);
CREATE TABLE list_members (
    list_id BIGINT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    bounce_score BIGINT NOT NULL DEFAULT 0,
    bounce_day BIGINT NOT NULL DEFAULT 0,
    bounce_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (list_id, address)
);
CREATE INDEX list_members_state ON list_members (list_id, state);
CREATE INDEX list_members_address ON list_members (address);
CREATE TABLE list_consent (
    id {SERIAL},
    list TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    at BIGINT NOT NULL,
    at_local TEXT NOT NULL,
    ip TEXT,
    method TEXT NOT NULL,
    message_id TEXT,
    token_hash TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX list_consent_list ON list_consent (list, id);
{APPEND_ONLY list_consent}
CREATE TABLE list_tokens_used (
    token_hash TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL
);
CREATE TABLE list_posts (
    id {SERIAL},
    list_id BIGINT NOT NULL,
    blob_id TEXT NOT NULL,
    poster TEXT NOT NULL,
    state TEXT NOT NULL,
    release_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    message_id TEXT,
    detail TEXT
);
CREATE INDEX list_posts_due ON list_posts (state, release_at);
CREATE INDEX list_posts_list ON list_posts (list_id, id);
ALTER TABLE queue ADD COLUMN prefix {BLOB};
"#,
    // 14: a short key per list member, by which the compact tokens in list
    // addresses (VERP bounces, +confirm-, +unsubscribe-) name the member,
    // so that those local parts stay within RFC 5321's 64 octets. Rows of
    // 13 get theirs when the list engine starts (`list_fill_keys`). The
    // throttle reads when a list last sent (`list_last_sent`) by index.
    r#"
ALTER TABLE list_members ADD COLUMN tkey TEXT;
CREATE INDEX list_members_tkey ON list_members (tkey);
CREATE INDEX list_posts_sent ON list_posts (list_id, state, release_at);
"#,
];

pub fn render(ddl: &str, id: &str, blob: &str) -> String {
    let serial = if id == SQLITE_ID {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    } else {
        id
    };
    let bytes = if id == SQLITE_ID {
        ""
    } else {
        " COLLATE \"C\""
    };
    append_only(
        &ddl.replace("{ID}", id)
            .replace("{SERIAL}", serial)
            .replace("{BLOB}", blob)
            .replace("{BYTES}", bytes),
        id == SQLITE_ID,
    )
}

/// `{APPEND_ONLY table}`: triggers that refuse every UPDATE and DELETE
/// of the table, in each backend's dialect, so that not even a bug (or
/// an operator's SQL) can rewrite a ledger.
fn append_only(ddl: &str, sqlite: bool) -> String {
    let mut out = String::with_capacity(ddl.len());
    let mut rest = ddl;
    while let Some(i) = rest.find("{APPEND_ONLY ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "{APPEND_ONLY ".len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let t = &after[..end];
        if sqlite {
            for op in ["UPDATE", "DELETE"] {
                out.push_str(&format!(
                    "CREATE TRIGGER {t}_no_{lop} BEFORE {op} ON {t}\nBEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n",
                    lop = op.to_ascii_lowercase()
                ));
            }
        } else {
            out.push_str(&format!(
                "CREATE FUNCTION {t}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 BEGIN RAISE EXCEPTION '{t} is append-only'; END $$;\n\
                 CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}\n\
                 FOR EACH ROW EXECUTE FUNCTION {t}_append_only();\n"
            ));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

pub const SQLITE_ID: &str = "INTEGER PRIMARY KEY";
pub const SQLITE_BLOB: &str = "BLOB";
pub const PG_ID: &str = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
pub const PG_BLOB: &str = "BYTEA";

#[cfg(test)]
mod tests {
    use super::*;

    /// A store made before migration 9 gains postmaster@ and all@ for its
    /// domains (R-ADDR-4, R-ADDR-5) and usage counted from its mail.
    #[tokio::test]
    async fn migration_9_adds_the_domains_own_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                .unwrap();
            for m in &MIGRATIONS[..8] {
                c.execute_batch(&render(m, SQLITE_ID, SQLITE_BLOB)).unwrap();
            }
            c.execute_batch(
                "INSERT INTO meta VALUES ('schema_version', '8');
                 INSERT INTO domains (id, name, contact, created_at) VALUES (1, 'old.example', 'boss@x.example', 0);
                 INSERT INTO addresses (id, address, domain_id, kind, suspended, created_at)
                   VALUES (1, 'u@old.example', 1, 'mailbox', 0, 0),
                          (2, 'all@old.example', 1, 'alias', 0, 0);
                 INSERT INTO alias_targets VALUES (2, 'u@old.example');
                 INSERT INTO entries (mailbox_id, blob_id, uid, prefix, size, received_at)
                   VALUES (1, 'b', 'b.0', x'', 123, 0), (1, 'c', 'c.0', x'', 77, 0);",
            )
            .unwrap();
        }
        let s = crate::Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert_eq!(
            s.resolve("postmaster@old.example").await.unwrap(),
            crate::Resolved::Postmaster("boss@x.example".into())
        );
        assert_eq!(s.user_quota("u@old.example").await.unwrap().used, 200);
        // An all@ alias made before stays an alias (billable) until its
        // owner removes it; then the server's all@ takes its place.
        assert_eq!(s.domain_list().await.unwrap()[0].addresses, 2);
        assert!(matches!(
            s.resolve("all@old.example").await.unwrap(),
            crate::Resolved::Deliver(_)
        ));
        s.alias_remove("all@old.example", std::time::Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            s.resolve("all@old.example").await.unwrap(),
            crate::Resolved::All("old.example".into())
        );
        assert_eq!(s.all_members("old.example").await.unwrap().len(), 1);
        assert_eq!(s.domain_list().await.unwrap()[0].addresses, 1);
    }
}
