//! Control-plane benchmark (issue 12, "Performance"). Prints JSON lines; never asserts
//! numbers. Run through `benches/control.sh`, which builds the release executables.
//!
//!   control --mw PATH --upstream PATH --mode api|enforce [--postgres] [--instances N]
//!           [--clients 50] [--warmup-secs 2] [--secs 10] [--samples 100]
//!           [--bulk-users N] [--bulk-entries N] [--keep DIR]
//!
//! `api`: single-resource admin API operations at `--clients` concurrent HTTPS clients.
//! `enforce`: change -> enforcement latency, measured on the LAST instance (with two or
//! more, not the one that took the API call); `--bulk-*` first loads that many users and
//! access-list entries through the store (the scale run) and reports the instance's memory.

#[path = "support/cp_api.rs"]
mod cp_api;
#[path = "support/cp_enforce.rs"]
mod cp_enforce;
#[path = "support/cp_env.rs"]
mod cp_env;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;
#[path = "../tests/common/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "support/rawconn.rs"]
mod rawconn;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use cp_env::{Env, Setup};

struct Args {
    setup: Setup,
    mode: String,
    load: cp_api::Load,
    samples: usize,
    bulk_users: usize,
    bulk_entries: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        setup: Setup {
            mw: PathBuf::new(),
            upstream: PathBuf::new(),
            postgres: false,
            instances: 1,
            keep: None,
        },
        mode: "api".into(),
        load: cp_api::Load {
            clients: 50,
            warmup: Duration::from_secs(2),
            secs: Duration::from_secs(10),
        },
        samples: 100,
        bulk_users: 0,
        bulk_entries: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // cargo bench passes it
        }
        if flag == "--postgres" {
            a.setup.postgres = true;
            continue;
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--mw" => a.setup.mw = v.into(),
            "--upstream" => a.setup.upstream = v.into(),
            "--mode" => a.mode = v,
            "--instances" => a.setup.instances = num(&v)?.max(1),
            "--clients" => a.load.clients = num(&v)?.max(1),
            "--warmup-secs" => a.load.warmup = Duration::from_secs(num(&v)? as u64),
            "--secs" => a.load.secs = Duration::from_secs(num(&v)?.max(1) as u64),
            "--samples" => a.samples = num(&v)?.max(1),
            "--bulk-users" => a.bulk_users = num(&v)?,
            "--bulk-entries" => a.bulk_entries = num(&v)?,
            "--keep" => a.setup.keep = Some(v.into()),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if !a.setup.mw.is_file() || !a.setup.upstream.is_file() {
        return Err("--mw and --upstream must name the release executables".into());
    }
    Ok(a)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn emit(base: &Value, extra: Value) {
    let mut line = base.clone();
    if let (Some(o), Value::Object(e)) = (line.as_object_mut(), extra) {
        o.extend(e);
        o.insert("loadavg_after".into(), json!(loadavg()));
    }
    println!("{line}");
}

async fn run(a: &Args) -> Result<(), String> {
    let store = if a.setup.postgres {
        "postgres"
    } else {
        "sqlite"
    };
    let base = json!({"bench": format!("control-{}", a.mode), "store": store,
                      "instances": a.setup.instances, "loadavg_before": loadavg()});
    let env = Env::start(&a.setup).await?;
    let g = env.project("bench").await?;
    match a.mode.as_str() {
        "api" => {
            cp_api::users(&env, &g, a.load.clients).await?;
            for op in cp_api::OPS {
                for line in cp_api::run(&env, &g, op, &a.load).await? {
                    emit(&base, line);
                }
            }
        }
        "enforce" => {
            let last = env.instances.len() - 1;
            let mut extra = json!({"measured_on": last});
            if a.bulk_users + a.bulk_entries > 0 {
                let rss_before = measure::rss_kib(env.pid(last));
                let loaded =
                    cp_enforce::bulk_load(&env, &g, a.bulk_users, a.bulk_entries, 1000).await?;
                extra =
                    json!({"measured_on": last, "rss_kib_before_load": rss_before, "load": loaded});
            }
            let r = cp_enforce::run(&env, &g, last, a.samples).await?;
            let mut line = r;
            if let (Some(o), Value::Object(e)) = (line.as_object_mut(), extra) {
                o.extend(e);
                o.insert("rss_kib".into(), json!(measure::rss_kib(env.pid(last))));
                o.insert("rss_hwm_kib".into(), json!(hwm_kib(env.pid(last))));
            }
            emit(&base, line);
        }
        other => return Err(format!("--mode {other}: api or enforce")),
    }
    Ok(())
}

/// VmHWM (peak resident memory) of a process in KiB.
fn hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("control bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("control bench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("control bench: {e}");
            ExitCode::FAILURE
        }
    }
}
