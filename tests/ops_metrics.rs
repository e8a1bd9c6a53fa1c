//! Issue 7: the `[metrics]` endpoint scraped over HTTP around known client activity (the
//! official Rust driver over TLS, a refused source address, a failed TLS handshake, a
//! reload), and the audit lines the same activity writes.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use common::{Proxy, Upstream};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const METRICS: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\n";

/// One scrape: `name{labels}` -> value.
async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let mut s = TcpStream::connect(addr).await.expect("connect to metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("sample line");
            (k.to_string(), v.parse().expect("numeric value"))
        })
        .collect()
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    let get = |m: &HashMap<String, f64>| *m.get(key).unwrap_or_else(|| panic!("no {key}"));
    get(after) - get(before)
}

/// Scrapes until `key` reaches `want` (the proxy handles refusals asynchronously).
async fn scrape_until(addr: SocketAddr, key: &str, want: f64) -> HashMap<String, f64> {
    let start = Instant::now();
    loop {
        let m = scrape(addr).await;
        if m.get(key) == Some(&want) || start.elapsed() > Duration::from_secs(10) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ACCEPTED: &str = "mongoward_connections_accepted_total";
const TLS_OK: &str = "mongoward_tls_handshakes_total{result=\"ok\"}";
const TLS_ERR: &str = "mongoward_tls_handshakes_total{result=\"error\"}";
const MESSAGES: &str = "mongoward_messages_total";
const FORWARDED: &str = "mongoward_commands_forwarded_total";
const OPEN: &str = "mongoward_connections_open";
const REFUSED: &str = "mongoward_connections_refused_total{reason=\"access_list\"}";

#[tokio::test(flavor = "multi_thread")]
async fn driver_traffic_moves_counters_exactly() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, METRICS).await;
    let addr = proxy.running.metrics_addr.expect("metrics endpoint bound");
    let s0 = scrape(addr).await;
    assert_eq!(s0[ACCEPTED], 0.0);
    assert_eq!(s0["mongoward_config_generation"], 1.0);
    assert_eq!(s0["mongoward_config_last_reload_success"], 1.0);

    // No streaming monitor (no topologyVersion) and a long heartbeat: the driver opens a
    // monitoring connection (one hello) and one pool connection (hello with speculative
    // SCRAM, one saslContinue, then the ping).
    let uri = proxy.uri("&directConnection=true&heartbeatFrequencyMS=60000");
    let client = mongodb::Client::with_uri_str(uri).await.expect("client");
    let admin = client.database("admin");
    admin.run_command(doc! {"ping": 1}).await.expect("ping");
    let s1 = scrape(addr).await;
    assert_eq!(delta(&s0, &s1, ACCEPTED), 2.0);
    assert_eq!(delta(&s0, &s1, TLS_OK), 2.0);
    assert_eq!(delta(&s0, &s1, TLS_ERR), 0.0);
    assert_eq!(delta(&s0, &s1, MESSAGES), 4.0);
    assert_eq!(s1[OPEN], 2.0);

    // ping is answered by the proxy; a find goes upstream.
    admin.run_command(doc! {"ping": 1}).await.expect("ping");
    let coll = client.database("ops_metrics").collection::<Document>("c");
    coll.find_one(doc! {}).await.expect("find_one");
    let s2 = scrape(addr).await;
    assert_eq!(delta(&s1, &s2, MESSAGES), 2.0);
    assert_eq!(delta(&s1, &s2, FORWARDED), 1.0);
    // The forwarded find is timed on both sides of the upstream hop.
    assert_eq!(
        delta(&s1, &s2, "mongoward_upstream_latency_seconds_count"),
        1.0
    );
    assert_eq!(
        delta(&s1, &s2, "mongoward_proxy_latency_seconds_count"),
        1.0
    );
    // The find opened this connection's upstream side: one upstream connection for the cluster.
    let up = "mongoward_upstream_connections_total{cluster=\"default\"}";
    assert_eq!(delta(&s1, &s2, up), 1.0);
    assert_eq!(delta(&s1, &s2, ACCEPTED), 0.0);

    // 127.0.0.2 is loopback but not on the access list: refused before TLS.
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut refused = sock.connect(proxy.addr).await.expect("tcp connect");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "refused socket is closed"
    );
    let s3 = scrape_until(addr, REFUSED, s2[REFUSED] + 1.0).await;
    assert_eq!(delta(&s2, &s3, REFUSED), 1.0);
    assert_eq!(
        delta(&s2, &s3, TLS_ERR),
        0.0,
        "no TLS for a refused address"
    );

    // Not TLS at all: the handshake fails.
    let mut plain = TcpStream::connect(proxy.addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let s4 = scrape_until(addr, TLS_ERR, s3[TLS_ERR] + 1.0).await;
    assert_eq!(delta(&s3, &s4, TLS_ERR), 1.0);
    assert_eq!(delta(&s3, &s4, ACCEPTED), 0.0);

    drop(plain);
    client.shutdown().await;
    let s5 = scrape_until(addr, OPEN, 0.0).await;
    assert_eq!(s5[OPEN], 0.0, "closed connections leave the gauge");
}

