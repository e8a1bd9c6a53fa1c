//! The control-plane store: a small key-value store with one global revision and a change
//! log, on SQLite (embedded, several processes of one host share the file in WAL mode) or
//! PostgreSQL (several machines). Both run the same migrations and the same SQL.
//!
//! Every [`Store::apply`] is one transaction that first bumps the revision row. That row
//! is the write lock on both backends (SQLite's single writer, PostgreSQL's row lock), so
//! optimistic `Expect` checks read the latest committed state and a conflicting writer
//! gets [`StoreError::Conflict`], never a lost update.

mod sql;
mod watch;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
pub use sqlx::postgres::PgSslMode;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;

pub type Revision = i64;

/// A stored value and the revision that last wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: String,
    pub value: Value,
    pub revision: Revision,
}

/// Optimistic concurrency: what the writer believes about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    Absent,
    Revision(Revision),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Put {
        key: String,
        value: Value,
        expect: Expect,
    },
    Delete {
        key: String,
        expect: Expect,
    },
    /// Writes nothing; the whole apply fails unless `expect` holds for `key` (`Any`: the
    /// key exists). A record's parent is checked this way, so a child is never written
    /// beside a parent deleted meanwhile.
    Check {
        key: String,
        expect: Expect,
    },
    /// Deletes every key that starts with `prefix` (none is fine), each with its line in
    /// the change log. It reads inside the transaction, so nothing written before it
    /// survives, whatever the caller listed earlier.
    DeletePrefix {
        prefix: String,
    },
}

impl Op {
    /// The op that makes an apply fail unless `key` exists (at any revision).
    pub fn exists(key: impl Into<String>) -> Op {
        Op::Check {
            key: key.into(),
            expect: Expect::Any,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Put,
    Delete,
}

/// One line of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: Revision,
    pub key: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// An `Expect` did not hold (the API answers 409).
    #[error("conflict on {key}: it changed since it was read")]
    Conflict { key: String },
    /// A delete, or a put expecting a revision, of a key that does not exist.
    #[error("{key} does not exist")]
    NotFound { key: String },
    /// The store cannot be reached (the API answers 503; the data plane keeps its policy).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Bad URL, failed migration, corrupt value.
    #[error("store: {0}")]
    Invalid(String),
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How to reach a PostgreSQL store, beyond its URL (SQLite ignores all but nothing).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// Overrides the URL's password.
    pub password: Option<String>,
    /// Overrides the URL's `sslmode` (and `PGSSLMODE`).
    pub ssl_mode: Option<PgSslMode>,
    /// Overrides the URL's `sslrootcert`.
    pub ca_file: Option<PathBuf>,
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    watch: tokio::sync::watch::Receiver<Revision>,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migrations for one backend: a file named `NNNN_postgres_...` runs only on
/// PostgreSQL, `NNNN_sqlite_...` only on SQLite, any other on both. A database only ever
/// sees its own backend's set, so sqlx's check of applied migrations still holds.
fn migrator(postgres: bool) -> sqlx::migrate::Migrator {
    let skip = if postgres { "sqlite " } else { "postgres " };
    let migrations: Vec<_> = MIGRATIONS
        .iter()
        .filter(|m| !m.description.starts_with(skip))
        .cloned()
        .collect();
    sqlx::migrate::Migrator {
        migrations: migrations.into(),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

/// How long a writer waits for another process's SQLite write lock, or for a pooled
/// connection, before the store counts as unavailable.
const WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens `sqlite:///path/state.db` (WAL, created if missing) or
    /// `postgres://user@host:port/db` (`password` overrides the URL's) and applies the
    /// migrations.
    pub async fn open(url: &str, password: Option<String>) -> Result<Store, StoreError> {
        let connect = Connect {
            password,
            ..Connect::default()
        };
        Store::open_with(url, connect).await
    }

    /// [`Store::open`] with PostgreSQL TLS settings (see [`tls_mode`] for the default).
    pub async fn open_with(url: &str, connect: Connect) -> Result<Store, StoreError> {
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            open_sqlite(path).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            open_postgres(url, connect).await?
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL '{}': use sqlite:///path or postgres://user@host:port/db",
                redact_url(url)
            )));
        };
        match &backend {
            Backend::Sqlite(p) => migrator(false).run(p).await,
            Backend::Postgres(p) => migrator(true).run(p).await,
        }
        .map_err(|e| StoreError::Invalid(format!("migration failed: {e}")))?;
        let first = sql::revision(&backend).await?;
        let watch = watch::start(&backend, url, first);
        Ok(Store { backend, watch })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        sql::get(&self.backend, key).await
    }

    /// Every item whose key starts with `prefix`, sorted by key (byte order). A range scan
    /// of the key index on both backends (see [`Store::list_plan`]), so listing a project
    /// never reads the activity feed (`events/...`) or anything else outside the prefix.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = sql::list(&self.backend, prefix).await?;
        items.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(items)
    }

    /// Atomic: every `Expect` holds and all ops are written under one new revision, or
    /// nothing is written. Returns the new revision.
    pub async fn apply(&self, ops: Vec<Op>) -> Result<Revision, StoreError> {
        if ops.is_empty() {
            return Err(StoreError::Invalid("apply: no operations".into()));
        }
        sql::apply(&self.backend, &ops).await
    }

    pub async fn revision(&self) -> Result<Revision, StoreError> {
        sql::revision(&self.backend).await
    }

    /// How the backend answers [`Store::list`] for `prefix` (its EXPLAIN), for tests and
    /// for operators checking an index is used.
    pub async fn list_plan(&self, prefix: &str) -> Result<String, StoreError> {
        sql::list_plan(&self.backend, prefix).await
    }

    /// Changes with a revision above `rev`, oldest first; `None` when some of them were
    /// pruned (`rev` is below [`Store::horizon`]): the caller must reload everything.
    pub async fn changes_since(&self, rev: Revision) -> Result<Option<Vec<Change>>, StoreError> {
        sql::changes_since(&self.backend, rev).await
    }

    /// The change log's pruned horizon: changes at or below it may be gone.
    pub async fn horizon(&self) -> Result<Revision, StoreError> {
        sql::horizon(&self.backend).await
    }

    /// Keeps the change log's newest `keep` revisions and deletes older lines (records
    /// and events stay). Answers how many lines went. Safe to run from every instance.
    pub async fn prune_changes(&self, keep: u64) -> Result<u64, StoreError> {
        sql::prune(&self.backend, i64::try_from(keep).unwrap_or(i64::MAX)).await
    }

    /// The latest revision known: PostgreSQL LISTEN/NOTIFY (plus a periodic check that
    /// also catches up after a reconnect); SQLite polling every 100 ms.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.watch.clone()
    }

    /// Which backend this is, for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

