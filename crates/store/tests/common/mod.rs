//! Shared by the store's test files: a store on each backend, and
//! `both!`, which runs each listed test on SQLite and on PostgreSQL.
#![allow(dead_code)]

use mailhost_store::Store;

pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (Store::open(&url).await.unwrap(), dir)
}

/// A store in a fresh schema, and the schema's name (dropped by
/// `drop_schema` once the test passed).
pub async fn pg(name: &str) -> Option<(Store, String)> {
    let Ok(base) = std::env::var("MAILHOST_TEST_PG") else {
        assert!(
            std::env::var("CI").is_err(),
            "MAILHOST_TEST_PG must be set under CI"
        );
        eprintln!("MAILHOST_TEST_PG not set: skipping the PostgreSQL run of {name}");
        return None;
    };
    let schema = format!("t_{}_{}", name, std::process::id());
    let (c, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Some((Store::open(&url).await.unwrap(), schema))
}

/// Without this, every run would leave a schema per test behind.
pub async fn drop_schema(schema: &str) {
    let base = std::env::var("MAILHOST_TEST_PG").unwrap();
    let (c, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let (s, _d) = super::common::sqlite().await; super::$name(s).await; }
        )* }
        mod on_postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some((s, schema)) = super::common::pg(stringify!($name)).await {
                    super::$name(s).await;
                    super::common::drop_schema(&schema).await;
                }
            }
        )* }
    };
}
