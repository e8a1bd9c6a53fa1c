//! The control-plane store on real SQLite and real PostgreSQL: atomic apply, optimistic
//! concurrency under concurrent writers, the change log and the revision feed.

#[path = "common/postgres.rs"]
mod postgres;

use std::time::Duration;

use mongoward::control::{ChangeKind, Expect, Op, Store, StoreError};
use serde_json::json;

fn put(key: &str, value: serde_json::Value, expect: Expect) -> Op {
    Op::Put {
        key: key.into(),
        value,
        expect,
    }
}

fn del(key: &str, expect: Expect) -> Op {
    Op::Delete {
        key: key.into(),
        expect,
    }
}

async fn apply_is_atomic(store: &Store) {
    let r1 = store
        .apply(vec![put("a/1", json!({"v": 1}), Expect::Absent)])
        .await
        .unwrap();
    // The second op's expectation fails: the first op must not be written either.
    let err = store
        .apply(vec![
            put("a/2", json!({"v": 2}), Expect::Absent),
            put("a/1", json!({"v": 9}), Expect::Absent),
        ])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict { key: "a/1".into() });
    assert_eq!(store.get("a/2").await.unwrap(), None);
    assert_eq!(
        store.get("a/1").await.unwrap().unwrap().value,
        json!({"v": 1})
    );
    assert_eq!(
        store.revision().await.unwrap(),
        r1,
        "a failed apply bumps nothing"
    );
    // Several ops share one new revision.
    let r2 = store
        .apply(vec![
            put("a/2", json!("two"), Expect::Absent),
            put("a/1", json!("one"), Expect::Revision(r1)),
            put("b/1", json!(null), Expect::Any),
        ])
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let items = store.list("a/").await.unwrap();
    let keys: Vec<_> = items.iter().map(|i| (i.key.as_str(), i.revision)).collect();
    assert_eq!(keys, [("a/1", r2), ("a/2", r2)]);
}

