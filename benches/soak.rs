//! Soak client (benches/soak.sh): holds `--conns` authenticated TLS connections for
//! `--secs`, closing and reopening `--churn` of them a second and running `--ops` finds a
//! second on random ones, while sampling the proxy's RSS and open descriptors
//! (`--pid`). Prints ONE JSON line: RSS at the start of the hold, at the end and its
//! peak, the drift, errors by kind and descriptor counts (held, at the end, after close).
//! Loopback targets only (see support/rawconn.rs).

#[path = "support/measure.rs"]
#[allow(dead_code)]
mod measure;
#[path = "support/rawconn.rs"]
mod rawconn;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::rawdoc;
use futures_util::StreamExt;
use rand::Rng;
use serde_json::json;
use tokio::sync::Mutex;

use measure::rss_kib;
use rawconn::{target_from_uri, Conn, Target};

struct Args {
    uri: String,
    conns: usize,
    secs: u64,
    churn: u64,
    ops: u64,
    pid: u32,
    sample_secs: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        uri: String::new(),
        conns: 10_000,
        secs: 1_800,
        churn: 20,
        ops: 500,
        pid: 0,
        sample_secs: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let n = || {
            v.parse::<u64>()
                .map_err(|_| format!("{k}: not a number: {v}"))
        };
        match k.as_str() {
            "--uri" => a.uri = v.clone(),
            "--conns" => a.conns = n()? as usize,
            "--secs" => a.secs = n()?,
            "--churn" => a.churn = n()?,
            "--ops" => a.ops = n()?,
            "--pid" => a.pid = n()? as u32,
            "--sample-secs" => a.sample_secs = n()?.max(1),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.uri.is_empty() || a.pid == 0 {
        return Err("--uri and --pid are required".into());
    }
    Ok(a)
}

fn fds(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(dir.count() as u64)
}

#[derive(Default)]
struct Errors {
    open: AtomicU64,
    command: AtomicU64,
}

type Slots = Arc<Vec<Mutex<Option<Conn>>>>;

async fn open_all(target: &Arc<Target>, n: usize, errors: &Errors) -> Vec<Mutex<Option<Conn>>> {
    futures_util::stream::iter(0..n)
        .map(|_| {
            let t = target.clone();
            async move { Conn::open(&t, true).await }
        })
        .buffer_unordered(64)
        .map(|r| {
            if let Err(e) = &r {
                if errors.open.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("soak: open failed: {e}");
                }
            }
            Mutex::new(r.ok())
        })
        .collect()
        .await
}

/// Closes and reopens one random connection per tick.
async fn churn(
    slots: Slots,
    target: Arc<Target>,
    per_sec: u64,
    until: Instant,
    errors: Arc<Errors>,
) -> u64 {
    let mut done = 0;
    if per_sec == 0 {
        return 0;
    }
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec));
    while Instant::now() < until {
        tick.tick().await;
        let i = rand::thread_rng().gen_range(0..slots.len());
        let old = slots[i].lock().await.take();
        if let Some(c) = old {
            c.close().await;
        }
        match Conn::open(&target, true).await {
            Ok(c) => *slots[i].lock().await = Some(c),
            Err(e) => {
                if errors.open.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("soak: reopen failed: {e}");
                }
            }
        }
        done += 1;
    }
    done
}

/// One find a tick on a random held connection.
async fn traffic(slots: Slots, per_sec: u64, until: Instant, errors: Arc<Errors>) -> u64 {
    let mut done = 0;
    if per_sec == 0 {
        return 0;
    }
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec));
    while Instant::now() < until {
        tick.tick().await;
        let i = rand::thread_rng().gen_range(0..slots.len());
        let mut slot = slots[i].lock().await;
        let Some(c) = slot.as_mut() else { continue };
        let find = rawdoc! {"find": "bench", "filter": {"_id": 1}, "limit": 1, "singleBatch": true, "$db": "bench"};
        if let Err(e) = c.command(find).await {
            if errors.command.fetch_add(1, Ordering::Relaxed) < 3 {
                eprintln!("soak: command failed: {e}");
            }
            *slot = None;
        }
        done += 1;
    }
    done
}

async fn run(a: Args) -> Result<serde_json::Value, String> {
    let target = Arc::new(target_from_uri(&a.uri)?);
    Conn::open(&target, true).await?.close().await;
    let errors = Arc::new(Errors::default());
    let fd_before = fds(a.pid);
    let started = Instant::now();
    let slots: Slots = Arc::new(open_all(&target, a.conns, &errors).await);
    let ramp_secs = started.elapsed().as_secs_f64();
    let rss_start = rss_kib(a.pid);
    let fd_held = fds(a.pid);
    let until = Instant::now() + Duration::from_secs(a.secs);
    let c = tokio::spawn(churn(
        slots.clone(),
        target.clone(),
        a.churn,
        until,
        errors.clone(),
    ));
    let t = tokio::spawn(traffic(slots.clone(), a.ops, until, errors.clone()));
    let mut samples = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(a.sample_secs).min(until - Instant::now())).await;
        samples.push(
            json!({"t": started.elapsed().as_secs(), "rss_kib": rss_kib(a.pid), "fds": fds(a.pid)}),
        );
    }
    let churned = c.await.map_err(|e| e.to_string())?;
    let ops = t.await.map_err(|e| e.to_string())?;
    let rss_end = rss_kib(a.pid);
    let fd_end = fds(a.pid);
    let held = {
        let mut n = 0;
        for s in slots.iter() {
            n += usize::from(s.lock().await.is_some());
        }
        n
    };
    for s in slots.iter() {
        if let Some(c) = s.lock().await.take() {
            c.close().await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fd_after = fds(a.pid);
    let peak = samples.iter().filter_map(|s| s["rss_kib"].as_u64()).max();
    let drift = match (rss_start, rss_end) {
        (Some(s), Some(e)) if s > 0 => Some((e as f64 - s as f64) * 100.0 / s as f64),
        _ => None,
    };
    Ok(json!({
        "conns": a.conns, "held_at_end": held, "secs": a.secs, "ramp_secs": ramp_secs,
        "churn_per_sec": a.churn, "churned": churned, "ops_per_sec": a.ops, "ops": ops,
        "errors": {"open": errors.open.load(Ordering::Relaxed), "command": errors.command.load(Ordering::Relaxed)},
        "rss_kib": {"start": rss_start, "end": rss_end, "peak": peak},
        "rss_drift_pct": drift,
        "fds": {"before": fd_before, "held": fd_held, "end": fd_end, "after_close": fd_after},
        "samples": samples,
    }))
}

fn main() -> std::process::ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(v) => {
            println!("{v}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
