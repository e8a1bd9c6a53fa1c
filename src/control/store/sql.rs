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

/// Writes one key op in `$tx` (nothing for a check); evaluates to the change-log kind.
/// A macro, like [`on_pool!`], so one text serves both transaction types.
macro_rules! write_one {
    ($tx:expr, $op:expr, $rev:expr) => {
        match $op {
            Op::Put { key, value, .. } => {
                sqlx::query(
                    "INSERT INTO kv (key, value, revision) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     revision = excluded.revision",
                )
                .bind(key.as_str())
                .bind(value.to_string())
                .bind($rev)
                .execute(&mut *$tx)
                .await
                .map_err(db_error)?;
                Some("put")
            }
            Op::Delete { key, .. } => {
                sqlx::query("DELETE FROM kv WHERE key = $1")
                    .bind(key.as_str())
                    .execute(&mut *$tx)
                    .await
                    .map_err(db_error)?;
                Some("delete")
            }
            Op::Check { .. } | Op::DeletePrefix { .. } => None,
        }
    };
}

macro_rules! log_change {
    ($tx:expr, $rev:expr, $key:expr, $kind:expr) => {
        sqlx::query(
            "INSERT INTO changes (revision, key, kind) VALUES ($1, $2, $3) \
             ON CONFLICT (revision, key) DO UPDATE SET kind = excluded.kind",
        )
        .bind($rev)
        .bind($key)
        .bind($kind)
        .execute(&mut *$tx)
        .await
        .map_err(db_error)?
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
    // Deletes and checks (other than "absent") need the key to exist.
    let (key, expect, must_exist) = match op {
        Op::Put { key, expect, .. } => (key, *expect, false),
        Op::Delete { key, expect } => (key, *expect, true),
        Op::Check { key, expect } => (key, *expect, *expect != Expect::Absent),
        Op::DeletePrefix { .. } => return Ok(()),
    };
    let conflict = || StoreError::Conflict { key: key.clone() };
    let missing = || StoreError::NotFound { key: key.clone() };
    match (expect, current) {
        (Expect::Absent, Some(_)) => Err(conflict()),
        (Expect::Absent, None) if must_exist => Err(missing()),
        (Expect::Absent, None) => Ok(()),
        (Expect::Revision(_), None) => Err(missing()),
        (Expect::Revision(want), Some(have)) if want != have => Err(conflict()),
        (Expect::Revision(_), Some(_)) => Ok(()),
        (Expect::Any, None) if must_exist => Err(missing()),
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

/// The smallest string above every string that starts with `prefix` (None: no bound).
/// UTF-8 sorts like code points, so the last character that can grow is raised by one.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `key` within [`$1`, `$2`) in byte order, as a range the index answers: SQLite's
/// primary key compares bytes; PostgreSQL needs the "C" collation (migration 0003), or
/// its collation (en_US, ...) would order keys by other rules and the range would be wrong.
fn range_where(backend: &Backend, bounded: bool) -> &'static str {
    match (backend, bounded) {
        (Backend::Sqlite(_), true) => "key >= $1 AND key < $2",
        (Backend::Sqlite(_), false) => "key >= $1",
        (Backend::Postgres(_), true) => "key COLLATE \"C\" >= $1 AND key COLLATE \"C\" < $2",
        (Backend::Postgres(_), false) => "key COLLATE \"C\" >= $1",
    }
}

fn list_sql(backend: &Backend, prefix: &str) -> (String, Option<String>) {
    let end = prefix_end(prefix);
    let sql = format!(
        "SELECT key, value, revision FROM kv WHERE {}",
        range_where(backend, end.is_some())
    );
    (sql, end)
}

pub async fn list(backend: &Backend, prefix: &str) -> Result<Vec<Item>, StoreError> {
    let (sql, end) = list_sql(backend, prefix);
    let rows: Vec<(String, String, i64)> = on_pool!(backend, pool => {
        let mut q = sqlx::query_as(&sql).bind(prefix);
        if let Some(end) = &end {
            q = q.bind(end);
        }
        q.fetch_all(pool).await.map_err(db_error)?
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

/// The query plan of [`list`] for `prefix`, one line per step. On PostgreSQL sequential
/// scans are switched off for the question, so the answer shows whether an index *can*
/// serve the range (on a small table the planner would rightly prefer a scan).
pub async fn list_plan(backend: &Backend, prefix: &str) -> Result<String, StoreError> {
    let (sql, end) = list_sql(backend, prefix);
    let lines: Vec<String> = match backend {
        Backend::Sqlite(pool) => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut q = sqlx::query(&explain).bind(prefix);
            if let Some(end) = &end {
                q = q.bind(end);
            }
            let rows = q.fetch_all(pool).await.map_err(db_error)?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(3))
                .collect::<Result<_, _>>()
                .map_err(db_error)?
        }
        Backend::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(db_error)?;
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let explain = format!("EXPLAIN {sql}");
            let mut q = sqlx::query_scalar(&explain).bind(prefix);
            if let Some(end) = &end {
                q = q.bind(end);
            }
            q.fetch_all(&mut *tx).await.map_err(db_error)?
        }
    };
    Ok(lines.join("\n"))
}

/// Changes above `rev`, or None when `rev` is below the pruned horizon (some changes
/// after it are gone). The horizon is read *after* the changes: a prune that commits in
/// between raises it, so a follower is never told "complete" about a pruned range.
pub async fn changes_since(
    backend: &Backend,
    rev: Revision,
) -> Result<Option<Vec<Change>>, StoreError> {
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
    if rev < horizon(backend).await? {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(revision, key, kind)| Change {
                revision,
                key,
                kind: if kind == "delete" {
                    ChangeKind::Delete
                } else {
                    ChangeKind::Put
                },
            })
            .collect(),
    ))
}

