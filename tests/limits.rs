//! Issue 13 §3: bounded resources. The login deadline closes connections that never
//! authenticate (hello keeps monitoring connections alive); connection caps refuse before
//! TLS; at a low open-file limit the descriptor reserve keeps existing clients' upstream
//! connects and the metrics endpoint working (the real binary under `ulimit -n 64`).

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bson::rawdoc;
use common::auth::{failure, raw_auth};
use common::binary::{wait_listening, Reaper};
use common::raw::{bytes_before_close, RawClient};
use common::{certs, config_text, free_port, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `[server]` keys for the test, placed before `[tls]`.
async fn proxy_with(upstream: &Upstream, server_keys: &str) -> Proxy {
    let certs = certs();
    let access = "[[access_list]]\ncidr = \"127.0.0.0/8\"\n";
    let text = config_text(&certs, &upstream.uri, access)
        .replace("[tls]", &format!("{server_keys}\n[tls]"));
    Proxy::start_with(certs, &text).await
}

async fn app_login(addr: SocketAddr, ca: &std::path::Path) -> RawClient {
    let mut c = RawClient::connect(addr, ca).await;
    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("login");
    c
}

fn ok(reply: &bson::RawDocumentBuf) -> bool {
    failure(reply).is_none()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_deadline_closes_silent_unauthenticated_connections_only() {
    let upstream = Upstream::start();
    let proxy = proxy_with(&upstream, "login_timeout_secs = 1").await;
    let mut silent = RawClient::connect(proxy.addr, proxy.ca()).await;
    let mut monitor = RawClient::connect(proxy.addr, proxy.ca()).await;
    let mut app = app_login(proxy.addr, proxy.ca()).await;
    let start = Instant::now();
    // A monitoring connection: a hello every 400 ms, never authenticating.
    while start.elapsed() < Duration::from_millis(2500) {
        let reply = monitor.command(&rawdoc! {"hello": 1, "$db": "admin"}).await;
        assert!(ok(&reply), "hello answered after {:?}", start.elapsed());
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(silent.closed().await, "the silent connection was closed");
    assert_eq!(proxy.running.stats().login_timeouts.load(Relaxed), 1);
    let reply = app.command(&rawdoc! {"ping": 1, "$db": "admin"}).await;
    assert!(
        ok(&reply),
        "an authenticated connection has no login deadline"
    );
    let reply = monitor.command(&rawdoc! {"hello": 1, "$db": "admin"}).await;
    assert!(ok(&reply), "the monitoring connection is still open");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_caps_refuse_before_tls_and_are_counted() {
    let upstream = Upstream::start();
    let proxy = proxy_with(
        &upstream,
        "max_connections = 3\nmax_connections_per_source = 2",
    )
    .await;
    let a = app_login(proxy.addr, proxy.ca()).await;
    let b = app_login(proxy.addr, proxy.ca()).await;
    // A third from 127.0.0.1: refused by the per-source cap, not one TLS byte back.
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    assert_eq!(bytes_before_close(tcp, b"").await, 0);
    let stats = proxy.running.stats();
    assert_eq!(stats.connections_refused_per_source.load(Relaxed), 1);
    // Another address takes the last global slot; the next one meets the global cap.
    let other = "127.0.0.2".parse().unwrap();
    let mut c = RawClient::connect_from(other, proxy.addr, proxy.ca()).await;
    assert!(ok(&c.command(&rawdoc! {"hello": 1, "$db": "admin"}).await));
    let tcp = common::raw::tcp_from("127.0.0.3".parse().unwrap(), proxy.addr).await;
    assert_eq!(bytes_before_close(tcp, b"").await, 0);
    assert_eq!(stats.connections_refused_max.load(Relaxed), 1);
    // Slots come back when connections close.
    drop((a, b, c));
    let deadline = Instant::now() + Duration::from_secs(3);
    while proxy.running.active_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = app_login(proxy.addr, proxy.ca()).await;
    assert!(ok(&again
        .command(&rawdoc! {"ping": 1, "$db": "admin"})
        .await));
}

async fn scrape(addr: SocketAddr) -> Option<String> {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).await.ok()?;
        text.starts_with("HTTP/1.1 200 OK").then_some(text)
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

fn sample(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in the scrape"))
}

#[tokio::test(flavor = "multi_thread")]
async fn at_a_low_open_file_limit_the_reserve_keeps_clients_and_metrics_working() {
    let upstream = Upstream::start();
    let certs = certs();
    let (port, metrics_port) = (free_port(), free_port());
    let text = config_text(&certs, &upstream.uri, "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace(
            "[tls]",
            &format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[tls]"),
        );
    let config = certs.dir.path().join("mongoward.toml");
    std::fs::write(&config, text).unwrap();
    // No max_connections: the default comes from this limit.
    let child = Command::new("bash")
        .args(["-c", "ulimit -n 64 && exec \"$0\" run --config \"$1\""])
        .arg(env!("CARGO_BIN_EXE_mongoward"))
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mongoward");
    let _bin = Reaper(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let metrics: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
    wait_listening(addr, Duration::from_secs(20), "mongoward").await;
    // Authenticated, but no command yet: its upstream connection is still to be opened.
    let mut app = app_login(addr, &certs.ca).await;
    let mut flood = Vec::new();
    for _ in 0..120 {
        if let Ok(s) = TcpStream::connect(addr).await {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = app
        .command(&rawdoc! {"insert": "fd", "documents": [{"n": 1}], "$db": "limits"})
        .await;
    assert!(
        ok(&reply),
        "the upstream connect found a descriptor: {reply:?}"
    );
    let text = scrape(metrics).await.expect("/metrics answers");
    let refused = sample(
        &text,
        "mongoward_connections_refused_total{reason=\"max_connections\"}",
    );
    assert!(refused >= 90.0, "the flood met the cap: {refused}");
    drop(flood);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_message_size_bytes_is_advertised_and_enforced() {
    let upstream = Upstream::start();
    let proxy = proxy_with(&upstream, "max_message_size_bytes = 65536").await;
    let mut c = app_login(proxy.addr, proxy.ca()).await;
    let hello = c.command(&rawdoc! {"hello": 1, "$db": "admin"}).await;
    assert_eq!(hello.get_i32("maxMessageSizeBytes").ok(), Some(65536));
    assert_eq!(
        hello.get_i32("maxBsonObjectSize").ok(),
        Some(65536 - 16 * 1024),
        "a document still fits in a message"
    );
    let small = "x".repeat(10_000);
    let reply = c
        .command(&rawdoc! {"insert": "big", "documents": [{"s": small}], "$db": "limits"})
        .await;
    assert!(ok(&reply), "{reply:?}");
    let large = "x".repeat(100_000);
    let body = rawdoc! {"insert": "big", "documents": [{"s": large}], "$db": "limits"};
    let id = c.next_id();
    // The proxy answers after the header and closes: the rest may meet a closed socket.
    let _ = c
        .stream
        .write_all(&mongoward::wire::encode_op_msg(id, 0, 0, &body))
        .await;
    let refused = match c.read_frame().await {
        Some(frame) => {
            let reply = mongoward::wire::decode_reply(frame.into(), &Default::default());
            matches!(reply, Ok(mongoward::wire::Reply::Msg(m)) if m.body().get_f64("ok").ok() == Some(0.0))
        }
        None => true,
    };
    assert!(refused, "a message over the cap is refused");
    assert!(
        c.closed().await,
        "and the connection closed, as mongod does"
    );
    let accepted = proxy.running.stats().forwarded.load(Relaxed);
    assert_eq!(accepted, 1, "only the small insert reached the upstream");
}

/// The audit destination is a pipe nobody reads for a while: the writer stalls, the
/// queue (capacity 1) fills, and `on_full = "block"` must hold clients, not drop events.
#[tokio::test(flavor = "multi_thread")]
async fn audit_on_full_block_loses_no_event_when_the_destination_stalls() {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    let upstream = Upstream::start();
    let certs = certs();
    let fifo = certs.dir.path().join("audit.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let got = Arc::new(Mutex::new(0usize));
    let (reader_fifo, count) = (fifo.clone(), got.clone());
    std::thread::spawn(move || {
        let file = std::fs::File::open(reader_fifo).expect("open the fifo");
        std::thread::sleep(Duration::from_millis(1500));
        for line in std::io::BufReader::new(file).lines() {
            if line.is_ok_and(|l| l.contains("\"atype\":\"authCheck\"")) {
                *count.lock().unwrap() += 1;
            }
        }
    });
    let audit = "[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.fifo\"\n\
                 queue_capacity = 1\non_full = \"block\"\nlog_allowed = true\n";
    let text = config_text(&certs, &upstream.uri, audit);
    let proxy = Proxy::start_with(certs, &text).await;
    let mut c = app_login(proxy.addr, proxy.ca()).await;
    const N: usize = 400;
    for _ in 0..N {
        let reply = c
            .command(&rawdoc! {"find": "orders", "filter": {}, "$db": "shop"})
            .await;
        assert!(ok(&reply));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while *got.lock().unwrap() < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(proxy.running.auditor().dropped(), 0, "nothing dropped");
    assert_eq!(*got.lock().unwrap(), N, "every allowed find audited");
}
