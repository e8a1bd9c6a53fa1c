//! Command line of the load generator, with hard caps so no invocation can run unbounded.

use std::collections::BTreeMap;

use super::measure::parse_pids;

pub const MAX_CLIENTS: usize = 10_000;
pub const MAX_SECS: f64 = 600.0;
pub const MAX_CONNS: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Find,
    Insert,
    Mixed,
    Aggregate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Operations through the official driver (throughput, latency, CPU per op).
    Ops,
    /// Idle authenticated connections: RSS per connection, then close and reopen.
    Idle,
    /// Full connection set-ups (TCP + TLS + hello + SCRAM) per second and per CPU-second.
    Setup,
    /// Prints SCRAM-SHA-256 credentials (TOML) for --user/--password and exits.
    Creds,
}

pub struct Args {
    pub mode: Mode,
    pub uri: String,
    pub clients: usize,
    pub workload: Workload,
    pub warmup_secs: f64,
    pub secs: f64,
    pub max_ops: u64,
    pub pids: BTreeMap<String, u32>,
    pub docs: i32,
    pub db: String,
    pub collection: String,
    pub conns: usize,
    /// Ops mode: idle authenticated connections opened first and held through the run.
    pub idle_conns: usize,
    pub rounds: usize,
    pub label: String,
    pub user: String,
    pub password: String,
}

pub const USAGE: &str = "loadgen --uri URI [--mode ops|idle|setup|creds] [--clients N] \
[--workload find|insert|mixed|aggregate] [--warmup-secs S] [--secs S] [--max-ops N] \
[--pids name=PID,...] [--docs N] [--db D] [--collection C] [--conns N] [--idle-conns N] \
[--rounds R] \
[--label L] [--user U --password P]";

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

pub fn parse(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        mode: Mode::Ops,
        uri: String::new(),
        clients: 8,
        workload: Workload::Find,
        warmup_secs: 2.0,
        secs: 5.0,
        max_ops: 50_000_000,
        pids: BTreeMap::new(),
        docs: 10_000,
        db: "bench".into(),
        collection: "bench".into(),
        conns: 1_000,
        idle_conns: 0,
        rounds: 2,
        label: String::new(),
        user: "bench".into(),
        password: String::new(),
    };
    let mut it = argv;
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // appended by `cargo bench`
        }
        let v = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--mode" => a.mode = mode(&v)?,
            "--uri" => a.uri = v,
            "--clients" => a.clients = num(&flag, &v)?,
            "--workload" => a.workload = workload(&v)?,
            "--warmup-secs" => a.warmup_secs = num(&flag, &v)?,
            "--secs" => a.secs = num(&flag, &v)?,
            "--max-ops" => a.max_ops = num(&flag, &v)?,
            "--pids" => a.pids = parse_pids(&v)?,
            "--docs" => a.docs = num(&flag, &v)?,
            "--db" => a.db = v,
            "--collection" => a.collection = v,
            "--conns" => a.conns = num(&flag, &v)?,
            "--idle-conns" => a.idle_conns = num(&flag, &v)?,
            "--rounds" => a.rounds = num(&flag, &v)?,
            "--label" => a.label = v,
            "--user" => a.user = v,
            "--password" => a.password = v,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    validate(&a)?;
    Ok(a)
}

fn validate(a: &Args) -> Result<(), String> {
    if a.mode != Mode::Creds && a.uri.is_empty() {
        return Err(format!("--uri is required\n{USAGE}"));
    }
    if a.clients == 0 || a.clients > MAX_CLIENTS {
        return Err(format!("--clients must be 1..={MAX_CLIENTS}"));
    }
    let secs_ok = |s: f64| s.is_finite() && (0.0..=MAX_SECS).contains(&s);
    if !secs_ok(a.secs) || !secs_ok(a.warmup_secs) || a.secs == 0.0 {
        return Err(format!(
            "--secs must be in (0, {MAX_SECS}], --warmup-secs in [0, {MAX_SECS}]"
        ));
    }
    if a.conns == 0 || a.conns > MAX_CONNS || a.rounds == 0 || a.rounds > 10 {
        return Err(format!("--conns must be 1..={MAX_CONNS}, --rounds 1..=10"));
    }
    if a.idle_conns > MAX_CONNS {
        return Err(format!("--idle-conns must be 0..={MAX_CONNS}"));
    }
    if a.docs <= 0 {
        return Err("--docs must be positive".into());
    }
    Ok(())
}

fn mode(v: &str) -> Result<Mode, String> {
    Ok(match v {
        "ops" => Mode::Ops,
        "idle" => Mode::Idle,
        "setup" => Mode::Setup,
        "creds" => Mode::Creds,
        _ => return Err(format!("--mode: unknown {v:?}")),
    })
}

fn workload(v: &str) -> Result<Workload, String> {
    Ok(match v {
        "find" => Workload::Find,
        "insert" => Workload::Insert,
        "mixed" => Workload::Mixed,
        "aggregate" => Workload::Aggregate,
        _ => return Err(format!("--workload: unknown {v:?}")),
    })
}
