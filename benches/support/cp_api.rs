//! Admin API load: N concurrent HTTPS clients (one connection each, the owner's bearer
//! token) repeat one single-resource operation for a warm-up and a measured window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::cp_env::{http_client, Env};
use crate::measure::Histogram;

/// The operations measured, each on its own so its percentiles are its own.
pub const OPS: [&str; 3] = ["get_user", "patch_user", "post_delete_entry"];

pub struct Load {
    pub clients: usize,
    pub warmup: Duration,
    pub secs: Duration,
}

/// One database user per client (created through the API), so writes never conflict.
pub async fn users(env: &Env, g: &str, clients: usize) -> Result<(), String> {
    for i in 0..clients {
        let body = json!({"username": format!("api-{i}"), "databaseName": "admin",
            "password": "bench-Passw0rd", "roles": [{"roleName": "read", "databaseName": "bench"}]});
        env.expect(
            "POST",
            &format!("/groups/{g}/databaseUsers"),
            Some(body),
            201,
        )
        .await?;
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    hist: BTreeMap<&'static str, Histogram>,
    errors: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn add(&mut self, name: &'static str, took: Duration, ok: bool, measured: bool) {
        if !measured {
            return;
        }
        if ok {
            self.hist
                .entry(name)
                .or_default()
                .record(took.as_micros() as u64);
        } else {
            *self.errors.entry(name).or_default() += 1;
        }
    }
}

async fn timed(
    env: &Env,
    http: &reqwest::Client,
    m: Method,
    path: &str,
    body: Option<&Value>,
    want: u16,
) -> (Duration, bool) {
    let t = Instant::now();
    let ok = matches!(env.call(http, m, path, body).await, Ok((s, _)) if s == want);
    (t.elapsed(), ok)
}

/// One client's loop over `op` until `end`; only what starts after `measure_from` counts.
async fn client(
    env: &Env,
    g: &str,
    i: usize,
    op: &str,
    measure_from: Instant,
    end: Instant,
) -> Result<Tally, String> {
    let http = http_client(&env.dir.join("certs/ca.pem"))?;
    let user = format!("/groups/{g}/databaseUsers/admin/api-{i}");
    let ip = format!("10.100.{}.{}", i / 250, i % 250 + 1);
    let mut tally = Tally::default();
    let mut k = 0u64;
    while Instant::now() < end {
        let measured = Instant::now() >= measure_from;
        k += 1;
        match op {
            "get_user" => {
                let (t, ok) = timed(env, &http, Method::GET, &user, None, 200).await;
                tally.add("get_user", t, ok, measured);
            }
            "patch_user" => {
                let body = json!({"description": format!("bench {k}")});
                let (t, ok) = timed(env, &http, Method::PATCH, &user, Some(&body), 200).await;
                tally.add("patch_user", t, ok, measured);
            }
            _ => {
                let body = json!([{"ipAddress": ip, "comment": "api bench"}]);
                let list = format!("/groups/{g}/accessList");
                let (t, ok) = timed(env, &http, Method::POST, &list, Some(&body), 201).await;
                tally.add("post_entry", t, ok, measured);
                let one = format!("{list}/{ip}");
                let (t, ok) = timed(env, &http, Method::DELETE, &one, None, 204).await;
                tally.add("delete_entry", t, ok, measured);
            }
        }
    }
    Ok(tally)
}

/// Runs `op` with `load.clients` clients; one JSON object per measured request kind.
pub async fn run(env: &Env, g: &str, op: &str, load: &Load) -> Result<Vec<Value>, String> {
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.secs;
    let tasks = (0..load.clients).map(|i| client(env, g, i, op, measure_from, end));
    let results = futures_util::future::join_all(tasks).await;
    let mut all = Tally::default();
    for r in results {
        let t = r?;
        for (k, h) in &t.hist {
            all.hist.entry(k).or_default().merge(h);
        }
        for (k, e) in t.errors {
            *all.errors.entry(k).or_default() += e;
        }
    }
    let secs = load.secs.as_secs_f64();
    let mut out = Vec::new();
    let mut names: Vec<&str> = all.hist.keys().copied().collect();
    names.extend(all.errors.keys().filter(|k| !all.hist.contains_key(*k)));
    for name in names {
        let h = all.hist.remove(name).unwrap_or_default();
        out.push(json!({
            "op": name,
            "clients": load.clients,
            "requests": h.count(),
            "req_per_sec": (h.count() as f64 / secs).round(),
            "p50_ms": ms(h.quantile(0.50)),
            "p99_ms": ms(h.quantile(0.99)),
            "mean_ms": (h.mean() / 10.0).round() / 100.0,
            "errors": all.errors.get(name).copied().unwrap_or(0),
        }));
    }
    Ok(out)
}

pub fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}
