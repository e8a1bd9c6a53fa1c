//! Change -> enforcement latency: from the admin API's answer to a new database user logging
//! in through a proxy (real TLS + SCRAM-SHA-256), and from the answer to a DELETE to that
//! user's live connection being closed. Plus the bulk load for the scale run.

use std::time::{Duration, Instant};

use mongoward::control::model::{self, AccessEntry, DatabaseUser, RoleAssignment};
use mongoward::control::{Expect, Op, Store};
use mongoward::gates::credentials::{Mechanism, ScramCredential};
use serde_json::{json, Value};

use crate::cp_env::Env;
use crate::measure::Histogram;
use crate::rawconn::{target_from_uri, Conn};

const PASSWORD: &str = "enforce-Passw0rd";
/// Pause between failed login attempts (the measurement's resolution is this plus one
/// attempt: TCP + TLS + hello + saslStart/saslContinue).
const RETRY: Duration = Duration::from_millis(10);
/// Give up on one sample after this.
const GIVE_UP: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Samples {
    pub create: Histogram,
    pub delete: Histogram,
    /// One successful login's own duration: the floor under `create`.
    pub login: Histogram,
    pub attempts: u64,
    pub failures: u64,
}

/// Logs in as `user` on instance `n` until it works; the open connection and the number
/// of attempts, or None after [`GIVE_UP`].
async fn login_until_ok(
    env: &Env,
    n: usize,
    user: &str,
    since: Instant,
    s: &mut Samples,
) -> Option<Conn> {
    let target = target_from_uri(&env.uri(n, user, PASSWORD)).ok()?;
    while since.elapsed() < GIVE_UP {
        let t = Instant::now();
        s.attempts += 1;
        if let Ok(c) = Conn::open(&target, true).await {
            s.login.record(t.elapsed().as_micros() as u64);
            return Some(c);
        }
        tokio::time::sleep(RETRY).await;
    }
    None
}

/// Creates `name` through the API (on instance 0) and waits until it logs in on instance
/// `n`; then deletes it and waits until that connection is closed.
pub async fn sample(
    env: &Env,
    g: &str,
    n: usize,
    name: &str,
    s: &mut Samples,
) -> Result<(), String> {
    let body = json!({"username": name, "databaseName": "admin", "password": PASSWORD,
        "roles": [{"roleName": "readWrite", "databaseName": "bench"}]});
    env.expect(
        "POST",
        &format!("/groups/{g}/databaseUsers"),
        Some(body),
        201,
    )
    .await?;
    let answered = Instant::now();
    let Some(mut conn) = login_until_ok(env, n, name, answered, s).await else {
        s.failures += 1;
        return Err(format!("{name} could not log in within {GIVE_UP:?}"));
    };
    s.create.record(answered.elapsed().as_micros() as u64);
    env.expect(
        "DELETE",
        &format!("/groups/{g}/databaseUsers/admin/{name}"),
        None,
        204,
    )
    .await?;
    let answered = Instant::now();
    if !conn.wait_closed(GIVE_UP).await {
        s.failures += 1;
        return Err(format!(
            "{name}'s connection stayed open {GIVE_UP:?} after the delete"
        ));
    }
    s.delete.record(answered.elapsed().as_micros() as u64);
    Ok(())
}

