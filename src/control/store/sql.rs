//! The SQL, written once: each function body is expanded for both pool types by
//! [`on_pool!`], so SQLite and PostgreSQL run the same statements (numbered `$n`
//! parameters are understood by both).

use serde_json::Value;
use sqlx::Row;

use super::{Backend, Change, ChangeKind, Expect, Item, Op, Revision, StoreError};

/// The NOTIFY channel followers LISTEN on (PostgreSQL).
pub const CHANNEL: &str = "mongoward_revision";

macro_rules! on_pool {
    ($backend:expr, $pool:ident => $body:expr) => {
        match $backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

pub fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) => {
            let msg = d.message().to_string();
            // SQLite: another process holds the write lock beyond busy_timeout.
            // PostgreSQL 57P01/57P03/08xxx: the server is going away or not accepting.
            let busy = msg.contains("database is locked") || msg.contains("database is busy");
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            if busy || code.starts_with("08") || code.starts_with("57P") {
                StoreError::Unavailable(msg)
            } else {
                StoreError::Invalid(msg)
            }
        }
        other => StoreError::Invalid(other.to_string()),
    }
}

/// Whether `op` may run on a key whose current revision is `current` (pure).
pub fn check(op: &Op, current: Option<Revision>) -> Result<(), StoreError> {
    let (key, expect, delete) = match op {
        Op::Put { key, expect, .. } => (key, *expect, false),
        Op::Delete { key, expect } => (key, *expect, true),
    };
    let conflict = || StoreError::Conflict { key: key.clone() };
    let missing = || StoreError::NotFound { key: key.clone() };
    match (expect, current) {
        (Expect::Absent, Some(_)) => Err(conflict()),
        (Expect::Absent, None) if delete => Err(missing()),
        (Expect::Absent, None) => Ok(()),
        (Expect::Revision(_), None) => Err(missing()),
        (Expect::Revision(want), Some(have)) if want != have => Err(conflict()),
        (Expect::Revision(_), Some(_)) => Ok(()),
        (Expect::Any, None) if delete => Err(missing()),
        (Expect::Any, _) => Ok(()),
    }
}

pub async fn revision(backend: &Backend) -> Result<Revision, StoreError> {
    on_pool!(backend, pool => {
        sqlx::query_scalar::<_, i64>("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(pool)
            .await
            .map_err(db_error)
    })
}

fn parse_value(key: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Invalid(format!("{key}: stored value is not JSON: {e}")))
}

pub async fn get(backend: &Backend, key: &str) -> Result<Option<Item>, StoreError> {
    let row: Option<(String, i64)> = on_pool!(backend, pool => {
        sqlx::query_as("SELECT value, revision FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?
    });
    row.map(|(text, revision)| {
        Ok(Item {
            key: key.to_string(),
            value: parse_value(key, &text)?,
            revision,
        })
    })
    .transpose()
}

pub async fn list(backend: &Backend, prefix: &str) -> Result<Vec<Item>, StoreError> {
    // substr/length rather than LIKE: keys may hold '_' and '%'; rather than a range:
    // PostgreSQL's collation would not be byte order.
    let rows: Vec<(String, String, i64)> = on_pool!(backend, pool => {
        sqlx::query_as(
            "SELECT key, value, revision FROM kv WHERE substr(key, 1, length($1)) = $1",
        )
        .bind(prefix)
        .fetch_all(pool)
        .await
        .map_err(db_error)?
    });
    rows.into_iter()
        .map(|(key, text, revision)| {
            let value = parse_value(&key, &text)?;
            Ok(Item {
                key,
                value,
                revision,
            })
        })
        .collect()
}

pub async fn changes_since(backend: &Backend, rev: Revision) -> Result<Vec<Change>, StoreError> {
    let rows = on_pool!(backend, pool => {
        sqlx::query(
            "SELECT revision, key, kind FROM changes WHERE revision > $1 ORDER BY revision, key",
        )
        .bind(rev)
        .fetch_all(pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|r| {
            let kind: String = r.try_get(2)?;
            Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?, kind))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(db_error)?
    });
    Ok(rows
        .into_iter()
        .map(|(revision, key, kind)| Change {
            revision,
            key,
            kind: if kind == "delete" {
                ChangeKind::Delete
            } else {
                ChangeKind::Put
            },
        })
        .collect())
}

pub async fn apply(backend: &Backend, ops: &[Op]) -> Result<Revision, StoreError> {
    let notify = matches!(backend, Backend::Postgres(_));
    on_pool!(backend, pool => {
        let mut tx = pool.begin().await.map_err(db_error)?;
        // First statement is a write: it takes the write lock before anything is read,
        // so every check below sees the latest committed state (and SQLite never has to
        // upgrade a read snapshot, which would fail instead of waiting).
        let rev: i64 = sqlx::query_scalar(
            "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        for op in ops {
            let key = match op {
                Op::Put { key, .. } | Op::Delete { key, .. } => key.as_str(),
            };
            let current: Option<i64> =
                sqlx::query_scalar("SELECT revision FROM kv WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            // An error drops `tx`, which rolls everything back.
            check(op, current)?;
            let kind = match op {
                Op::Put { value, .. } => {
                    sqlx::query(
                        "INSERT INTO kv (key, value, revision) VALUES ($1, $2, $3) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                         revision = excluded.revision",
                    )
                    .bind(key)
                    .bind(value.to_string())
                    .bind(rev)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    "put"
                }
                Op::Delete { .. } => {
                    sqlx::query("DELETE FROM kv WHERE key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    "delete"
                }
            };
            sqlx::query(
                "INSERT INTO changes (revision, key, kind) VALUES ($1, $2, $3) \
                 ON CONFLICT (revision, key) DO UPDATE SET kind = excluded.kind",
            )
            .bind(rev)
            .bind(key)
            .bind(kind)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if notify {
            // Delivered on commit, to every instance LISTENing.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(rev.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(rev)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(expect: Expect) -> Op {
        Op::Put {
            key: "k".into(),
            value: Value::Null,
            expect,
        }
    }

    fn del(expect: Expect) -> Op {
        Op::Delete {
            key: "k".into(),
            expect,
        }
    }

    #[test]
    fn expectations_table() {
        let conflict = Err(StoreError::Conflict { key: "k".into() });
        let missing = Err(StoreError::NotFound { key: "k".into() });
        let cases = [
            (put(Expect::Any), None, Ok(())),
            (put(Expect::Any), Some(3), Ok(())),
            (put(Expect::Absent), None, Ok(())),
            (put(Expect::Absent), Some(3), conflict.clone()),
            (put(Expect::Revision(3)), Some(3), Ok(())),
            (put(Expect::Revision(2)), Some(3), conflict.clone()),
            (put(Expect::Revision(3)), None, missing.clone()),
            (del(Expect::Any), Some(3), Ok(())),
            (del(Expect::Any), None, missing.clone()),
            (del(Expect::Absent), None, missing.clone()),
            (del(Expect::Absent), Some(1), conflict.clone()),
            (del(Expect::Revision(3)), Some(3), Ok(())),
            (del(Expect::Revision(4)), Some(3), conflict),
            (del(Expect::Revision(4)), None, missing),
        ];
        for (op, current, want) in cases {
            assert_eq!(check(&op, current), want, "{op:?} on {current:?}");
        }
    }
}