/// Every change at or below this revision may have been pruned.
pub async fn horizon(backend: &Backend) -> Result<Revision, StoreError> {
    on_pool!(backend, pool => {
        sqlx::query_scalar::<_, i64>("SELECT pruned_through FROM meta WHERE id = 1")
            .fetch_one(pool)
            .await
            .map_err(db_error)
    })
}

/// Deletes the change log's lines older than the newest `keep` revisions. Answers how many
/// lines went. The horizon moves in the same transaction, under the revision row's lock.
pub async fn prune(backend: &Backend, keep: i64) -> Result<u64, StoreError> {
    let keep = keep.max(0);
    on_pool!(backend, pool => {
        let mut tx = pool.begin().await.map_err(db_error)?;
        let horizon: i64 = sqlx::query_scalar(
            "UPDATE meta SET pruned_through = CASE WHEN revision - $1 > pruned_through \
             THEN revision - $1 ELSE pruned_through END WHERE id = 1 RETURNING pruned_through",
        )
        .bind(keep)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let gone = sqlx::query("DELETE FROM changes WHERE revision <= $1")
            .bind(horizon)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        tx.commit().await.map_err(db_error)?;
        Ok(gone)
    })
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
            // An error drops `tx`, which rolls everything back.
            let (key, kind) = match op {
                Op::DeletePrefix { prefix } => {
                    if prefix.is_empty() {
                        return Err(StoreError::Invalid("delete of an empty prefix".into()));
                    }
                    let end = prefix_end(prefix);
                    let sql = format!(
                        "DELETE FROM kv WHERE {} RETURNING key",
                        range_where(backend, end.is_some())
                    );
                    let mut q = sqlx::query_scalar::<_, String>(&sql).bind(prefix);
                    if let Some(end) = &end {
                        q = q.bind(end);
                    }
                    for key in q.fetch_all(&mut *tx).await.map_err(db_error)? {
                        log_change!(tx, rev, key.as_str(), "delete");
                    }
                    continue;
                }
                Op::Put { key, .. } | Op::Delete { key, .. } | Op::Check { key, .. } => {
                    let current: Option<i64> =
                        sqlx::query_scalar("SELECT revision FROM kv WHERE key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    check(op, current)?;
                    (key.as_str(), write_one!(tx, op, rev))
                }
            };
            if let Some(kind) = kind {
                log_change!(tx, rev, key, kind);
            }
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

    fn check(expect: Expect) -> Op {
        Op::Check {
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
            (del(Expect::Revision(4)), Some(3), conflict.clone()),
            (del(Expect::Revision(4)), None, missing.clone()),
            (check(Expect::Any), Some(3), Ok(())),
            (check(Expect::Any), None, missing.clone()),
            (check(Expect::Absent), None, Ok(())),
            (check(Expect::Absent), Some(3), conflict.clone()),
            (check(Expect::Revision(3)), Some(3), Ok(())),
            (check(Expect::Revision(2)), Some(3), conflict),
            (check(Expect::Revision(3)), None, missing),
        ];
        for (op, current, want) in cases {
            assert_eq!(super::check(&op, current), want, "{op:?} on {current:?}");
        }
    }

    #[test]
    fn prefix_ends_bound_exactly_the_prefix() {
        assert_eq!(prefix_end("groups/").as_deref(), Some("groups0"));
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
        for (prefix, key) in [
            ("p/", "p/\u{10FFFF}\u{10FFFF}"),
            ("p/é", "p/éz"),
            ("x", "x"),
        ] {
            let end = prefix_end(prefix).unwrap();
            assert!(
                key.starts_with(prefix) && key < end.as_str(),
                "{key} < {end}"
            );
        }
    }
}
