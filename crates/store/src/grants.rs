//! POP-before-SMTP grants (R-OUT-2) and DKIM keys: small shared state that
//! every node must see, so it lives in the store.

use crate::db::Stmt;
use crate::{now_ms, Result, Store};
use std::time::Duration;

/// A domain's DKIM key (RFC 6376).
#[derive(Debug, Clone, PartialEq)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    /// "rsa-sha256" or "ed25519-sha256".
    pub algorithm: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    /// The base64 public key for the `p=` tag of the DNS record.
    pub public_key: String,
}

impl Store {
    /// R-OUT-2: a POP3 login from `ip` lets that IP submit as `account`
    /// for `ttl`. The latest login from an IP wins.
    pub async fn pop_grant(&self, ip: &str, account: &str, ttl: Duration) -> Result<()> {
        self.batch(vec![Stmt::new(
            "INSERT INTO pop_grants (ip, account, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (ip) DO UPDATE SET account = excluded.account, expires_at = excluded.expires_at",
            vec![ip.into(), account.into(), (now_ms() + ttl.as_millis() as i64).into()],
        )])
        .await?;
        Ok(())
    }

    /// The account `ip` may submit as without AUTH, if its grant is live.
    pub async fn pop_granted(&self, ip: &str) -> Result<Option<String>> {
        let rows = self
            .lookup(
                "SELECT account FROM pop_grants WHERE ip = ? AND expires_at > ?",
                vec![ip.into(), now_ms().into()],
            )
            .await?;
        rows.first().map(|r| r.text(0)).transpose()
    }

    pub async fn dkim_key_set(&self, key: &DkimKey) -> Result<()> {
        self.batch(vec![Stmt::new(
            "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, algorithm = excluded.algorithm,
                 private_key = excluded.private_key, public_key = excluded.public_key, created_at = excluded.created_at",
            vec![
                key.domain.clone().into(),
                key.selector.clone().into(),
                key.algorithm.clone().into(),
                key.private_key.clone().into(),
                key.public_key.clone().into(),
                now_ms().into(),
            ],
        )])
        .await?;
        Ok(())
    }

    pub async fn dkim_key(&self, domain: &str) -> Result<Option<DkimKey>> {
        let rows = self
            .lookup(
                "SELECT domain, selector, algorithm, private_key, public_key FROM dkim_keys WHERE domain = ?",
                vec![domain.to_ascii_lowercase().into()],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(DkimKey {
                    domain: r.text(0)?,
                    selector: r.text(1)?,
                    algorithm: r.text(2)?,
                    private_key: r.text(3)?,
                    public_key: r.text(4)?,
                })
            })
            .transpose()
    }
}
