//! Issue 7: TLS certificate reload. After a reload that points `[tls]` at a certificate
//! from a different CA, new handshakes present the new certificate, connections already
//! open keep working, and a bad certificate file keeps the one in use.

#[allow(dead_code)]
#[path = "common/access.rs"]
mod access;
mod common;

use access::pings;
use common::raw::{tls_connector, RawClient};
use common::{Proxy, Upstream};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// Whether a TLS handshake trusting only `ca` succeeds against the proxy.
async fn handshake_ok(proxy: &Proxy, ca: &std::path::Path) -> bool {
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tls_connector(ca).connect(name, tcp).await.is_ok()
}

fn swap_tls_paths(proxy: &Proxy, cert: &std::path::Path, key: &std::path::Path) {
    let text = std::fs::read_to_string(&proxy.config_path).unwrap();
    let text = text
        .replace(&format!("{:?}", proxy.certs.cert), &format!("{cert:?}"))
        .replace(&format!("{:?}", proxy.certs.key), &format!("{key:?}"));
    std::fs::write(&proxy.config_path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_serves_the_new_certificate_to_new_handshakes_only() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut before = RawClient::connect(proxy.addr, proxy.ca()).await;
    assert!(pings(&mut before).await);

    let fresh = common::certs();
    swap_tls_paths(&proxy, &fresh.cert, &fresh.key);
    let generation = proxy
        .running
        .reload()
        .expect("reload with a valid certificate");
    assert!(generation > 1);

    assert!(handshake_ok(&proxy, &fresh.ca).await, "new CA is trusted");
    assert!(
        !handshake_ok(&proxy, proxy.ca()).await,
        "old CA no longer matches"
    );
    let mut after = RawClient::connect(proxy.addr, &fresh.ca).await;
    assert!(pings(&mut after).await, "new connection works");
    assert!(pings(&mut before).await, "open connection is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_certificate_keeps_the_running_one() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let generation = proxy.running.policy_generation();
    let garbage = proxy.certs.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    swap_tls_paths(&proxy, &garbage, &proxy.certs.key);
    let err = proxy
        .running
        .reload()
        .expect_err("a bad certificate fails the reload");
    assert!(err.to_string().contains("tls"), "{err}");
    assert_eq!(proxy.running.policy_generation(), generation);
    assert!(
        handshake_ok(&proxy, proxy.ca()).await,
        "old certificate still served"
    );

    // A key that does not belong to the certificate is refused as well.
    let other = common::certs();
    std::fs::write(
        &proxy.config_path,
        std::fs::read_to_string(&proxy.config_path)
            .unwrap()
            .replace(&format!("{garbage:?}"), &format!("{:?}", proxy.certs.cert))
            .replace(
                &format!("{:?}", proxy.certs.key),
                &format!("{:?}", other.key),
            ),
    )
    .unwrap();
    assert!(proxy.running.reload().is_err(), "mismatched key is refused");
    assert!(handshake_ok(&proxy, proxy.ca()).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_files_replaced_in_place_are_picked_up() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut before = RawClient::connect(proxy.addr, proxy.ca()).await;
    let fresh = common::certs();
    // What a rotation tool does: new PEM contents under the same names (mtime and size
    // of the config file unchanged).
    std::fs::copy(&fresh.cert, &proxy.certs.cert).unwrap();
    std::fs::copy(&fresh.key, &proxy.certs.key).unwrap();
    let start = std::time::Instant::now();
    while !handshake_ok(&proxy, &fresh.ca).await {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "rotated certificate never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!handshake_ok(&proxy, proxy.ca()).await);
    assert!(pings(&mut before).await, "open connection is untouched");
}
