//! Load generator on the official `mongodb` driver. Prints ONE JSON line.
//!
//! `--mode ops` (default): N concurrent tasks run find-by-_id / insert-one / mixed 90/10 /
//! aggregate($match _id) for a warm-up, then a measured window; reports ops/s, p50/p99/p99.9
//! latency (µs), errors and the CPU time of the `--pids` processes and of itself over the window.
//! `--idle-conns N` (ops mode): first opens N idle authenticated connections, reports VmRSS per
//! connection of each pid, and holds them open through the measured run.
//! `--mode idle`: opens `--conns` idle authenticated TLS connections, reports VmRSS per connection
//! of each pid, closes them, repeats `--rounds` times (a leak shows as growth between rounds).
//! `--mode setup`: full connection set-ups (TCP + TLS + hello + SCRAM) per second and CPU.
//! `--mode creds`: prints SCRAM-SHA-256 credentials TOML for `--user`/`--password`.
//! Bounded in time (hard deadline) and count (`--max-ops`); loopback targets only.

#[path = "support/loadargs.rs"]
mod loadargs;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/rawconn.rs"]
mod rawconn;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, rawdoc, RawDocumentBuf};
use futures_util::StreamExt;
use mongodb::options::{ClientOptions, ConnectionString};
use mongodb::{Client, Collection};
use serde_json::{json, Value};

use loadargs::{Args, Mode, Workload};
use measure::{cpu_report, rss_kib, snapshot, Histogram};
use rawconn::{loopback_hosts, target_from_uri, Conn};

const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack on top of warm-up + measured time before the whole run is abandoned.
const GRACE: Duration = Duration::from_secs(60);