async fn open_sqlite(path: &str) -> Result<Backend, StoreError> {
    if path.is_empty() {
        return Err(StoreError::Invalid(
            "sqlite URL without a path: use sqlite:///var/lib/mongoward/state.db".into(),
        ));
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(WAIT);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(WAIT)
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite {path}: {e}")))?;
    Ok(Backend::Sqlite(pool))
}

async fn open_postgres(url: &str, connect: Connect) -> Result<Backend, StoreError> {
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("{}: {e}", redact_url(url))))?;
    if let Some(p) = connect.password {
        opts = opts.password(&p);
    }
    let has_ca = connect.ca_file.is_some() || url_has_param(url, "sslrootcert");
    if let Some(ca) = &connect.ca_file {
        opts = opts.ssl_root_cert(ca);
    }
    let named = connect.ssl_mode.or_else(|| {
        let env = std::env::var("PGSSLMODE").ok().and_then(|m| m.parse().ok());
        url_has_param(url, "sslmode")
            .then(|| opts.get_ssl_mode())
            .or(env)
    });
    let mode = tls_mode(named, opts.get_host(), has_ca);
    if matches!(mode, PgSslMode::Disable) && !is_local(opts.get_host()) {
        tracing::warn!(store = %redact_url(url), "store.tls.disabled: the PostgreSQL store is reached without TLS");
    }
    opts = opts.ssl_mode(mode);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(WAIT)
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", redact_url(url))))?;
    Ok(Backend::Postgres(pool))
}

/// Whether the URL's query names `param`.
fn url_has_param(url: &str, param: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some(param)))
}

/// A loopback address, `localhost` or a Unix-socket directory.
fn is_local(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The sslmode to use (pure): the one named (setting, URL, `PGSSLMODE`), else
/// `verify-full` (a CA file given, or a remote host: the store holds credentials and
/// policy, so a network path gets an authenticated server), else `prefer` (loopback).
pub fn tls_mode(named: Option<PgSslMode>, host: &str, has_ca: bool) -> PgSslMode {
    match named {
        Some(mode) => mode,
        None if has_ca || !is_local(host) => PgSslMode::VerifyFull,
        None => PgSslMode::Prefer,
    }
}

/// The URL without any password, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth.and_then(|a| a.split_once(':')) {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_url, tls_mode, url_has_param, PgSslMode};

    #[test]
    fn tls_defaults_to_verified_off_the_host() {
        use PgSslMode::*;
        let cases = [
            (None, "db.internal", false, VerifyFull),
            (None, "10.0.0.5", false, VerifyFull),
            (None, "127.0.0.1", false, Prefer),
            (None, "localhost", false, Prefer),
            (None, "[::1]", false, Prefer),
            (None, "/var/run/postgresql", false, Prefer),
            (None, "127.0.0.1", true, VerifyFull),
            (Some(Disable), "db.internal", false, Disable),
            (Some(Require), "db.internal", true, Require),
        ];
        for (named, host, ca, want) in cases {
            let got = tls_mode(named, host, ca);
            assert!(
                std::mem::discriminant(&got) == std::mem::discriminant(&want),
                "{named:?} {host} {ca}: {got:?}"
            );
        }
        assert!(url_has_param(
            "postgres://h/db?a=1&sslmode=require",
            "sslmode"
        ));
        assert!(!url_has_param(
            "postgres://h/db?xsslmode=require",
            "sslmode"
        ));
        assert!(!url_has_param("postgres://h/sslmode", "sslmode"));
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://mw:s3cret@db:5432/mw"),
            "postgres://mw:***@db:5432/mw"
        );
        assert_eq!(
            redact_url("postgres://mw@db:5432/mw"),
            "postgres://mw@db:5432/mw"
        );
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }
}
