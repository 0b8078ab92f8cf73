//! Server secrets (the SRS key of R-IN-4), made once and shared by every
//! node on the store.

use crate::db::Stmt;
use crate::{Result, Store, StoreError};
use rand::Rng;

impl Store {
    /// The secret `name`, made with 32 random bytes on first use. Two
    /// nodes racing both read the one that was committed first.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>> {
        let fresh: [u8; 32] = rand::rng().random();
        self.batch(vec![Stmt::new(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            vec![name.into(), fresh.to_vec().into()],
        )])
        .await?;
        let mut rows = self
            .query(
                "SELECT value FROM secrets WHERE name = ?",
                vec![name.into()],
            )
            .await?;
        match rows.first_mut() {
            Some(r) => r.take_bytes(0),
            None => Err(StoreError::Backend(format!("secret {name} vanished"))),
        }
    }
}
