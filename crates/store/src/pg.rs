//! PostgreSQL backend: several nodes share one database.
//!
//! Writes go through one writer task per node that groups waiting batches
//! into one transaction (each batch in a SAVEPOINT only when one of them
//! fails), as the SQLite backend does:
//! one commit, one WAL flush on the server, for many deliveries. Reads use a
//! few pipelined connections.

use crate::db::{pg_placeholders, Row, Stmt, Val};
use crate::schema;
use crate::StoreError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

const READERS: usize = 4;
const MAX_GROUP: usize = 512;

struct WriteJob {
    stmts: Vec<Stmt>,
    reply: oneshot::Sender<Result<Vec<u64>, StoreError>>,
}

/// A reader connection with its prepared statements (one round trip per
/// query instead of two).
struct Reader {
    client: Client,
    prepared: std::sync::Mutex<HashMap<&'static str, Statement>>,
}

pub struct Pg {
    url: String,
    /// Replaced by a new connection when the old one has closed (the
    /// database restarted or the network broke).
    readers: Vec<std::sync::RwLock<std::sync::Arc<Reader>>>,
    next: AtomicUsize,
    writer: mpsc::UnboundedSender<WriteJob>,
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::I(v) if *ty == Type::INT4 => (*v as i32).to_sql(ty, out),
            Val::I(v) if *ty == Type::INT2 => (*v as i16).to_sql(ty, out),
            Val::I(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Val::I(v) => v.to_sql(ty, out),
            Val::T(v) => v.as_str().to_sql(ty, out),
            Val::B(v) => v.as_slice().to_sql(ty, out),
            Val::NullI | Val::NullT => Ok(IsNull::Yes),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn err(e: tokio_postgres::Error) -> StoreError {
    let msg = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(msg)
    } else if e.code() == Some(&tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
        // PostgreSQL text cannot hold U+0000: the input is at fault.
        StoreError::Invalid("the text holds a NUL character, which is not allowed".into())
    } else {
        StoreError::Backend(msg)
    }
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(err)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::error!("postgresql connection: {e}");
        }
    });
    Ok(client)
}

fn params(v: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    v.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn to_row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut v = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let t = c.type_();
        let val = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)
                .map_err(err)?
                .map_or(Val::NullI, Val::I)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map_err(err)?
                .map_or(Val::NullI, |x| Val::I(x as i64))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map_err(err)?
                .map_or(Val::NullI, |x| Val::I(x as i64))
        } else if *t == Type::NUMERIC {
            return Err(StoreError::Backend(format!(
                "column {i}: NUMERIC is not used; cast to BIGINT"
            )));
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)
                .map_err(err)?
                .map_or(Val::NullI, |x| Val::I(x as i64))
        } else if *t == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)
                .map_err(err)?
                .map_or(Val::NullT, Val::B)
        } else {
            r.try_get::<_, Option<String>>(i)
                .map_err(err)?
                .map_or(Val::NullT, Val::T)
        };
        v.push(val);
    }
    Ok(Row(v))
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(err)?;
    // Nodes starting together migrate one at a time.
    tx.execute("SELECT pg_advisory_xact_lock(4242001)", &[])
        .await
        .map_err(err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .await
        .map_err(err)?;
    let current: usize = tx
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .await
        .map_err(err)?
        .and_then(|r| r.get::<_, String>(0).parse().ok())
        .unwrap_or(0);
    for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(&schema::render(m, schema::PG_ID, schema::PG_BLOB))
            .await
            .map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&(i + 1).to_string()],
        )
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

struct Writer {
    client: Client,
    url: String,
    prepared: HashMap<&'static str, Statement>,
}

