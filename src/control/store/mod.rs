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

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
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

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    watch: tokio::sync::watch::Receiver<Revision>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a writer waits for another process's SQLite write lock, or for a pooled
/// connection, before the store counts as unavailable.
const WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens `sqlite:///path/state.db` (WAL, created if missing) or
    /// `postgres://user@host:port/db` (`password` overrides the URL's) and applies the
    /// migrations.
    pub async fn open(url: &str, password: Option<String>) -> Result<Store, StoreError> {
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            open_sqlite(path).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            open_postgres(url, password).await?
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL '{}': use sqlite:///path or postgres://user@host:port/db",
                redact_url(url)
            )));
        };
        match &backend {
            Backend::Sqlite(p) => MIGRATOR.run(p).await,
            Backend::Postgres(p) => MIGRATOR.run(p).await,
        }
        .map_err(|e| StoreError::Invalid(format!("migration failed: {e}")))?;
        let first = sql::revision(&backend).await?;
        let watch = watch::start(&backend, url, first);
        Ok(Store { backend, watch })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        sql::get(&self.backend, key).await
    }

    /// Every item whose key starts with `prefix`, sorted by key (byte order).
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

    /// Changes with a revision above `rev`, oldest first.
    pub async fn changes_since(&self, rev: Revision) -> Result<Vec<Change>, StoreError> {
        sql::changes_since(&self.backend, rev).await
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

async fn open_postgres(url: &str, password: Option<String>) -> Result<Backend, StoreError> {
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("{}: {e}", redact_url(url))))?;
    if let Some(p) = password {
        opts = opts.password(&p);
    }
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(WAIT)
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", redact_url(url))))?;
    Ok(Backend::Postgres(pool))
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
    use super::redact_url;

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
