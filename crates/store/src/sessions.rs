//! Panel sessions (R-WEB-5): kept in the store, so every node knows them
//! and revoking one (logout, a password change, suspension) holds
//! everywhere. The browser holds a 128-bit random token; the store keeps
//! its SHA-256, the login, the CSRF token of its forms, and when it began
//! and was last used, for the idle and absolute expiry.

use crate::admins::{random_secret, token_hash};
use crate::db::Stmt;
use crate::{now_ms, Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub login: String,
    pub csrf: String,
    /// `full`, or `change` while a one-time password must be replaced.
    pub stage: String,
    pub created_at: i64,
    pub seen_at: i64,
}

/// The last use is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

impl Store {
    /// Starts a session: its secret token (for the cookie) and record.
    pub async fn session_create(
        &self,
        login: &str,
        stage: &str,
        ip: &str,
    ) -> Result<(String, Session)> {
        let token = random_secret();
        let now = now_ms();
        let s = Session {
            login: login.to_string(),
            csrf: random_secret(),
            stage: stage.to_string(),
            created_at: now,
            seen_at: now,
        };
        self.batch(vec![Stmt::new(
            "INSERT INTO sessions (hash, login, csrf, stage, ip, created_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                token_hash(&token).into(),
                s.login.clone().into(),
                s.csrf.clone().into(),
                s.stage.clone().into(),
                ip.into(),
                now.into(),
                now.into(),
            ],
        )])
        .await?;
        Ok((token, s))
    }

    /// The session behind a token, unless it idled past `idle_ms` or is
    /// older than `max_ms` (then it is ended).
    pub async fn session_get(
        &self,
        token: &str,
        idle_ms: i64,
        max_ms: i64,
    ) -> Result<Option<Session>> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let rows = self
            .lookup(
                "SELECT login, csrf, stage, created_at, seen_at FROM sessions WHERE hash = ?",
                vec![hash.clone().into()],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let s = Session {
            login: r.text(0)?,
            csrf: r.text(1)?,
            stage: r.text(2)?,
            created_at: r.i64(3)?,
            seen_at: r.i64(4)?,
        };
        let now = now_ms();
        if now - s.seen_at > idle_ms || now - s.created_at > max_ms {
            self.session_end(token).await?;
            return Ok(None);
        }
        if now - s.seen_at > TOUCH_EVERY_MS {
            self.batch(vec![Stmt::new(
                "UPDATE sessions SET seen_at = ? WHERE hash = ?",
                vec![now.into(), hash.into()],
            )])
            .await?;
        }
        Ok(Some(s))
    }

    pub async fn session_end(&self, token: &str) -> Result<()> {
        self.batch(vec![Stmt::new(
            "DELETE FROM sessions WHERE hash = ?",
            vec![token_hash(token).into()],
        )])
        .await?;
        Ok(())
    }

    /// A successful sign-in, for the user's list of recent logins.
    pub fn login_stmt(login: &str, ip: &str, protocol: &str) -> Stmt {
        Stmt::new(
            "INSERT INTO logins (login, at, ip, protocol) VALUES (?, ?, ?, ?)",
            vec![login.into(), now_ms().into(), ip.into(), protocol.into()],
        )
    }
}

impl Store {
    /// A login's latest sign-ins, newest first: (time, IP, protocol).
    pub async fn logins_recent(
        &self,
        login: &str,
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>> {
        let rows = self
            .query(
                "SELECT at, ip, protocol FROM logins WHERE login = ? ORDER BY id DESC LIMIT ?",
                vec![login.into(), limit.into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?)))
            .collect()
    }
}