fn main() -> std::process::ExitCode {
    let args = match loadargs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.mode == Mode::Creds {
        return creds(&args);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let deadline = Duration::from_secs_f64(args.warmup_secs + args.secs)
        + GRACE
        + Duration::from_secs(if args.mode == Mode::Idle {
            120 * args.rounds as u64
        } else if args.idle_conns > 0 {
            120
        } else {
            0
        });
    let result = rt.block_on(async {
        let run = async {
            match args.mode {
                Mode::Ops => run_ops(&args).await,
                Mode::Idle => run_idle(&args).await,
                _ => run_setup(&args).await,
            }
        };
        tokio::time::timeout(deadline, run)
            .await
            .unwrap_or_else(|_| Err("hard deadline reached".into()))
    });
    // The driver keeps monitor tasks that never finish: waiting for them would add
    // seconds to every run for nothing, as the measurement is already complete.
    rt.shutdown_background();
    match result {
        Ok(mut v) => {
            v["label"] = json!(args.label);
            println!("{v}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn creds(a: &Args) -> std::process::ExitCode {
    use mongoward::gates::credentials::{credentials_toml, Mechanism, ScramCredential};
    let m = Mechanism::ScramSha256;
    let salt: Vec<u8> = (0..m.salt_len()).map(|_| rand::random::<u8>()).collect();
    match ScramCredential::derive(m, &a.user, &a.password, &salt, m.default_iterations()) {
        Ok(c) => {
            print!("{}", credentials_toml(&[c]));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The watched processes plus this one.
fn all_pids(a: &Args) -> BTreeMap<String, u32> {
    let mut p = a.pids.clone();
    p.insert("client".into(), std::process::id());
    p
}

/// Outcome of one task over the measured window.
#[derive(Default)]
struct TaskResult {
    hist: Histogram,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `clients` tasks calling `op` until the window closes or the op budget is spent;
/// only operations that start and finish inside the window are measured.
async fn timed_loop<F, Fut>(a: &Args, op: F) -> Value
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let t0 = Instant::now() + Duration::from_secs_f64(a.warmup_secs);
    let t1 = t0 + Duration::from_secs_f64(a.secs);
    let pids = all_pids(a);
    let sampler_pids = pids.clone();
    // A plain thread: its sleeps are not delayed by a busy runtime.
    let sampler = std::thread::spawn(move || {
        std::thread::sleep(t0.saturating_duration_since(Instant::now()));
        let before = snapshot(&sampler_pids);
        std::thread::sleep(t1.saturating_duration_since(Instant::now()));
        (before, snapshot(&sampler_pids))
    });
    let budget = Arc::new(AtomicI64::new(i64::try_from(a.max_ops).unwrap_or(i64::MAX)));
    let mut tasks = Vec::new();
    for task in 0..a.clients {
        let (op, budget) = (op.clone(), budget.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = TaskResult::default();
            let mut i = 0u64;
            while Instant::now() < t1 && budget.fetch_sub(1, Ordering::Relaxed) > 0 {
                let start = Instant::now();
                let out = tokio::time::timeout(OP_TIMEOUT, op(task, i)).await;
                let end = Instant::now();
                i += 1;
                let err = match out {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some("operation timed out".to_string()),
                };
                if start >= t0 && end <= t1 {
                    r.hist.record(end.duration_since(start).as_micros() as u64);
                    r.errors += u64::from(err.is_some());
                }
                if let Some(e) = err {
                    r.first_error.get_or_insert(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            r
        }));
    }
    let mut total = TaskResult::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.hist.merge(&r.hist);
            total.errors += r.errors;
            if total.first_error.is_none() {
                total.first_error = r.first_error;
            }
        }
    }
    let (before, after) = sampler.join().unwrap_or_default();
    let h = &total.hist;
    json!({
        "clients": a.clients, "secs": a.secs, "ops": h.count(),
        "ops_per_sec": h.count() as f64 / a.secs, "errors": total.errors,
        "first_error": total.first_error, "mean_us": h.mean(),
        "p50_us": h.quantile(0.50), "p99_us": h.quantile(0.99), "p999_us": h.quantile(0.999),
        "cpu": cpu_report(&pids, &before, &after, h.count()),
    })
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn run_ops(a: &Args) -> Result<Value, String> {
    let cs = ConnectionString::parse(&a.uri).map_err(|e| format!("bad URI: {e}"))?;
    loopback_hosts(&cs)?;
    let held = hold_idle(a).await?;
    let mut opts = ClientOptions::parse(&a.uri)
        .await
        .map_err(|e| format!("bad URI: {e}"))?;
    // The driver's default pool (10) would cap concurrency; the reference used 100.
    let pool = opts.max_pool_size.unwrap_or(100).max(a.clients as u32);
    opts.max_pool_size = Some(pool);
    opts.server_selection_timeout
        .get_or_insert(Duration::from_secs(10));
    let client = Client::with_options(opts).map_err(|e| e.to_string())?;
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .map_err(|e| format!("cannot reach {}: {e}", a.uri))?;
    let coll: Collection<RawDocumentBuf> = client.database(&a.db).collection(&a.collection);
    let (workload, docs) = (a.workload, a.docs as u64);
    let op = move |task: usize, i: u64| {
        let coll = coll.clone();
        async move {
            let mut rng =
                XorShift(((task as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ (i + 1));
            let r = rng.next();
            let id = (r % docs) as i32;
            let insert = match workload {
                Workload::Insert => true,
                Workload::Mixed => (r >> 32) % 10 == 0,
                _ => false,
            };
            let res = if insert {
                let d = rawdoc! {"task": task as i64, "i": i as i64, "pad": "x".repeat(64)};
                coll.insert_one(d).await.map(|_| ())
            } else if workload == Workload::Aggregate {
                aggregate_one(&coll, id).await
            } else {
                coll.find_one(doc! {"_id": id}).await.map(|_| ())
            };
            res.map_err(|e| e.to_string())
        }
    };
    let mut v = timed_loop(a, op).await;
    if let Some((conns, info)) = held {
        v["idle"] = info;
        drop(conns);
    }
    v["mode"] = json!("ops");
    v["workload"] = json!(format!("{:?}", a.workload).to_lowercase());
    v["max_pool_size"] = json!(pool);
    Ok(v)
}

async fn aggregate_one(coll: &Collection<RawDocumentBuf>, id: i32) -> mongodb::error::Result<()> {
    let mut cursor = coll.aggregate([doc! {"$match": {"_id": id}}]).await?;
    while cursor.advance().await? {}
    Ok(())
}

async fn run_setup(a: &Args) -> Result<Value, String> {
    let target = Arc::new(target_from_uri(&a.uri)?);
    // Fail fast (and show why) before the timed loop.
    Conn::open(&target, false).await?.close().await;
    let op = move |_task: usize, _i: u64| {
        let target = target.clone();
        async move {
            let c = Conn::open(&target, false).await?;
            c.close().await;
            Ok(())
        }
    };
    let mut v = timed_loop(a, op).await;
    v["mode"] = json!("setup");
    Ok(v)
}

fn rss_all(pids: &BTreeMap<String, u32>) -> BTreeMap<String, Option<u64>> {
    pids.iter().map(|(n, p)| (n.clone(), rss_kib(*p))).collect()
}

/// Opens `n` idle connections (hello + find once each), 64 at a time; the first error.
async fn open_idle(target: &Arc<rawconn::Target>, n: usize) -> (Vec<Conn>, Option<String>) {
    let opened: Vec<Result<Conn, String>> = futures_util::stream::iter(0..n)
        .map(|_| {
            let t = target.clone();
            async move { Conn::open(&t, true).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let (conns, errs): (Vec<_>, Vec<_>) = opened.into_iter().partition(Result::is_ok);
    let first_error = errs.into_iter().find_map(Result::err);
    (conns.into_iter().flatten().collect(), first_error)
}

/// `--idle-conns`: opens them before the load and reports each pid's VmRSS per connection.
async fn hold_idle(a: &Args) -> Result<Option<(Vec<Conn>, Value)>, String> {
    if a.idle_conns == 0 {
        return Ok(None);
    }
    let target = Arc::new(target_from_uri(&a.uri)?);
    let before = rss_all(&a.pids);
    let start = Instant::now();
    let (conns, first_error) = open_idle(&target, a.idle_conns).await;
    let open_secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = rss_all(&a.pids);
    let n = conns.len();
    let mut per = serde_json::Map::new();
    for name in a.pids.keys() {
        let (b, o) = (before[name], open[name]);
        let per_conn = b
            .zip(o)
            .filter(|_| n > 0)
            .map(|(b, o)| (o as f64 - b as f64) / n as f64);
        per.insert(
            name.clone(),
            json!({"before_kib": b, "open_kib": o, "per_conn_kib": per_conn}),
        );
    }
    let info = json!({"conns": a.idle_conns, "opened": n, "failed": a.idle_conns - n,
        "first_error": first_error, "open_secs": open_secs, "rss": per});
    Ok(Some((conns, info)))
}

async fn run_idle(a: &Args) -> Result<Value, String> {
    let target = Arc::new(target_from_uri(&a.uri)?);
    Conn::open(&target, true).await?.close().await;
    let mut rounds = Vec::new();
    for round in 0..a.rounds {
        let before = rss_all(&a.pids);
        let (conns, first_error) = open_idle(&target, a.conns).await;
        // Let the proxy finish per-connection work (e.g. release handshake buffers).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let open = rss_all(&a.pids);
        let n = conns.len();
        for c in conns {
            c.close().await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let closed = rss_all(&a.pids);
        let mut per = serde_json::Map::new();
        for name in a.pids.keys() {
            let (b, o, c) = (before[name], open[name], closed[name]);
            let per_conn = b
                .zip(o)
                .filter(|_| n > 0)
                .map(|(b, o)| (o as f64 - b as f64) / n as f64);
            per.insert(
                name.clone(),
                json!({"before_kib": b, "open_kib": o, "closed_kib": c, "per_conn_kib": per_conn}),
            );
        }
        rounds.push(json!({"round": round + 1, "opened": n, "failed": a.conns - n, "first_error": first_error, "rss": per}));
    }
    Ok(json!({"mode": "idle", "conns": a.conns, "rounds": rounds}))
}
