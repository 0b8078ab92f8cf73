//! Password hashing with Argon2id (PHC strings), off the async threads.

use crate::StoreError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// Argon2 needs 19 MiB per hash (m=19456): unbounded, a burst of logins
/// (or of guesses) would take memory without limit. One hash at a time per
/// CPU keeps both memory and latency bounded; the rest wait their turn.
fn permits() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

pub async fn hash(password: String) -> Result<String, StoreError> {
    let _turn = permits()
        .acquire()
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Backend(format!("password hashing: {e}")))
    })
    .await
    .map_err(|e| StoreError::Backend(e.to_string()))?
}

/// A hash of a password nobody knows: logins for absent accounts verify
/// against it, so they take as long as real ones and do not reveal which
/// accounts exist.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1KZbN1l0bOHxQsgHRTR1pW8gHUwh4Op4a9IkuExhAG8";

pub async fn verify(password: String, stored: Option<String>) -> bool {
    let Ok(_turn) = permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY.to_string());
        let ok = match PasswordHash::new(&phc) {
            Ok(h) => Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok(),
            Err(_) => false,
        };
        ok && real
    })
    .await
    .unwrap_or(false)
}
