//! Issue 7: graceful shutdown of the real binary. SIGTERM while a slow command is in
//! flight: the command completes, new connections are refused, the process exits 0
//! within `drain_timeout_secs`; a message half-received at SIGTERM is read to its end and
//! answered. SIGINT twice exits at once (code 130).
//!
//! The slow command is made slow by a relay between mongoward and the upstream that
//! holds back any upstream-bound chunk carrying a marker string (nx-27017 has no sleep).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bson::rawdoc;
use common::auth::raw_auth;
use common::binary::{command, wait_listening, Reaper};
use common::raw::RawClient;
use common::{certs, config_text, free_port, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MARKER: &[u8] = b"slow-marker-5d1";

/// Relays to `upstream`, delaying upstream-bound chunks that contain MARKER by `delay`.
async fn slow_relay(upstream: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if buf[..n].windows(MARKER.len()).any(|w| w == MARKER) {
                        tokio::time::sleep(delay).await;
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            });
        }
    });
    addr
}

struct Binary {
    child: Reaper,
    addr: SocketAddr,
    _certs: common::Certs,
    ca: std::path::PathBuf,
}

async fn start_binary(upstream_uri: &str, drain_secs: u64) -> Binary {
    let certs = certs();
    let port = free_port();
    let text = config_text(&certs, upstream_uri, "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace(
            "[tls]",
            &format!("drain_timeout_secs = {drain_secs}\n[tls]"),
        );
    let path = certs.dir.path().join("mongoward.toml");
    std::fs::write(&path, text).unwrap();
    let child = command()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mongoward");
    let child = Reaper(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(addr, Duration::from_secs(20), "the binary").await;
    let ca = certs.ca.clone();
    Binary {
        child,
        addr,
        _certs: certs,
        ca,
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The upstream's host:port, for the relay to connect to.
fn upstream_addr(upstream: &Upstream) -> SocketAddr {
    upstream
        .uri
        .trim_start_matches("mongodb://")
        .split(['/', '?'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Logs in and sends the slow find without waiting for its reply.
async fn send_slow_find(bin: &Binary) -> RawClient {
    let mut c = RawClient::connect(bin.addr, &bin.ca).await;
    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("login");
    let marker = std::str::from_utf8(MARKER).unwrap();
    let id = c.next_id();
    let body = rawdoc! {"find": "c", "filter": {"tag": marker}, "$db": "drain"};
    c.send(&mongoward::wire::encode_op_msg(id, 0, 0, &body))
        .await;
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_in_flight_command_and_exits_zero() {
    let upstream = Upstream::start();
    let up = upstream_addr(&upstream);
    let relay = slow_relay(up, Duration::from_millis(1500)).await;
    let mut bin = start_binary(&format!("mongodb://{relay}/?directConnection=true"), 10).await;
    let mut c = send_slow_find(&bin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    signal(&bin.child.0, "-TERM");

    // New connections are refused while the command is still running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        TcpStream::connect(bin.addr).await.is_err(),
        "listener closed"
    );
    assert!(bin.child.0.try_wait().unwrap().is_none(), "still draining");

    let frame = c
        .read_frame()
        .await
        .expect("the in-flight command gets its reply");
    let reply = mongoward::wire::decode_reply(frame.into(), &Default::default());
    let Ok(mongoward::wire::Reply::Msg(m)) = reply else {
        panic!("an OP_MSG reply");
    };
    assert_eq!(
        m.body()
            .get_f64("ok")
            .ok()
            .or(m.body().get_i32("ok").ok().map(f64::from)),
        Some(1.0)
    );
    assert!(m.body().get_document("cursor").is_ok(), "a find result");
    assert!(c.closed().await, "the session closes after its command");

    let status = wait_exit(&mut bin.child.0, Duration::from_secs(10))
        .await
        .expect("exits within the drain timeout");
    assert_eq!(status.code(), Some(0));
    assert!(sent.elapsed() < Duration::from_secs(10));
}

/// A message the client had started sending when SIGTERM came is still read to its end
/// and answered; only then does the session close (nothing the client sent is lost).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_completes_a_half_received_message() {
    let upstream = Upstream::start();
    let mut bin = start_binary(&upstream.uri, 10).await;
    let mut c = RawClient::connect(bin.addr, &bin.ca).await;
    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("login");
    let id = c.next_id();
    let body = rawdoc! {"insert": "half", "documents": [{"_id": 1, "pad": "x".repeat(2000)}], "$db": "drain"};
    let frame = mongoward::wire::encode_op_msg(id, 0, 0, &body);
    let (first, rest) = frame.split_at(1000);
    c.send(first).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&bin.child.0, "-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bin.child.0.try_wait().unwrap().is_none(), "still draining");
    c.send(rest).await;
    let reply = c
        .read_frame()
        .await
        .expect("the half-sent insert is answered");
    let Ok(mongoward::wire::Reply::Msg(m)) =
        mongoward::wire::decode_reply(reply.into(), &Default::default())
    else {
        panic!("an OP_MSG reply");
    };
    assert_eq!(m.body().get_i32("n").ok(), Some(1), "{:?}", m.body());
    assert!(c.closed().await, "the session closes after that message");
    let status = wait_exit(&mut bin.child.0, Duration::from_secs(10))
        .await
        .expect("exits within the drain timeout");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigint_exits_at_once() {
    let upstream = Upstream::start();
    let up = upstream_addr(&upstream);
    let relay = slow_relay(up, Duration::from_secs(20)).await;
    let mut bin = start_binary(&format!("mongodb://{relay}/?directConnection=true"), 60).await;
    let _c = send_slow_find(&bin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&bin.child.0, "-INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        bin.child.0.try_wait().unwrap().is_none(),
        "first SIGINT drains"
    );
    let second = Instant::now();
    signal(&bin.child.0, "-INT");
    let status = wait_exit(&mut bin.child.0, Duration::from_secs(2))
        .await
        .expect("second SIGINT exits now");
    assert_eq!(status.code(), Some(130));
    assert!(second.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[server\n").unwrap();
    let status = command()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
