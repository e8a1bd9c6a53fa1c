//! Issue 7: scale-out. HAProxy (`mode tcp`, `send-proxy-v2`, the example in
//! docs/scale-out/haproxy.cfg) in front of two mongoward instances started from the same
//! configuration. The Rust driver works through it, both instances serve connections,
//! and the access list judges the client address carried by the PROXY header, not
//! HAProxy's. Skipped (with a message) when haproxy is not installed.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use common::binary::{wait_listening, Reaper};
use common::raw::{tcp_from, RawClient};
use common::{certs, config_text, free_port, repo, Upstream};
use mongoward::config::Config;
use mongoward::proxy::Running;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn haproxy_bin() -> Option<String> {
    ["haproxy", "/usr/sbin/haproxy"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

/// Starts HAProxy from the documented example with its ports rewritten.
async fn start_haproxy(
    bin: &str,
    dir: &std::path::Path,
    backends: [SocketAddr; 2],
) -> (Reaper, SocketAddr) {
    let example = std::fs::read_to_string(repo().join("docs/scale-out/haproxy.cfg")).unwrap();
    let port = free_port();
    let cfg = example
        .replace("127.0.0.1:27017", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:27101", &backends[0].to_string())
        .replace("127.0.0.1:27102", &backends[1].to_string());
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new(bin)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    let haproxy = Reaper(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(addr, Duration::from_secs(10), "haproxy").await;
    (haproxy, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_behind_haproxy_with_proxy_protocol() {
    let Some(bin) = haproxy_bin() else {
        eprintln!("SKIPPED: haproxy is not installed (apt-get install -y haproxy)");
        return;
    };
    let upstream = Upstream::start();
    let certs = certs();
    // One file for both instances: port 0 lets each bind its own loopback port.
    let access = "[[access_list]]\ncidr = \"127.0.0.1/32\"\ncomment = \"driver\"\n\
                  [[access_list]]\ncidr = \"127.0.0.7/32\"\ncomment = \"raw client\"\n";
    let text = config_text(&certs, &upstream.uri, access).replace(
        "[tls]",
        "proxy_protocol = true\nproxy_protocol_trusted = [\"127.0.0.1/32\"]\n[tls]",
    );
    let path = certs.dir.path().join("mongoward.toml");
    std::fs::write(&path, text).unwrap();
    let config = Config::load(&path).expect("valid config");
    let a = mongoward::proxy::start(&config).await.expect("instance a");
    let b = mongoward::proxy::start(&config).await.expect("instance b");
    let (_haproxy, front) =
        start_haproxy(&bin, certs.dir.path(), [a.tls_addrs[0], b.tls_addrs[0]]).await;

    drive_driver(front, &certs.ca, &a, &b).await;
    access_list_sees_the_client(front, &certs.ca, &[&a, &b]).await;
}

/// The Rust driver through HAProxy: a monitor and pool connections spread over both.
async fn drive_driver(front: SocketAddr, ca: &std::path::Path, a: &Running, b: &Running) {
    let uri = format!(
        "mongodb://{}:{}@{front}/?authSource=admin&tls=true&tlsCAFile={}&directConnection=true&maxPoolSize=4",
        common::APP_USER,
        common::APP_PASSWORD,
        ca.display()
    );
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let coll = client.database("scaleout").collection::<Document>("c");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let coll = coll.clone();
        tasks.push(tokio::spawn(async move {
            coll.insert_one(doc! {"i": i})
                .await
                .expect("insert via haproxy");
            coll.count_documents(doc! {})
                .await
                .expect("count via haproxy")
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() >= 1);
    }
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 8);
    let served = |r: &Running| r.stats().forwarded.load(Relaxed);
    assert!(
        served(a) > 0 && served(b) > 0,
        "both instances forwarded commands: {} / {}",
        served(a),
        served(b)
    );

    client.shutdown().await;
}

/// The access list sees the address from the PROXY header: 127.0.0.7 is admitted,
/// 127.0.0.8 is refused, though both arrive from HAProxy at 127.0.0.1.
async fn access_list_sees_the_client(
    front: SocketAddr,
    ca: &std::path::Path,
    instances: &[&Running],
) {
    let refused = || -> u64 {
        instances
            .iter()
            .map(|r| r.stats().connections_refused_access_list.load(Relaxed))
            .sum()
    };
    let before = refused();
    let tcp = tcp_from("127.0.0.7".parse().unwrap(), front).await;
    let mut ok = RawClient::over(tcp, ca).await;
    let reply = ok.command(&bson::rawdoc! {"ping": 1, "$db": "admin"}).await;
    assert_eq!(
        reply
            .get_f64("ok")
            .ok()
            .or(reply.get_i32("ok").ok().map(f64::from)),
        Some(1.0)
    );
    let mut denied = tcp_from("127.0.0.8".parse().unwrap(), front).await;
    denied
        .write_all(&common::raw::client_hello())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), denied.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "refused before TLS: {n:?}"
    );
    let start = Instant::now();
    while refused() == before && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refused(), before + 1);
}