/// Runs `count` samples (after one unmeasured warm-up) and summarises them.
pub async fn run(env: &Env, g: &str, n: usize, count: usize) -> Result<Value, String> {
    let mut warm = Samples::default();
    sample(env, g, n, "warm-up", &mut warm).await?;
    let mut s = Samples::default();
    for i in 0..count {
        sample(env, g, n, &format!("enforce-{i}"), &mut s).await?;
        // Let the proxy settle, so samples do not queue behind one another. The pause is
        // random: a fixed one would phase-lock the writes to SQLite's 100 ms revision poll.
        let pause = 100 + rand::random::<u64>() % 200;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    let q = |h: &Histogram, p: f64| crate::cp_api::ms(h.quantile(p));
    Ok(json!({
        "samples": s.create.count(),
        "create_p50_ms": q(&s.create, 0.5), "create_p99_ms": q(&s.create, 0.99),
        "create_max_ms": q(&s.create, 1.0),
        "delete_p50_ms": q(&s.delete, 0.5), "delete_p99_ms": q(&s.delete, 0.99),
        "delete_max_ms": q(&s.delete, 1.0),
        "login_p50_ms": q(&s.login, 0.5),
        "login_attempts": s.attempts,
        "failures": s.failures,
    }))
}

fn put(key: String, value: Value) -> Op {
    Op::Put {
        key,
        value,
        expect: Expect::Absent,
    }
}

/// Writes `users` database users and `entries` access-list entries into project `g`
/// straight through the store, `batch` records per transaction. The users share one
/// SCRAM-SHA-256 credential (derived once: 10,000 derivations would time the KDF, not the
/// control plane); they never log in.
pub async fn bulk_load(
    env: &Env,
    g: &str,
    users: usize,
    entries: usize,
    batch: usize,
) -> Result<Value, String> {
    let t = Instant::now();
    let store = Store::open(&env.store_url, None)
        .await
        .map_err(|e| e.to_string())?;
    let salt: Vec<u8> = (0..Mechanism::ScramSha256.salt_len())
        .map(|_| rand::random::<u8>())
        .collect();
    let m = Mechanism::ScramSha256;
    let cred = ScramCredential::derive(m, "bulk", "bulk-Passw0rd", &salt, m.default_iterations())
        .map_err(|e| e.to_string())?;
    let credentials: std::collections::BTreeMap<_, _> = [(m.name().to_string(), cred.to_config())]
        .into_iter()
        .collect();
    let mut ops = Vec::new();
    let mut batches = 0;
    for i in 0..users {
        let name = format!("bulk-{i:05}");
        let rec = DatabaseUser {
            username: name.clone(),
            database_name: "admin".into(),
            group_id: g.into(),
            roles: vec![RoleAssignment {
                role_name: "read".into(),
                database_name: format!("db{}", i % 100),
                collection_name: None,
            }],
            scopes: Vec::new(),
            delete_after_date: None,
            description: None,
            labels: Vec::new(),
            credentials: credentials.clone(),
        };
        let value = serde_json::to_value(rec).map_err(|e| e.to_string())?;
        ops.push(put(model::db_user_key(g, "admin", &name), value));
        batches += flush(&store, &mut ops, batch).await?;
    }
    for i in 0..entries {
        // Disjoint 10.x.y.0/24-/32 blocks of mixed sizes, like benches/compare.sh's list.
        let len = 24 + (i % 9);
        let cidr = format!("10.{}.{}.0/{len}", i / 256, i % 256);
        let rec = AccessEntry {
            group_id: g.into(),
            cidr_block: Some(cidr.clone()),
            ip_address: None,
            comment: Some("bulk".into()),
            delete_after_date: None,
        };
        let value = serde_json::to_value(rec).map_err(|e| e.to_string())?;
        ops.push(put(model::access_entry_key(g, &cidr), value));
        batches += flush(&store, &mut ops, batch).await?;
    }
    batches += flush(&store, &mut ops, 1).await?;
    Ok(
        json!({"bulk_users": users, "bulk_entries": entries, "batches": batches,
              "load_secs": (t.elapsed().as_secs_f64() * 100.0).round() / 100.0}),
    )
}

async fn flush(store: &Store, ops: &mut Vec<Op>, at: usize) -> Result<usize, String> {
    if ops.is_empty() || ops.len() < at {
        return Ok(0);
    }
    store
        .apply(std::mem::take(ops))
        .await
        .map_err(|e| e.to_string())?;
    Ok(1)
}