#[tokio::test(flavor = "multi_thread")]
async fn anything_but_get_metrics_is_404() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, METRICS).await;
    let addr = proxy.running.metrics_addr.unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /admin HTTP/1.1\r\n\r\n").await.unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
}

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_and_reloads_are_audited_and_counted() {
    let upstream = Upstream::start();
    let extra =
        format!("{METRICS}[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.log\"\n");
    let proxy = Proxy::start(&upstream, &extra).await;
    let addr = proxy.running.metrics_addr.unwrap();
    let log = proxy.config_path.with_file_name("audit.log");

    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let refused = sock.connect(proxy.addr).await.expect("tcp connect");
    let from = refused.local_addr().unwrap();
    scrape_until(addr, REFUSED, 1.0).await;
    let mut plain = TcpStream::connect(proxy.addr).await.unwrap();
    plain.write_all(b"not tls\r\n\r\n").await.unwrap();
    scrape_until(addr, TLS_ERR, 1.0).await;

    // A broken file is rejected (old policy kept), then a good one is applied.
    let good = std::fs::read_to_string(&proxy.config_path).unwrap();
    std::fs::write(&proxy.config_path, "[server\n").unwrap();
    let bad = scrape_until(
        addr,
        "mongoward_config_reloads_total{result=\"error\"}",
        1.0,
    )
    .await;
    assert_eq!(bad["mongoward_config_last_reload_success"], 0.0);
    assert_eq!(bad["mongoward_config_generation"], 1.0);
    std::fs::write(&proxy.config_path, format!("{good}\n# touched\n")).unwrap();
    let ok = scrape_until(addr, "mongoward_config_reloads_total{result=\"ok\"}", 1.0).await;
    assert_eq!(ok["mongoward_config_generation"], 2.0);
    assert_eq!(ok["mongoward_config_last_reload_success"], 1.0);

    proxy.running.auditor().flush().await;
    let lines = audit_lines(&log);
    let atypes: Vec<_> = lines.iter().map(|l| l["atype"].as_str().unwrap()).collect();
    assert_eq!(
        atypes,
        [
            "networkAccessDenied",
            "tlsHandshakeFailed",
            "configReload",
            "configReload"
        ]
    );
    let denied = &lines[0];
    assert_eq!(denied["remote"]["ip"], "127.0.0.2");
    assert_eq!(denied["remote"]["port"], from.port());
    assert_eq!(denied["local"]["port"], proxy.addr.port());
    assert_eq!(denied["param"]["reason"], "noMatchingEntry");
    assert_eq!(denied["result"], 13);
    assert_eq!(denied["cluster"], "default");
    assert!(denied["ts"]["$date"].as_str().unwrap().ends_with('Z'));
    let tls = &lines[1];
    assert_eq!(tls["remote"]["ip"], "127.0.0.1");
    assert_eq!(tls["result"], 141);
    assert!(tls["connId"].as_i64().unwrap() >= 1);
    assert!(!tls["param"]["error"].as_str().unwrap().is_empty());
    assert_eq!(lines[2]["result"], 2);
    assert_eq!(lines[2]["param"]["generation"], 1);
    assert!(lines[2]["param"]["error"]
        .as_str()
        .unwrap()
        .contains("mongoward.toml"));
    assert_eq!(lines[3]["result"], 0);
    assert_eq!(lines[3]["param"]["generation"], 2);
    assert_eq!(lines[3]["param"]["accessListEntries"], 1);
    assert_eq!(
        lines[3]["remote"],
        serde_json::json!({"isSystemUser": true})
    );
    drop(refused);
}
