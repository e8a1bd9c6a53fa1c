//! Issue 7: the audit file, line by line. A known sequence (a refused address, a failed
//! TLS handshake, failed and successful authentication with the Rust driver, an
//! authorization denial, a reload removing a user, which closes its connection) and the
//! `log_allowed` filter, each line parsed as JSON and checked field by field.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use common::{user_toml, Proxy, Upstream};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const READER: &str = "reader";
const READER_PASSWORD: &str = "reader-Passw0rd";
/// Appears in a denied command's document; must never reach the audit file.
const SECRET: &str = "TOP-SECRET-4711";

fn audit_toml(extra: &str) -> String {
    format!(
        "[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.log\"\n{extra}\n{}",
        user_toml(READER, READER_PASSWORD, &["read@shop"], "")
    )
}

async fn lines(proxy: &Proxy) -> Vec<Value> {
    proxy.running.auditor().flush().await;
    let path = proxy.config_path.with_file_name("audit.log");
    read_lines(&path)
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
        .collect()
}

/// Polls the audit file until a line satisfies `pred`.
async fn wait_for(proxy: &Proxy, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(l) = lines(proxy).await.into_iter().find(|l| pred(l)) {
            return l;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "audit line never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn driver_uri(proxy: &Proxy, user: &str, password: &str) -> String {
    proxy.uri_as(
        user,
        password,
        "&directConnection=true&heartbeatFrequencyMS=60000&retryReads=false&retryWrites=false",
    )
}

fn assert_conn_fields(line: &Value, proxy: &Proxy) {
    assert_eq!(line["local"]["ip"], "127.0.0.1", "{line}");
    assert_eq!(line["local"]["port"], proxy.addr.port(), "{line}");
    assert_eq!(line["remote"]["ip"], "127.0.0.1", "{line}");
    assert!(line["remote"]["port"].as_u64().unwrap() > 0, "{line}");
    assert_eq!(line["cluster"], "default", "{line}");
    assert!(line["connId"].as_i64().unwrap() >= 1, "{line}");
    let ts = line["ts"]["$date"].as_str().unwrap();
    assert!(ts.len() == 24 && ts.ends_with('Z'), "{ts}");
}

fn reader_ref() -> Value {
    json!([{"user": READER, "db": "admin"}])
}

/// Finds the first line of `atype` that satisfies `f`.
fn pick(all: &[Value], atype: &str, f: &dyn Fn(&Value) -> bool) -> Value {
    all.iter()
        .find(|l| l["atype"] == atype && f(l))
        .unwrap_or_else(|| panic!("no {atype} line in {all:#?}"))
        .clone()
}

/// A connection from 127.0.0.2 (not on the list), then a non-TLS client. Returns the
/// refused client's address.
async fn refused_and_not_tls(proxy: &Proxy) -> std::net::SocketAddr {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut refused = sock.connect(proxy.addr).await.unwrap();
    let from = refused.local_addr().unwrap();
    let _ = refused.read(&mut [0u8; 1]).await;
    let mut plain = TcpStream::connect(proxy.addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let _ = plain.read(&mut [0u8; 1]).await;
    from
}

/// An unknown user and a wrong password fail; the reader logs in and has one insert
/// refused. Returns the reader's collection handle (its connection stays open).
async fn logins_and_denial(proxy: &Proxy) -> mongodb::Collection<Document> {
    for (user, password) in [("ghost", "whatever-1"), (READER, "wrong-Passw0rd")] {
        let client = mongodb::Client::with_uri_str(driver_uri(proxy, user, password))
            .await
            .unwrap();
        let err = client.database("admin").run_command(doc! {"ping": 1}).await;
        assert!(err.is_err(), "{user} must not authenticate");
        client.shutdown().await;
    }
    let reader = mongodb::Client::with_uri_str(driver_uri(proxy, READER, READER_PASSWORD))
        .await
        .unwrap();
    let orders = reader.database("shop").collection::<Document>("orders");
    orders.find_one(doc! {}).await.expect("read is allowed");
    let denied = orders.insert_one(doc! {"card": SECRET}).await;
    assert!(denied.is_err(), "insert must be refused");
    orders
}

fn assert_network_events(all: &[Value], proxy: &Proxy, from: std::net::SocketAddr) {
    let net = pick(all, "networkAccessDenied", &|_| true);
    assert_eq!(
        net["remote"],
        json!({"ip": "127.0.0.2", "port": from.port()})
    );
    assert_eq!(net["local"]["port"], proxy.addr.port());
    assert_eq!(net["param"], json!({"reason": "noMatchingEntry"}));
    assert_eq!(net["result"], 13);
    assert_eq!(net["users"], json!([]));
    let tls = pick(all, "tlsHandshakeFailed", &|_| true);
    assert_conn_fields(&tls, proxy);
    assert_eq!(tls["result"], 141);
    assert!(!tls["param"]["error"].as_str().unwrap().is_empty());
}

/// Checks the authenticate and authCheck lines; returns the reader's connection id.
fn assert_auth_events(all: &[Value], proxy: &Proxy) -> Value {
    let ghost = pick(all, "authenticate", &|l| l["param"]["user"] == "ghost");
    assert_conn_fields(&ghost, proxy);
    assert_eq!(ghost["result"], 18);
    assert_eq!(ghost["param"]["reason"], "unknown user", "the real reason");
    assert_eq!(ghost["param"]["db"], "admin");
    assert_eq!(ghost["users"], json!([]));
    let wrong = pick(all, "authenticate", &|l| {
        l["param"]["user"] == READER && l["result"] == 18
    });
    let reason = wrong["param"]["reason"].as_str().unwrap();
    assert!(!reason.is_empty() && reason != "unknown user", "{reason}");
    let ok = pick(all, "authenticate", &|l| l["result"] == 0);
    assert_conn_fields(&ok, proxy);
    assert_eq!(ok["users"], reader_ref());
    assert_eq!(ok["param"]["mechanism"], "SCRAM-SHA-256");
    let check = pick(all, "authCheck", &|_| true);
    assert_conn_fields(&check, proxy);
    assert_eq!(check["result"], 13);
    assert_eq!(
        check["param"],
        json!({"command": "insert", "ns": "shop.orders"})
    );
    assert_eq!(check["users"], reader_ref());
    assert_eq!(check["roles"], json!([{"role": "read", "db": "shop"}]));
    assert_eq!(
        check["connId"], ok["connId"],
        "same connection as its login"
    );
    let checks = all.iter().filter(|l| l["atype"] == "authCheck").count();
    assert_eq!(checks, 1, "allowed commands are not logged by default");
    ok["connId"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_sequence_is_audited_field_by_field() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &audit_toml("")).await;
    let from = refused_and_not_tls(&proxy).await;
    let orders = logins_and_denial(&proxy).await;
    let all = lines(&proxy).await;
    assert_network_events(&all, &proxy, from);
    let reader_conn = assert_auth_events(&all, &proxy);
    let text = std::fs::read_to_string(proxy.config_path.with_file_name("audit.log")).unwrap();
    assert!(!text.contains(SECRET), "document contents never audited");
    assert!(!text.contains("wrong-Passw0rd") && !text.contains(READER_PASSWORD));

    // A reload that removes the reader: one configReload, then its connection closes.
    let text = std::fs::read_to_string(&proxy.config_path).unwrap();
    let without = text.replace(&user_toml(READER, READER_PASSWORD, &["read@shop"], ""), "");
    std::fs::write(&proxy.config_path, without).unwrap();
    proxy.running.reload().expect("reload");
    let reload = wait_for(&proxy, |l| l["atype"] == "configReload").await;
    assert_eq!(reload["result"], 0);
    assert_eq!(reload["param"]["generation"], 2);
    assert_eq!(reload["param"]["users"], 1);
    assert_eq!(reload["param"]["accessListEntries"], 1);
    assert_eq!(reload["remote"], json!({"isSystemUser": true}));
    let revoked = wait_for(&proxy, |l| l["atype"] == "connectionRevoked").await;
    assert_conn_fields(&revoked, &proxy);
    assert_eq!(revoked["param"], json!({"reason": "userRemoved"}));
    assert_eq!(revoked["users"], reader_ref());
    assert_eq!(revoked["connId"], reader_conn);
    assert!(orders.find_one(doc! {}).await.is_err(), "reader is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_allowed_logs_exactly_the_filtered_commands() {
    let upstream = Upstream::start();
    let filter = "log_allowed = true\n[audit.filter]\nusers = [\"reader\"]\n\
                  databases = [\"shop\"]\ncommands = [\"find\"]\n";
    let proxy = Proxy::start(&upstream, &audit_toml(filter)).await;
    let reader = mongodb::Client::with_uri_str(driver_uri(&proxy, READER, READER_PASSWORD))
        .await
        .unwrap();
    let app = mongodb::Client::with_uri_str(proxy.uri("&directConnection=true"))
        .await
        .unwrap();
    for client in [&reader, &app] {
        let shop = client.database("shop").collection::<Document>("orders");
        shop.find_one(doc! {"card": SECRET}).await.expect("find");
        shop.count_documents(doc! {}).await.expect("count");
    }
    let other = app.database("other").collection::<Document>("c");
    other.find_one(doc! {}).await.expect("find elsewhere");
    reader
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .unwrap();

    let checks: Vec<Value> = lines(&proxy)
        .await
        .into_iter()
        .filter(|l| l["atype"] == "authCheck")
        .collect();
    assert_eq!(checks.len(), 1, "{checks:#?}");
    let line = &checks[0];
    assert_conn_fields(line, &proxy);
    assert_eq!(line["result"], 0);
    assert_eq!(
        line["param"],
        json!({"command": "find", "ns": "shop.orders"})
    );
    assert_eq!(line["users"], reader_ref());
    assert!(!line.to_string().contains(SECRET));
}
