//! Issue 3: the network gate end to end. Clients connect from chosen loopback source
//! addresses (all of 127.0.0.0/8 reaches lo on Linux) to a real proxy over real TLS;
//! liveness is a `ping` the proxy answers itself, so these tests need no credentials.

mod common;
// Network-gate helpers, kept out of common/mod.rs so other test crates do not compile them.
#[path = "common/access.rs"]
mod access;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use access::{
    assert_refused_before_tls, ip, live_client, permanent, pings, refused, rewrite, start,
    start_on, temporary,
};
use bson::{doc, Bson};
use common::raw::{bytes_before_close, tcp_from, RawClient};
use common::{eventually, Proxy, Upstream};
use mongodb::Client;

async fn driver_ping(proxy: &Proxy, extra: &str) -> mongodb::error::Result<bson::Document> {
    let client = Client::with_uri_str(proxy.uri(extra)).await?;
    client.database("admin").run_command(doc! {"ping": 1}).await
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_address_runs_a_command_with_the_rust_driver() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let reply = driver_ping(&proxy, "")
        .await
        .expect("ping through the proxy");
    assert!(
        matches!(reply.get("ok"), Some(Bson::Double(v)) if *v == 1.0)
            || matches!(reply.get("ok"), Some(Bson::Int32(1))),
        "ping answered ok: {reply:?}"
    );
    assert_eq!(refused(&proxy), 0, "nobody was refused");

    // The same driver from an address the list does not cover never gets a server.
    let closed = start(&upstream, "", &[permanent("127.0.0.2/32")]).await;
    let err = driver_ping(&closed, "&serverSelectionTimeoutMS=1000")
        .await
        .expect_err("127.0.0.1 is not in this list");
    assert!(refused(&closed) > 0, "refusal counted ({err})");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_address_is_closed_before_tls() {
    let upstream = Upstream::start();
    let proxy = start(&upstream, "", &[permanent("127.0.0.1/32")]).await;
    let before = refused(&proxy);
    assert_refused_before_tls("127.0.0.3", proxy.addr, b"").await;
    let counted = eventually(Duration::from_secs(2), || async {
        refused(&proxy) == before + 1
    })
    .await;
    assert!(counted.is_some(), "connections_refused_access_list += 1");
    // The allowed neighbour on the same listener completes TLS and is served.
    live_client(&proxy, "127.0.0.1").await;
    assert_eq!(refused(&proxy), before + 1);
}

fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_loopback_is_matched_by_its_own_entry() {
    if !has_ipv6_loopback() {
        eprintln!("SKIPPED: this machine has no IPv6 loopback (::1)");
        return;
    }
    let upstream = Upstream::start();
    let listen = ["[::1]:0", "127.0.0.1:0"];
    let proxy = start_on(&upstream, &listen, "", &[permanent("::1/128")]).await;
    let v6 = proxy.running.tls_addrs[0];
    let v4 = proxy.running.tls_addrs[1];
    let mut c = RawClient::connect_from(ip("::1"), v6, proxy.ca()).await;
    assert!(pings(&mut c).await, "::1 admitted by ::1/128");
    assert_refused_before_tls("127.0.0.1", v4, b"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv4_mapped_peers_are_matched_as_ipv4() {
    // An IPv6 socket bound to ::ffff:127.0.0.1 sees IPv4 clients as ::ffff:127.0.0.x.
    if std::net::TcpListener::bind("[::ffff:127.0.0.1]:0").is_err() {
        eprintln!("SKIPPED: cannot listen on an IPv4-mapped IPv6 address here");
        return;
    }
    let upstream = Upstream::start();
    let entries = [permanent("127.0.0.7/32"), permanent("::ffff:127.0.0.8/128")];
    let proxy = start_on(&upstream, &["[::ffff:127.0.0.1]:0"], "", &entries).await;
    assert!(proxy.addr.is_ipv6(), "a dual-stack listener");
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], proxy.addr.port()));
    // An IPv4 entry admits the mapped peer, and a mapped entry admits the IPv4 client.
    for source in ["127.0.0.7", "127.0.0.8"] {
        let mut c = RawClient::connect_from(ip(source), to, proxy.ca()).await;
        assert!(pings(&mut c).await, "{source} admitted");
    }
    assert_refused_before_tls("127.0.0.9", to, b"").await;
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_entry_expires_and_closes_its_connections() {
    let upstream = Upstream::start();
    let expires = unix_now() as i64 + 3;
    let entries = [
        permanent("127.0.0.1/32"),
        temporary("127.0.0.4/32", expires),
    ];
    let proxy = start(&upstream, "", &entries).await;
    let mut c = live_client(&proxy, "127.0.0.4").await;
    assert!(c.closed().await, "closed when the entry expires");
    let late = unix_now() - expires as f64;
    assert!(late >= -0.05, "not closed before expiry ({late:.3} s)");
    assert!(
        late <= 1.5,
        "closed {late:.3} s after expiry, promised ~1 s"
    );
    assert_refused_before_tls("127.0.0.4", proxy.addr, b"").await;
    live_client(&proxy, "127.0.0.1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_revokes_removed_entries_and_keeps_policy_on_bad_file() {
    let upstream = Upstream::start();
    let both = [permanent("127.0.0.5/32"), permanent("127.0.0.6/32")];
    let proxy = start(&upstream, "", &both).await;
    let mut five = live_client(&proxy, "127.0.0.5").await;
    let mut six = live_client(&proxy, "127.0.0.6").await;

    rewrite(&proxy, &upstream, "", &[permanent("127.0.0.5/32")]);
    proxy.running.reload().expect("valid file reloads");
    let start = std::time::Instant::now();
    assert!(
        six.closed().await,
        "127.0.0.6 closed after its entry was removed"
    );
    assert!(start.elapsed() < Duration::from_millis(1500), "promptly");
    assert!(pings(&mut five).await, "127.0.0.5 keeps working");
    assert_refused_before_tls("127.0.0.6", proxy.addr, b"").await;

    // Would drop 127.0.0.5 if applied, but host bits make the whole file invalid.
    let bad = [permanent("127.0.0.7/32"), permanent("10.0.0.1/8")];
    rewrite(&proxy, &upstream, "", &bad);
    let err = proxy.running.reload().expect_err("invalid file is refused");
    assert!(
        err.to_string().contains("10.0.0.1/8"),
        "names the entry: {err}"
    );
    // Give the file watcher (1 s poll) its chance to apply it too; it must not.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(pings(&mut five).await, "old policy kept: 127.0.0.5 alive");
    live_client(&proxy, "127.0.0.5").await;
    assert_refused_before_tls("127.0.0.7", proxy.addr, b"").await;
}

/// `on_revoke = "keep"`: removing an entry refuses new connections but leaves established
/// ones alone.
#[tokio::test(flavor = "multi_thread")]
async fn on_revoke_keep_leaves_established_connections() {
    let upstream = Upstream::start();
    let keep = "on_revoke = \"keep\"";
    let both = [permanent("127.0.0.5/32"), permanent("127.0.0.6/32")];
    let proxy = start(&upstream, keep, &both).await;
    let mut six = live_client(&proxy, "127.0.0.6").await;
    rewrite(&proxy, &upstream, keep, &[permanent("127.0.0.5/32")]);
    proxy.running.reload().expect("valid file reloads");
    // Two sweep intervals and then some: a "close" policy would have acted by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        pings(&mut six).await,
        "established 127.0.0.6 connection kept"
    );
    assert_refused_before_tls("127.0.0.6", proxy.addr, b"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_change_alone_applies_within_seconds() {
    let upstream = Upstream::start();
    let proxy = start(&upstream, "", &[permanent("127.0.0.5/32")]).await;
    let mut five = live_client(&proxy, "127.0.0.5").await;
    assert_refused_before_tls("127.0.0.6", proxy.addr, b"").await;
    let generation = proxy.running.policy_generation();

    // Swap 127.0.0.5 for 127.0.0.6 without calling reload().
    rewrite(&proxy, &upstream, "", &[permanent("127.0.0.6/32")]);
    let applied = eventually(Duration::from_secs(3), || async {
        proxy.running.policy_generation() != generation
    })
    .await;
    assert!(applied.is_some(), "the watcher reloaded within 3 s");
    assert!(
        five.closed().await,
        "127.0.0.5 revoked by the watched change"
    );
    live_client(&proxy, "127.0.0.6").await;
}

// --- PROXY protocol ------------------------------------------------------------------

const PP_SERVER: &str = "proxy_protocol = true\nproxy_protocol_trusted = [\"127.0.0.1/32\"]";

/// Connections closed by the PROXY protocol layer (untrusted peer, bad or missing header).
fn pp_refused(proxy: &Proxy) -> u64 {
    let stats = proxy.running.stats();
    mongoward::proxy::stats::Stats::get(&stats.connections_refused_proxy_protocol)
}

fn src(ip_text: &str) -> std::net::SocketAddr {
    std::net::SocketAddr::new(ip(ip_text), 40000)
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_protocol_headers_from_trusted_balancer() {
    use mongoward::gates::proxy_protocol::{encode_v1, encode_v2};
    let upstream = Upstream::start();
    let proxy = start(&upstream, PP_SERVER, &[permanent("127.0.0.9/32")]).await;
    let to = proxy.addr;
    for (version, encode) in [("v1", encode_v1 as fn(_, _) -> _), ("v2", encode_v2)] {
        // Trusted balancer, admitted client: the header is consumed and TLS follows.
        let mut tcp = tcp_from(ip("127.0.0.1"), to).await;
        tokio::io::AsyncWriteExt::write_all(&mut tcp, &encode(src("127.0.0.9"), to))
            .await
            .expect("send header");
        let mut c = RawClient::over(tcp, proxy.ca()).await;
        assert!(pings(&mut c).await, "{version}: 127.0.0.9 via the balancer");

        let before = refused(&proxy);
        let header = encode(src("127.0.0.10"), to);
        assert_refused_before_tls("127.0.0.1", to, &header).await;
        let counted = eventually(Duration::from_secs(2), || async {
            refused(&proxy) > before
        });
        assert!(counted.await.is_some(), "{version}: refusal counted");

        // A valid header from a peer that is not a trusted balancer is ignored: closed.
        let before = pp_refused(&proxy);
        let forged = encode(src("127.0.0.9"), to);
        assert_refused_before_tls("127.0.0.2", to, &forged).await;
        let counted = eventually(Duration::from_secs(2), || async {
            pp_refused(&proxy) > before
        });
        assert!(counted.await.is_some(), "{version}: untrusted peer counted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_protocol_missing_or_malformed_header_is_closed() {
    let upstream = Upstream::start();
    let proxy = start(&upstream, PP_SERVER, &[permanent("127.0.0.1/32")]).await;
    // Even the admitted balancer address must send a header first.
    let before = pp_refused(&proxy);
    assert_refused_before_tls("127.0.0.1", proxy.addr, b"").await;
    let malformed: [&[u8]; 3] = [
        b"PROXY TCP4 127.0.0.1 nonsense\r\n",
        b"PROXY TCP4 999.0.0.1 127.0.0.1 1 2\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x99\x11\0\x0c",
    ];
    for header in malformed {
        let tcp = tcp_from(ip("127.0.0.1"), proxy.addr).await;
        let got = bytes_before_close(tcp, header).await;
        assert_eq!(got, 0, "malformed {header:?} closed without TLS");
    }
    let counted = eventually(Duration::from_secs(2), || async {
        pp_refused(&proxy) == before + 4
    });
    assert!(
        counted.await.is_some(),
        "missing and malformed headers counted"
    );
    assert_eq!(refused(&proxy), 0, "never reached the access list");
}

// --- check-config ----------------------------------------------------------------------

/// Runs `check-config` on a file with `entries`; the certificates live as long as the run.
fn check_config(entries: &[access::Entry]) -> (bool, String) {
    let certs = common::certs();
    let uri = "mongodb://127.0.0.1:27017";
    let text = access::config_text(&certs, uri, &["127.0.0.1:0"], "", entries);
    let path = certs.dir.path().join("check.toml");
    std::fs::write(&path, text).expect("write");
    let out = common::binary::command()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run mongoward");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_config_warns_open_and_rejects_bad_entries() {
    let (ok, out) = check_config(&[permanent("0.0.0.0/0")]);
    assert!(ok, "open list is legal: {out}");
    assert!(out.contains("open to the whole internet"), "{out}");

    let (ok, out) = check_config(&[permanent("10.0.0.1/8")]);
    assert!(!ok, "host bits set must fail: {out}");
    assert!(
        out.contains("access_list[0]") && out.contains("10.0.0.1/8"),
        "{out}"
    );
    assert!(out.contains("10.0.0.0/8"), "suggests the network: {out}");

    let past = temporary("192.0.2.1/32", unix_now() as i64 - 60);
    let (ok, out) = check_config(&[permanent("127.0.0.1/32"), past]);
    // A passed delete_after is a warning, never an error: the entry is ignored (issue 16).
    assert!(ok, "past delete_after is only a warning: {out}");
    assert!(
        out.contains("access_list[1]") && out.contains("192.0.2.1"),
        "{out}"
    );
    assert!(out.contains("has passed; entry ignored"), "{out}");
}

// --- SIGHUP ------------------------------------------------------------------------------

#[test]
fn sighup_reloads_the_running_binary() {
    use common::binary;
    use std::process::Command;
    let wait_line = |lines: &std::sync::mpsc::Receiver<String>, needle: &str| {
        binary::wait_line(lines, needle, Duration::from_secs(10)).is_ok()
    };
    let certs = common::certs();
    let entries = [permanent("127.0.0.1/32")];
    let text = access::config_text(
        &certs,
        "mongodb://127.0.0.1:9",
        &["127.0.0.1:0"],
        "",
        &entries,
    );
    let path = certs.dir.path().join("run.toml");
    std::fs::write(&path, text).expect("write config");
    let (mut child, lines) = binary::run_logged(&["--log-format", "json"], &path);
    let pid = child.0.id().to_string();
    assert!(wait_line(&lines, "listening"), "the proxy started");
    // The file is unchanged, so only the signal can cause this reload.
    let sent = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(sent.expect("kill runs").success(), "SIGHUP sent");
    assert!(
        wait_line(&lines, "configuration reloaded"),
        "SIGHUP reloads"
    );
    // Without a handler SIGHUP would have terminated the process.
    assert!(
        child.0.try_wait().expect("status").is_none(),
        "still running"
    );
}