impl Writer {
    async fn stmt(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&pg_placeholders(sql))
            .await
            .map_err(err)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    async fn run(&mut self, stmts: &[Stmt]) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            let st = self.stmt(s.sql).await?;
            let n = exec(&self.client, &st, s).await.map_err(err)?;
            if n == 0 {
                if let Some(e) = &s.must_change {
                    return Err(e.clone());
                }
            }
            out.push(n);
        }
        Ok(out)
    }

    /// The common case: every statement of every job succeeds. They are sent
    /// pipelined (tokio-postgres writes requests in the order they are first
    /// polled, and the server runs them in that order), so a group costs
    /// about one round trip instead of several per job. Any failure rolls
    /// the whole group back, and the caller retries job by job.
    async fn commit_fast(
        &mut self,
        jobs: &[WriteJob],
    ) -> Option<Vec<Result<Vec<u64>, StoreError>>> {
        let mut stmts = Vec::new();
        for j in jobs {
            for s in &j.stmts {
                stmts.push((self.stmt(s.sql).await.ok()?, s));
            }
        }
        self.client.batch_execute("BEGIN").await.ok()?;
        let client = &self.client;
        let counts = futures_util::future::join_all(
            stmts
                .iter()
                .map(|(st, s)| async move { exec(client, st, s).await }),
        )
        .await;
        let ok = counts
            .iter()
            .zip(&stmts)
            .all(|(c, (_, s))| matches!(c, Ok(n) if *n > 0 || s.must_change.is_none()));
        if !ok {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return None;
        }
        self.client.batch_execute("COMMIT").await.ok()?;
        let mut counts = counts.into_iter().map(|c| c.unwrap_or(0));
        Some(
            jobs.iter()
                .map(|j| Ok(counts.by_ref().take(j.stmts.len()).collect()))
                .collect(),
        )
    }

    async fn commit_group(&mut self, jobs: &[WriteJob]) -> Vec<Result<Vec<u64>, StoreError>> {
        if self.client.is_closed() {
            match connect(&self.url).await {
                Ok(c) => {
                    self.client = c;
                    self.prepared.clear();
                }
                Err(e) => return jobs.iter().map(|_| Err(e.clone())).collect(),
            }
        }
        if let Some(r) = self.commit_fast(jobs).await {
            return r;
        }
        let all = |e: StoreError| jobs.iter().map(|_| Err(e.clone())).collect::<Vec<_>>();
        if let Err(e) = self.client.batch_execute("BEGIN").await {
            return all(err(e));
        }
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let r = match self.client.batch_execute("SAVEPOINT job").await {
                Ok(()) => self.run(&job.stmts).await,
                Err(e) => Err(err(e)),
            };
            let end = if r.is_ok() {
                "RELEASE SAVEPOINT job"
            } else {
                "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"
            };
            if let Err(e) = self.client.batch_execute(end).await {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return all(err(e));
            }
            results.push(r);
        }
        if let Err(e) = self.client.batch_execute("COMMIT").await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return all(err(e));
        }
        results
    }
}

/// Runs one statement of a batch: its row count, or with
/// [`Stmt::returning`] the first row's value.
async fn exec(client: &Client, st: &Statement, s: &Stmt) -> Result<u64, tokio_postgres::Error> {
    if s.returning {
        let rows = client.query(st, &params(&s.params)).await?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    } else {
        client.execute(st, &params(&s.params)).await
    }
}

async fn writer_loop(mut w: Writer, mut rx: mpsc::UnboundedReceiver<WriteJob>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let results = w.commit_group(&jobs).await;
        for (job, res) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(res);
        }
    }
}

impl Pg {
    pub async fn open(url: &str) -> Result<Pg, StoreError> {
        let mut wc = connect(url).await?;
        migrate(&mut wc).await?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(std::sync::RwLock::new(std::sync::Arc::new(Reader {
                client: connect(url).await?,
                prepared: Default::default(),
            })));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer_loop(
            Writer {
                client: wc,
                url: url.to_string(),
                prepared: HashMap::new(),
            },
            rx,
        ));
        Ok(Pg {
            url: url.to_string(),
            readers,
            next: AtomicUsize::new(0),
            writer: tx,
        })
    }

    pub async fn query(&self, sql: &'static str, p: Vec<Val>) -> Result<Vec<Row>, StoreError> {
        let slot = &self.readers[self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len()];
        let mut r = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
        if r.client.is_closed() {
            r = std::sync::Arc::new(Reader {
                client: connect(&self.url).await?,
                prepared: Default::default(),
            });
            *slot.write().unwrap_or_else(|e| e.into_inner()) = r.clone();
        }
        let cached = r
            .prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)
            .cloned();
        let st = match cached {
            Some(st) => st,
            None => {
                let st = r.client.prepare(&pg_placeholders(sql)).await.map_err(err)?;
                r.prepared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(sql, st.clone());
                st
            }
        };
        let rows = r.client.query(&st, &params(&p)).await.map_err(err)?;
        rows.iter().map(to_row).collect()
    }

    pub async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(WriteJob { stmts, reply })
            .map_err(|_| StoreError::Backend("store writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("store writer has stopped".into()))?
    }
}
