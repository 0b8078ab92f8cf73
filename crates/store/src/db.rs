//! The small SQL surface both backends implement: parameterised queries on
//! a reader, and atomic batches of statements on the single writer.
//!
//! Queries are written once, with `?` placeholders, in the SQL subset that
//! SQLite and PostgreSQL share; the PostgreSQL backend rewrites `?` to `$n`.
//! Integers are BIGINT everywhere and booleans are 0/1, so a row reads the
//! same from either backend.

use crate::StoreError;

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I(i64),
    T(String),
    B(Vec<u8>),
    /// A NULL integer (PostgreSQL needs to know the type of a NULL).
    NullI,
    /// A NULL text.
    NullT,
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::T(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::T(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::T(v.clone())
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::B(v)
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::NullI, Val::I)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::NullT, Val::T)
    }
}

/// One result row. Accessors return an error, not a panic, on a type
/// mismatch, so that a schema mistake is a clear error.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn get(&self, i: usize) -> Result<&Val, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Backend(format!("column {i} missing")))
    }
    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i)? {
            Val::I(v) => Ok(*v),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected integer, got {v:?}"
            ))),
        }
    }
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i)? {
            Val::I(v) => Ok(Some(*v)),
            Val::NullI | Val::NullT => Ok(None),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected integer, got {v:?}"
            ))),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.get(i)? {
            Val::T(v) => Ok(v.clone()),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected text, got {v:?}"
            ))),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i)? {
            Val::T(v) => Ok(Some(v.clone())),
            Val::NullI | Val::NullT => Ok(None),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected text, got {v:?}"
            ))),
        }
    }
    /// Bytes (a NULL reads as none), copied.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.0.get(i) {
            Some(Val::B(v)) => Ok(v.clone()),
            Some(Val::NullI | Val::NullT) => Ok(Vec::new()),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected bytes, got {v:?}"
            ))),
        }
    }
    pub fn take_bytes(&mut self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.0.get_mut(i) {
            Some(Val::B(v)) => Ok(std::mem::take(v)),
            Some(Val::NullI | Val::NullT) => Ok(Vec::new()),
            v => Err(StoreError::Backend(format!(
                "column {i}: expected bytes, got {v:?}"
            ))),
        }
    }
}

/// A statement of a write batch.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Val>,
    /// When set, the batch fails with this error if the statement changed
    /// no row (a conditional update that found its condition false).
    pub must_change: Option<StoreError>,
    /// When set, the statement ends in `RETURNING x` (an integer) and the
    /// batch reports the first row's value for it instead of a row count
    /// (0 when no row came back, which `must_change` treats as no change).
    pub returning: bool,
}

impl Stmt {
    pub fn new(sql: &'static str, params: Vec<Val>) -> Self {
        Stmt {
            sql,
            params,
            must_change: None,
            returning: false,
        }
    }
    /// See [`Stmt::returning`].
    pub fn returning(mut self) -> Self {
        self.returning = true;
        self
    }
    pub fn must_change(mut self, err: StoreError) -> Self {
        self.must_change = Some(err);
        self
    }
}

/// Rewrites `?` placeholders to PostgreSQL's `$1`, `$2`, …
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Maps a backend's unique-constraint violation to [`StoreError::Conflict`].
pub fn is_unique_violation(msg: &str) -> bool {
    msg.contains("UNIQUE constraint failed") || msg.contains("duplicate key value")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn placeholders() {
        assert_eq!(pg_placeholders("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(pg_placeholders("none"), "none");
    }
}