async fn expectations(store: &Store) {
    let r = store
        .apply(vec![put("e/k", json!(1), Expect::Absent)])
        .await
        .unwrap();
    let conflict = Err(StoreError::Conflict { key: "e/k".into() });
    let missing = |k: &str| Err(StoreError::NotFound { key: k.into() });
    assert_eq!(
        store
            .apply(vec![put("e/k", json!(2), Expect::Absent)])
            .await,
        conflict
    );
    assert_eq!(
        store
            .apply(vec![put("e/k", json!(2), Expect::Revision(r - 1))])
            .await,
        conflict
    );
    assert_eq!(
        store.apply(vec![del("e/k", Expect::Revision(r + 5))]).await,
        conflict
    );
    assert_eq!(
        store.apply(vec![del("e/none", Expect::Any)]).await,
        missing("e/none")
    );
    assert_eq!(
        store
            .apply(vec![put("e/none", json!(1), Expect::Revision(r))])
            .await,
        missing("e/none")
    );
    assert!(matches!(
        store.apply(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
    let r2 = store
        .apply(vec![del("e/k", Expect::Revision(r))])
        .await
        .unwrap();
    assert!(r2 > r);
    assert_eq!(store.get("e/k").await.unwrap(), None);
}

/// Many writers race on one key with the same expected revision: exactly one wins.
async fn one_winner(store: &Store) {
    let r0 = store
        .apply(vec![put("race/k", json!(-1), Expect::Absent)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.apply(vec![put("race/k", json!(i), Expect::Revision(r0))])
                .await
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(rev) => winners.push((i, rev)),
            Err(StoreError::Conflict { key }) => assert_eq!(key, "race/k"),
            Err(e) => panic!("writer {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let item = store.get("race/k").await.unwrap().unwrap();
    assert_eq!(item.value, json!(winners[0].0));
    assert_eq!(item.revision, winners[0].1);
}

/// Read-modify-write with retry on Conflict from two handles (two pools, as two
/// processes would have): every increment survives.
async fn no_lost_update(a: &Store, b: &Store) {
    a.apply(vec![put("count", json!(0), Expect::Any)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            loop {
                let item = s.get("count").await.unwrap().unwrap();
                let n = item.value.as_i64().unwrap();
                let op = put("count", json!(n + 1), Expect::Revision(item.revision));
                match s.apply(vec![op]).await {
                    Ok(_) => return,
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(b.get("count").await.unwrap().unwrap().value, json!(10));
}

async fn change_feed(a: &Store, b: &Store) {
    let start = a.revision().await.unwrap();
    let mut seen = b.watch();
    let r1 = a
        .apply(vec![put("f/x", json!(1), Expect::Any)])
        .await
        .unwrap();
    let r2 = a
        .apply(vec![
            del("f/x", Expect::Any),
            put("f/y", json!(2), Expect::Any),
        ])
        .await
        .unwrap();
    let changes = b
        .changes_since(start)
        .await
        .unwrap()
        .expect("nothing pruned");
    let got: Vec<_> = changes
        .iter()
        .map(|c| (c.revision, c.key.as_str(), c.kind))
        .collect();
    assert_eq!(
        got,
        [
            (r1, "f/x", ChangeKind::Put),
            (r2, "f/x", ChangeKind::Delete),
            (r2, "f/y", ChangeKind::Put),
        ]
    );
    assert_eq!(b.changes_since(r2).await.unwrap(), Some(vec![]));
    // The other handle's watch reaches r2 (the timeout only guards against a hang).
    tokio::time::timeout(Duration::from_secs(30), seen.wait_for(|r| *r >= r2))
        .await
        .expect("watch never saw the write")
        .unwrap();
}

/// Listing by prefix returns exactly the keys under it, whatever bytes they hold ('_', '%',
/// punctuation a collation would reorder, the largest code point), and never the events.
async fn prefix_ranges(store: &Store) {
    let inside = [
        "p/a",
        "p/a%",
        "p/a-b",
        "p/a_b",
        "p/A",
        "p/\u{10FFFF}",
        "p/\u{10FFFF}x",
        "p/é",
    ];
    let outside = [
        "p",
        "p0",
        "p.",
        "p-a",
        "P/a",
        "events/p/a",
        "q/a",
        "p\u{10FFFF}",
    ];
    let ops = inside
        .iter()
        .chain(&outside)
        .map(|k| put(k, json!(k), Expect::Any))
        .collect();
    store.apply(ops).await.unwrap();
    let keys: Vec<String> = store
        .list("p/")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    let mut want: Vec<String> = inside.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(keys, want, "byte order, nothing outside the prefix");
    let top: Vec<String> = store
        .list("p/\u{10FFFF}")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(top, ["p/\u{10FFFF}", "p/\u{10FFFF}x"]);
    let all = store.list("").await.unwrap();
    assert!(all.len() >= inside.len() + outside.len());
    // The plan is an index range, not a table scan (which would read every event too).
    let plan = store.list_plan("groups/").await.unwrap();
    println!("{} list plan: {plan}", store.kind());
    if store.kind() == "sqlite" {
        assert!(
            plan.contains("USING INDEX") && plan.contains("key>? AND key<?"),
            "{plan}"
        );
    } else {
        assert!(
            plan.contains("Index") && plan.contains("kv_key_bytes"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}

/// Pruning keeps the newest revisions; asking from below the horizon answers None.
async fn pruning(store: &Store) {
    let start = store.revision().await.unwrap();
    for i in 0..30 {
        store
            .apply(vec![put(&format!("prune/{i}"), json!(i), Expect::Any)])
            .await
            .unwrap();
    }
    let now = store.revision().await.unwrap();
    let gone = store.prune_changes(10).await.unwrap();
    assert!(gone >= 20, "pruned {gone}");
    assert_eq!(store.horizon().await.unwrap(), now - 10);
    assert_eq!(store.changes_since(start).await.unwrap(), None);
    assert_eq!(store.changes_since(now - 11).await.unwrap(), None);
    let kept = store
        .changes_since(now - 10)
        .await
        .unwrap()
        .expect("complete");
    assert_eq!(kept.len(), 10);
    assert_eq!(kept.first().map(|c| c.revision), Some(now - 9));
    // Pruning again with a larger window never lowers the horizon; records stay.
    assert_eq!(store.prune_changes(1000).await.unwrap(), 0);
    assert_eq!(store.horizon().await.unwrap(), now - 10);
    assert_eq!(store.list("prune/").await.unwrap().len(), 30);
}

/// `Op::exists` fails the whole apply when its key is missing; `DeletePrefix` removes
/// exactly its range and logs each key.
async fn guards_and_prefix_delete(store: &Store) {
    let err = store
        .apply(vec![
            put("g/1/child", json!(1), Expect::Absent),
            Op::exists("g/1"),
        ])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound { key: "g/1".into() });
    assert_eq!(store.get("g/1/child").await.unwrap(), None);
    store
        .apply(vec![
            put("g/1", json!(1), Expect::Absent),
            put("g/1/a", json!(1), Expect::Absent),
            put("g/1/b/c", json!(1), Expect::Absent),
            put("g/10", json!(1), Expect::Absent),
        ])
        .await
        .unwrap();
    let before = store.revision().await.unwrap();
    let rev = store
        .apply(vec![
            Op::DeletePrefix {
                prefix: "g/1/".into(),
            },
            del("g/1", Expect::Any),
        ])
        .await
        .unwrap();
    let keys: Vec<String> = store
        .list("g/")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(keys, ["g/10"]);
    let log: Vec<_> = store
        .changes_since(before)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|c| (c.revision, c.key, c.kind))
        .collect();
    assert_eq!(
        log,
        [
            (rev, "g/1".to_string(), ChangeKind::Delete),
            (rev, "g/1/a".to_string(), ChangeKind::Delete),
            (rev, "g/1/b/c".to_string(), ChangeKind::Delete),
        ]
    );
    let empty = store
        .apply(vec![Op::DeletePrefix {
            prefix: String::new(),
        }])
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
}

mod sqlite {
    use super::*;

    async fn open(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        Store::open(&url, None).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir).await;
        assert_eq!(a.kind(), "sqlite");
        assert_eq!(a.revision().await.unwrap(), 0);
        apply_is_atomic(&a).await;
        expectations(&a).await;
        one_winner(&a).await;
        // A second handle on the same file, as a second process would open it (and the
        // migrations, already applied, run again harmlessly).
        let b = open(&dir).await;
        no_lost_update(&a, &b).await;
        change_feed(&a, &b).await;
        prefix_ranges(&a).await;
        pruning(&a).await;
        guards_and_prefix_delete(&a).await;
        let wal = std::fs::metadata(dir.path().join("state.db-wal"));
        assert!(wal.is_ok(), "the database runs in WAL mode");
    }

    #[tokio::test]
    async fn sqlite_bad_urls_are_clear_errors() {
        let err = Store::open("sqlite://", None).await.err().unwrap();
        assert!(err.to_string().contains("without a path"), "{err}");
        let err = Store::open("mysql://x", None).await.err().unwrap();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        let err = Store::open("sqlite:///nonexistent-dir/x/state.db", None)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    }
}

mod pg {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_store_semantics() {
        let Some(pg) = postgres::Postgres::start() else {
            return;
        };
        let a = Store::open(&pg.url(), None).await.unwrap();
        assert_eq!(a.kind(), "postgres");
        assert_eq!(a.revision().await.unwrap(), 0);
        apply_is_atomic(&a).await;
        expectations(&a).await;
        one_winner(&a).await;
        let b = Store::open(&pg.url(), None).await.unwrap();
        no_lost_update(&a, &b).await;
        change_feed(&a, &b).await;
        prefix_ranges(&a).await;
        pruning(&a).await;
        guards_and_prefix_delete(&a).await;
    }

    /// A database whose collation is not byte order (ICU en-US puts '-' and '/' by other
    /// rules): listing by prefix still returns exactly the prefix, in byte order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_prefix_ranges_under_a_linguistic_collation() {
        let Some(pg) = postgres::Postgres::start() else {
            return;
        };
        let admin = Store::open(&pg.url(), None).await.unwrap();
        drop(admin);
        let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
        let made = sqlx::query(
            "CREATE DATABASE icu TEMPLATE template0 ENCODING 'UTF8' \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
        )
        .execute(&pool)
        .await;
        if let Err(e) = made {
            eprintln!("SKIPPED: this PostgreSQL cannot make an ICU database: {e}");
            return;
        }
        let url = pg.url().replace("/postgres", "/icu");
        let store = Store::open(&url, None).await.unwrap();
        prefix_ranges(&store).await;
    }

    #[tokio::test]
    async fn postgres_unreachable_is_unavailable() {
        let port = postgres::free_port();
        let url = format!("postgres://mw@127.0.0.1:{port}/mw");
        let err = Store::open(&url, Some("secret-pw".into()))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        assert!(!err.to_string().contains("secret-pw"));
    }
}
