//! Refused connections per second: the cost of turning away a client the access list
//! does not cover (accept, one lookup, close; no TLS byte).
//!
//! The proxy runs in-process on a current-thread runtime (one core) with a 10,000-entry
//! list that excludes 127.0.0.3; a client on another thread, bound to 127.0.0.3, connects
//! repeatedly (at most `CONNECTS` connects or `DURATION`) and waits for each close.
//! Prints one JSON line. `cargo bench --bench refused`; under `cargo test` (no `--bench`
//! argument) it runs a short smoke pass instead.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongoward::config::Config;
use mongoward::proxy::stats::Stats;
use mongoward::proxy::Running;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

const ENTRIES: usize = 10_000;
const CONNECTS: u64 = 20_000;
const DURATION: Duration = Duration::from_secs(5);
/// Connects in flight at once: enough to keep the accept loop busy.
const CONCURRENCY: usize = 32;
const CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Deterministic xorshift so runs are comparable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Distinct blocks in 10.0.0.0/8 and 2001:db8::/32 (never 127.0.0.3), as TOML tables.
fn access_list_toml() -> String {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    while seen.len() < ENTRIES {
        let r = rng.next();
        let cidr = if r & 1 == 0 {
            let len = 24 + ((r >> 8) % 9) as u8;
            let addr = Ipv4Addr::from(0x0A00_0000 | ((r >> 16) as u32 & 0x00ff_ffff));
            ipnet::Ipv4Net::new(addr, len).map(|n| n.trunc().to_string())
        } else {
            let len = 48 + ((r >> 8) % 81) as u8;
            let addr = (0x2001_0db8_u128 << 96) | u128::from(rng.next());
            ipnet::Ipv6Net::new(Ipv6Addr::from(addr), len).map(|n| n.trunc().to_string())
        };
        let Ok(cidr) = cidr else { continue };
        if seen.insert(cidr.clone()) {
            out.push_str(&format!("[[access_list]]\ncidr = \"{cidr}\"\n"));
        }
    }
    out
}

fn load_config(dir: &std::path::Path) -> Config {
    let certs = mongoward::tls::dev_certs::generate(&[]).expect("certs");
    let paths = mongoward::tls::dev_certs::write(dir, &certs).expect("write certs");
    // No upstream is needed: nobody gets past the gate.
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"default\"\nuri = \"mongodb://127.0.0.1:9\"\n{}",
        paths.cert,
        paths.key,
        access_list_toml()
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).expect("write config");
    Config::load(&path).expect("bench config is valid")
}

/// Starts the proxy on its own thread and current-thread runtime; returns it once bound.
fn start_proxy(config: Config) -> (Arc<Running>, tokio::sync::oneshot::Sender<()>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let running = mongoward::proxy::start(&config)
                .await
                .expect("proxy starts");
            ready_tx.send(Arc::new(running)).expect("bench alive");
            let _ = stop_rx.await;
        });
    });
    (ready_rx.recv().expect("proxy started"), stop_tx)
}

/// One refused connection: connect from 127.0.0.3 and wait for the proxy to close it.
/// Returns the bytes the proxy sent (must be 0).
async fn one_refusal(to: SocketAddr) -> std::io::Result<usize> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((CLIENT, 0)))?;
    let mut tcp = socket.connect(to).await?;
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf).await {
        Ok(n) => Ok(n),
        Err(_) => Ok(0), // reset: closed, nothing sent
    }
}

/// Hammers `to` with `CONCURRENCY` workers until `limit` connects or `within` passes.
async fn hammer(to: SocketAddr, limit: u64, within: Duration) -> (u64, u64) {
    let started = Arc::new(AtomicU64::new(0));
    let leaked = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + within;
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (started, leaked) = (started.clone(), leaked.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline && started.fetch_add(1, Ordering::Relaxed) < limit {
                match one_refusal(to).await {
                    Ok(0) => {}
                    Ok(n) => {
                        leaked.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) => panic!("connect to {to} failed: {e}"),
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let done = started.load(Ordering::Relaxed).min(limit);
    (done, leaked.load(Ordering::Relaxed))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (limit, within) = if full {
        (CONNECTS, DURATION)
    } else {
        (200, Duration::from_secs(1))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load_config(dir.path());
    let entries = config.access_list.len();
    let (running, stop) = start_proxy(config);
    let to = running.tls_addrs[0];
    let counter = &running.stats().connections_refused_access_list;
    let before = Stats::get(counter);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    let (connects, leaked) = client.block_on(hammer(to, limit, within));
    let secs = t0.elapsed().as_secs_f64();
    let refused = Stats::get(counter) - before;
    assert_eq!(leaked, 0, "refused clients must get no bytes");
    assert_eq!(refused, connects, "every connect was refused and counted");
    let line = serde_json::json!({
        "bench": "refused",
        "access_list_entries": entries,
        "client": CLIENT.to_string(),
        "concurrency": CONCURRENCY,
        "connects": connects,
        "refused": refused,
        "secs": (secs * 1000.0).round() / 1000.0,
        "refused_per_sec": (refused as f64 / secs).round(),
        "proxy_runtime": "current_thread",
    });
    println!("{line}");
    let _ = stop.send(());
}
