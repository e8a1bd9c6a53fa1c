//! A fast, canned MongoDB upstream for load tests: answers hello, ping, buildInfo, find,
//! getMore, insert, aggregate ($match by _id, $limit), killCursors and endSessions from memory,
//! so that a benchmark measures the proxy in front of it rather than the server.
//!
//! Run: `cargo bench --bench fast_upstream -- --port 27999 [--docs 10000] [--collection bench]`
//! (or `target/release/deps/fast_upstream-*`). Listens on 127.0.0.1 only. One task per
//! connection on a single-threaded runtime (pin it with `taskset`); requests are decoded with
//! mongoward's own `wire` codec and replies are written into reused buffers.
//! On SIGUSR1 it prints `connections open=N peak=P accepted=T` and restarts the peak from
//! the connections open now (benches/pool.sh counts a proxy's upstream connections so).

#[path = "support/rawbson.rs"]
mod rawbson;
#[path = "support/upstream_cmds.rs"]
mod upstream_cmds;
#[path = "support/upstream_store.rs"]
mod upstream_store;

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use mongoward::wire::{self, Limits, Request, HEADER_LEN, OP_MSG, OP_REPLY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use upstream_cmds::{Cmd, Conn};
use upstream_store::Store;

struct Args {
    port: u16,
    docs: usize,
    collection: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 27999,
        docs: 10_000,
        collection: "bench".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--docs" => a.docs = value()?.parse().map_err(|e| format!("--docs: {e}"))?,
            "--collection" => a.collection = value()?,
            // `cargo bench` appends --bench to every bench binary's arguments.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fast_upstream: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(serve(args))
}

/// Connections open now, the most open at once since the last report, and all accepted.
static OPEN: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

/// Counts one open connection for as long as it lives.
struct Counted;

impl Counted {
    fn new() -> Self {
        let open = OPEN.fetch_add(1, Ordering::Relaxed) + 1;
        PEAK.fetch_max(open, Ordering::Relaxed);
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Prints the connection counts on every SIGUSR1, then restarts the peak.
async fn report_on_usr1(mut usr1: tokio::signal::unix::Signal) {
    while usr1.recv().await.is_some() {
        let open = OPEN.load(Ordering::Relaxed);
        let peak = PEAK.swap(open, Ordering::Relaxed);
        let accepted = ACCEPTED.load(Ordering::Relaxed);
        println!("connections open={open} peak={peak} accepted={accepted}");
    }
}

async fn serve(args: Args) -> std::process::ExitCode {
    // Installed before the port opens, so an early SIGUSR1 cannot kill the process.
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::user_defined1()) {
        Ok(usr1) => {
            tokio::spawn(report_on_usr1(usr1));
        }
        Err(e) => eprintln!("fast_upstream: cannot listen for SIGUSR1: {e}"),
    }
    let store = Arc::new(Store::preloaded(&args.collection, args.docs));
    let listener = match TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "fast_upstream: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "fast_upstream listening on {addr} ({} docs in {:?})",
        args.docs, args.collection
    );
    let next_conn = AtomicI32::new(1);
    loop {
        let (sock, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("fast_upstream: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next_conn.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(sock, store.clone(), id));
    }
}

/// Serves one connection until it closes or sends something undecodable.
async fn connection(mut sock: TcpStream, store: Arc<Store>, id: i32) {
    let _counted = Counted::new();
    let _ = sock.set_nodelay(true);
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::with_capacity(16 * 1024);
    let mut conn = Conn {
        id,
        key: Vec::with_capacity(32),
    };
    loop {
        let n = loop {
            match wire::frame_length(&buf, limits.max_message_size) {
                Ok(Some(n)) if buf.len() >= n => break n,
                Ok(Some(n)) => buf.reserve(n - buf.len()),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("fast_upstream: conn {id}: bad frame: {e}");
                    return;
                }
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let frame = buf.split_to(n).freeze();
        out.clear();
        match wire::decode_request(frame, &limits) {
            Ok(Request::Msg(m)) => {
                let cmd = Cmd {
                    name: m.command_name(),
                    body: m.body(),
                    db: m.db().unwrap_or("admin"),
                    seq_docs: m
                        .sequence("documents")
                        .map(|s| s.documents().collect())
                        .unwrap_or_default(),
                };
                if m.more_to_come() {
                    // Fire-and-forget (w:0): execute, answer nothing.
                    let mut scratch = Vec::new();
                    upstream_cmds::handle(&store, &mut conn, &cmd, &mut scratch);
                    continue;
                }
                let request_id = m.header().request_id;
                framed(&mut out, OP_MSG, request_id, |o| {
                    upstream_cmds::handle(&store, &mut conn, &cmd, o)
                });
            }
            Ok(Request::Query(q)) => {
                let cmd = Cmd {
                    name: q.command_name(),
                    body: q.command(),
                    db: q
                        .full_collection_name()
                        .split('.')
                        .next()
                        .unwrap_or("admin"),
                    seq_docs: Vec::new(),
                };
                framed(&mut out, OP_REPLY, q.header().request_id, |o| {
                    upstream_cmds::handle(&store, &mut conn, &cmd, o)
                });
            }
            Err(e) => {
                eprintln!("fast_upstream: conn {id}: undecodable request: {e}");
                return;
            }
        }
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Writes a whole reply message: header, the opcode's prefix, then the body `f` appends.
fn framed(out: &mut Vec<u8>, op_code: i32, response_to: i32, f: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(&[0; HEADER_LEN]);
    if op_code == OP_MSG {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.push(0);
    } else {
        // OP_REPLY: responseFlags AwaitCapable, cursorID 0, startingFrom 0, numberReturned 1.
        out.extend_from_slice(&8i32.to_le_bytes());
        out.extend_from_slice(&0i64.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&1i32.to_le_bytes());
    }
    f(out);
    let len = i32::try_from(out.len()).unwrap_or(i32::MAX);
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&response_to.wrapping_add(1 << 20).to_le_bytes());
    out[8..12].copy_from_slice(&response_to.to_le_bytes());
    out[12..16].copy_from_slice(&op_code.to_le_bytes());
}
