//! SQLite backend: the embedded default.
//!
//! One writer thread owns the only writing connection and applies batches in
//! group commit: it takes every batch that is waiting, runs them in one
//! transaction (each in its own SAVEPOINT only when one of them fails), and
//! commits once, so N concurrent deliveries cost one WAL fsync instead of N. `synchronous=FULL` makes that
//! commit durable (WAL's NORMAL does not sync on commit). Readers use a small
//! pool of connections: indexed lookups of a few rows run on the caller's
//! thread (`lookup`), anything longer on the blocking thread pool (`query`);
//! WAL lets them read while the writer writes, and other processes (the
//! CLI) write through SQLite's own locking with a busy timeout.

use crate::db::{Row, Stmt, Val};
use crate::schema;
use crate::StoreError;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// Batches taken into one transaction at most; bounds the latency of the
/// first batch behind a long queue.
const MAX_GROUP: usize = 512;

struct WriteJob {
    stmts: Vec<Stmt>,
    reply: oneshot::Sender<Result<Vec<u64>, StoreError>>,
}

pub struct Sqlite {
    path: PathBuf,
    readers: Arc<Mutex<Vec<Connection>>>,
    writer: Mutex<mpsc::Sender<WriteJob>>,
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::I(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Val::T(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Val::B(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Val::NullI | Val::NullT => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    let msg = e.to_string();
    if crate::db::is_unique_violation(&msg) {
        StoreError::Conflict(msg)
    } else {
        StoreError::Backend(msg)
    }
}

fn open_conn(path: &Path, write: bool) -> Result<Connection, StoreError> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    conn.set_prepared_statement_cache_capacity(64);
    if write {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    // Statement journals and savepoints' sub-journals in memory, not in
    // temporary files: they live for one statement or transaction.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(err)?;
    if !write {
        // Readers map the database instead of copying each page out of
        // the page cache with pread (IMAP streams whole mailboxes: the
        // copies were the largest cost of a 100,000-message sync). Writes
        // still go through the one writer's ordinary I/O.
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(err)?;
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )
    .map_err(err)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let current: i64 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(&schema::render(m, schema::SQLITE_ID, schema::SQLITE_BLOB))
            .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(i + 1).to_string()],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

fn run_stmts(conn: &Connection, stmts: &[Stmt]) -> Result<Vec<u64>, StoreError> {
    let mut changed = Vec::with_capacity(stmts.len());
    for s in stmts {
        let mut st = conn.prepare_cached(s.sql).map_err(err)?;
        let params = rusqlite::params_from_iter(s.params.iter());
        let n = if s.returning {
            let mut rows = st.query(params).map_err(err)?;
            let first = match rows.next().map_err(err)? {
                Some(r) => r.get::<_, i64>(0).map_err(err)? as u64,
                None => 0,
            };
            // Step to the end so every row's change is made.
            while rows.next().map_err(err)?.is_some() {}
            first
        } else {
            st.execute(params).map_err(err)? as u64
        };
        if n == 0 {
            if let Some(e) = &s.must_change {
                return Err(e.clone());
            }
        }
        changed.push(n);
    }
    Ok(changed)
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let results = commit_group(&mut conn, &jobs);
        for (job, res) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(res);
        }
    }
}

/// One transaction for the whole group, committed once. Jobs almost never
/// fail, so they first run one after another as they are; only if one
/// fails is the transaction rolled back and the group run again with each
/// job in its own SAVEPOINT, so that one job's error does not undo the
/// others. (A savepoint costs on every job: SQLite copies each page it
/// first changes inside one into a sub-journal.)
fn commit_group(conn: &mut Connection, jobs: &[WriteJob]) -> Vec<Result<Vec<u64>, StoreError>> {
    match commit_all(conn, jobs) {
        Some(results) => results,
        None => commit_each(conn, jobs),
    }
}

/// The group without savepoints; None when a job failed and the group
/// must run again job by job (a lone job's error is its result).
fn commit_all(
    conn: &mut Connection,
    jobs: &[WriteJob],
) -> Option<Vec<Result<Vec<u64>, StoreError>>> {
    conn.execute_batch("BEGIN IMMEDIATE").ok()?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        match run_stmts(conn, &job.stmts) {
            Ok(r) => results.push(Ok(r)),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return (jobs.len() == 1).then(|| vec![Err(e)]);
            }
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let e = err(e);
        let _ = conn.execute_batch("ROLLBACK");
        return Some(jobs.iter().map(|_| Err(e.clone())).collect());
    }
    Some(results)
}

/// The group with each job in a SAVEPOINT.
fn commit_each(conn: &mut Connection, jobs: &[WriteJob]) -> Vec<Result<Vec<u64>, StoreError>> {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = err(e);
        return jobs.iter().map(|_| Err(e.clone())).collect();
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let r = conn
            .execute_batch("SAVEPOINT job")
            .map_err(err)
            .and_then(|_| run_stmts(conn, &job.stmts));
        let end = if r.is_ok() {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            let e = err(e);
            let _ = conn.execute_batch("ROLLBACK");
            return jobs.iter().map(|_| Err(e.clone())).collect();
        }
        results.push(r);
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let e = err(e);
        let _ = conn.execute_batch("ROLLBACK");
        return jobs.iter().map(|_| Err(e.clone())).collect();
    }
    results
}

fn read_row(r: &rusqlite::Row, n: usize) -> rusqlite::Result<Row> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(match r.get_ref(i)? {
            ValueRef::Integer(x) => Val::I(x),
            ValueRef::Real(x) => Val::I(x as i64),
            ValueRef::Text(t) => Val::T(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Val::B(b.to_vec()),
            ValueRef::Null => Val::NullI,
        });
    }
    Ok(Row(v))
}

/// One read on a pooled reader connection (opened when none is free).
fn read(
    readers: &Mutex<Vec<Connection>>,
    path: &Path,
    sql: &'static str,
    params: &[Val],
) -> Result<Vec<Row>, StoreError> {
    let conn = readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let conn = match conn {
        Some(c) => c,
        None => open_conn(path, false)?,
    };
    let res = (|| {
        let mut st = conn.prepare_cached(sql).map_err(err)?;
        let n = st.column_count();
        let rows = st
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                read_row(r, n)
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    })();
    let mut pool = readers.lock().unwrap_or_else(|p| p.into_inner());
    if pool.len() < 16 {
        pool.push(conn);
    }
    res
}

impl Sqlite {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    fn open_blocking(path: PathBuf) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let mut conn = open_conn(&path, true)?;
        migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Sqlite {
            path,
            readers: Arc::new(Mutex::new(Vec::new())),
            writer: Mutex::new(tx),
        })
    }

    /// A read on the blocking pool: it may be long (many rows, a large
    /// body, a page from disk).
    pub async fn query(&self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, StoreError> {
        let (readers, path) = (self.readers.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || read(&readers, &path, sql, &params))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// A read on the caller's thread, for indexed lookups of a few small
    /// rows: in WAL mode a reader never waits for the writer, and such a
    /// read takes a few microseconds, less than handing it to another
    /// thread and back.
    pub fn lookup(&self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, StoreError> {
        read(&self.readers, &self.path, sql, &params)
    }

    pub async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(WriteJob { stmts, reply })
            .map_err(|_| StoreError::Backend("store writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("store writer has stopped".into()))?
    }
}
