//! Issue 14, byte by byte: the legacy OP_QUERY commands old drivers send (mongod's short
//! list) go through the same gates as OP_MSG and get OP_REPLY answers; everything else is
//! refused as mongod refuses it; SCRAM's third message is ignored as mongod ignores it;
//! a protocol mismatch does not count as a password guess.

mod common;

use std::time::Duration;

use bson::{rawdoc, RawDocumentBuf};
use common::auth::{authenticated_users, bin, failure, nonce};
use common::raw::RawClient;
use common::{user_toml, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use mongoward::gates::scram::ScramClient;
use mongoward::proxy::stats::Stats;
use serde_json::Value;

const FAILED: (i32, &str) = (18, "Authentication failed.");
const QUERY_FAILURE: i32 = 2;

fn payload(reply: &RawDocumentBuf) -> Vec<u8> {
    reply.get_binary("payload").expect("payload").bytes.to_vec()
}

/// A SCRAM login entirely on OP_QUERY, as the Java driver 3.x does it: the third message
/// echoes server-final (drivers 3.x-4.0). Err is the proxy's (code, errmsg).
async fn query_login(
    c: &mut RawClient,
    m: Mechanism,
    user: &str,
    password: &str,
) -> Result<(), (i32, String)> {
    let (mut client, first) = ScramClient::new(m, user, password, &nonce()).expect("client");
    let start =
        rawdoc! {"saslStart": 1, "mechanism": m.name(), "payload": bin(first), "autoAuthorize": 1};
    let (_, reply) = c.query("admin.$cmd", &start).await;
    if let Some(f) = failure(&reply) {
        return Err(f);
    }
    let fin = client.client_final(&payload(&reply)).expect("client-final");
    let step = rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin(fin)};
    let (_, reply) = c.query("admin.$cmd", &step).await;
    if let Some(f) = failure(&reply) {
        return Err(f);
    }
    let server_final = payload(&reply);
    client
        .verify_server_final(&server_final)
        .expect("the proxy proves it knows the credential");
    assert!(!reply.get_bool("done").unwrap());
    let echo = rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin(server_final)};
    let (_, reply) = c.query("admin.$cmd", &echo).await;
    if let Some(f) = failure(&reply) {
        return Err(f);
    }
    assert!(reply.get_bool("done").unwrap(), "{reply:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_driver_handshake_on_op_query() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;

    let (flags, hello) = c
        .query(
            "admin.$cmd",
            &rawdoc! {"isMaster": 1, "client": {"driver": {"name": "raw"}}},
        )
        .await;
    assert_eq!(flags & QUERY_FAILURE, 0);
    assert!(hello.get_bool("ismaster").unwrap());
    assert_eq!(hello.get_i32("minWireVersion").unwrap(), 0, "as mongos");
    assert!(hello.get_i32("maxWireVersion").unwrap() >= 6);

    // buildinfo before authentication answers as on OP_MSG (lowercase, as Java 3.x sends it).
    let (_, info) = c.query("admin.$cmd", &rawdoc! {"buildinfo": 1}).await;
    let on_msg = c.command(&rawdoc! {"buildInfo": 1, "$db": "admin"}).await;
    assert_eq!(info, on_msg);
    assert_eq!(
        info.get_array("versionArray").unwrap().into_iter().count(),
        4
    );

    query_login(&mut c, Mechanism::ScramSha1, APP_USER, APP_PASSWORD)
        .await
        .expect("SCRAM-SHA-1 on OP_QUERY");
    assert_eq!(
        authenticated_users(&mut c).await,
        [format!("{APP_USER}@admin")]
    );
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    query_login(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("SCRAM-SHA-256 on OP_QUERY");

    // The Java driver 4.1-4.2: the first SCRAM step inside isMaster, the rest on OP_QUERY.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let m = Mechanism::ScramSha256;
    let (mut client, first) = ScramClient::new(m, APP_USER, APP_PASSWORD, &nonce()).unwrap();
    let spec =
        rawdoc! {"saslStart": 1, "mechanism": m.name(), "payload": bin(first), "db": "admin"};
    let (_, hello) = c
        .query(
            "admin.$cmd",
            &rawdoc! {"isMaster": 1, "speculativeAuthenticate": spec},
        )
        .await;
    let first_reply = hello
        .get_document("speculativeAuthenticate")
        .expect("answered inside isMaster")
        .to_raw_document_buf();
    let fin = client.client_final(&payload(&first_reply)).unwrap();
    let step = rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin(fin)};
    let (_, reply) = c.query("admin.$cmd", &step).await;
    assert_eq!(failure(&reply), None, "{reply:?}");
    let step = rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin(Vec::new())};
    let (_, reply) = c.query("admin.$cmd", &step).await;
    assert!(reply.get_bool("done").unwrap(), "{reply:?}");
    assert_eq!(
        authenticated_users(&mut c).await,
        [format!("{APP_USER}@admin")]
    );
    assert_eq!(Stats::get(&proxy.running.stats().auth_speculative), 1);

    // `authenticate` is answered, and opens nothing.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let (_, reply) = c
        .query(
            "admin.$cmd",
            &rawdoc! {"authenticate": 1, "mechanism": "MONGODB-X509"},
        )
        .await;
    assert_eq!(failure(&reply).map(|f| f.0), Some(334));
    assert!(authenticated_users(&mut c).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_else_on_op_query_is_refused_as_mongod_does() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let before = Stats::get(&proxy.running.stats().op_query_refused);
    let forwarded = Stats::get(&proxy.running.stats().forwarded);

    let (flags, reply) = c
        .query(
            "shop.$cmd",
            &rawdoc! {"insert": "orders", "documents": [{"a": 1}]},
        )
        .await;
    assert_eq!(
        flags & QUERY_FAILURE,
        0,
        "a command error, not a query failure"
    );
    assert_eq!(reply.get_i32("code").unwrap(), 352);
    assert_eq!(
        reply.get_str("codeName").unwrap(),
        "UnsupportedOpQueryCommand"
    );
    assert_eq!(
        reply.get_str("errmsg").unwrap(),
        "Unsupported OP_QUERY command: insert. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
    );
    // A legacy query on a collection: mongod's `$err` answer, flagged QueryFailure.
    let (flags, reply) = c.query("shop.orders", &rawdoc! {"a": 1}).await;
    assert_eq!(flags & QUERY_FAILURE, QUERY_FAILURE);
    assert_eq!(reply.get_i32("code").unwrap(), 5739101);
    assert!(reply
        .get_str("$err")
        .unwrap()
        .starts_with("OP_QUERY is no longer supported."));
    // `$db` in an OP_QUERY command (mongod: 40621).
    let (_, reply) = c
        .query("admin.$cmd", &rawdoc! {"isMaster": 1, "$db": "shop"})
        .await;
    assert_eq!(reply.get_i32("code").unwrap(), 40621);

    assert_eq!(
        Stats::get(&proxy.running.stats().op_query_refused),
        before + 3
    );
    assert_eq!(
        Stats::get(&proxy.running.stats().forwarded),
        forwarded,
        "nothing forwarded"
    );
    // The connection stays usable.
    let (_, hello) = c.query("admin.$cmd", &rawdoc! {"ismaster": 1}).await;
    assert!(hello.get_bool("ismaster").unwrap());
}

fn audit_toml(extra: &str) -> String {
    format!("[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.log\"\n{extra}")
}

async fn failed_logins(proxy: &Proxy) -> Vec<Value> {
    proxy.running.auditor().flush().await;
    let path = proxy.config_path.with_file_name("audit.log");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|l| l["atype"] == "authenticate" && l["result"] != 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_on_op_query_goes_through_the_throttle_and_the_audit() {
    let upstream = Upstream::start();
    let extra = audit_toml("[auth.throttle]\nsource_max_failures = 3\nsource_refuse_ms = 2000\n");
    let proxy = Proxy::start(&upstream, &extra).await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    for i in 0..3 {
        let e = query_login(&mut c, Mechanism::ScramSha1, APP_USER, &format!("g{i}"))
            .await
            .expect_err("a wrong password");
        assert_eq!((e.0, e.1.as_str()), FAILED);
    }
    let audited = failed_logins(&proxy).await;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert_eq!(audited[0]["param"]["mechanism"], "SCRAM-SHA-1");
    assert_eq!(audited[0]["param"]["user"], APP_USER);
    // The source is refused now, on OP_QUERY as on OP_MSG, even with the right password.
    let e = query_login(&mut c, Mechanism::ScramSha1, APP_USER, APP_PASSWORD)
        .await
        .expect_err("refused by the throttle");
    assert_eq!((e.0, e.1.as_str()), FAILED);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    query_login(&mut c, Mechanism::ScramSha1, APP_USER, APP_PASSWORD)
        .await
        .expect("after the cooldown");
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_mismatches_are_not_counted_as_password_guesses() {
    let upstream = Upstream::start();
    let extra = audit_toml(&format!(
        "[auth.throttle]\nsource_max_failures = 2\nfree_failures = 0\nsource_refuse_ms = 600000\n{}",
        user_toml("other", "other-Passw0rd", &["read@shop"], "")
    ));
    let proxy = Proxy::start(&upstream, &extra).await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    // Five conversations that each break the protocol at the proof step (another nonce,
    // a proof of the wrong length, a message out of order): failed logins, no guesses.
    let bad_finals: [&[u8]; 3] = [b"c=biws,r=not-the-nonce,p=AAAA", b"c=biws", b"n,,n=x,r=y"];
    for (i, bad) in bad_finals.iter().cycle().take(5).enumerate() {
        let (_, first) = ScramClient::new(Mechanism::ScramSha256, APP_USER, "x", &nonce()).unwrap();
        let start = rawdoc! {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(first), "$db": "admin"};
        let reply = c.command(&start).await;
        assert_eq!(failure(&reply), None, "{reply:?}");
        let step = rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin(bad.to_vec()), "$db": "admin"};
        let reply = c.command(&step).await;
        assert_eq!(failure(&reply).map(|f| f.0), Some(18), "conversation {i}");
    }
    assert_eq!(
        failed_logins(&proxy).await.len(),
        5,
        "each is still an audited failure"
    );
    // Not refused by the throttle, not even delayed: the real password logs in.
    query_login(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("protocol mismatches did not lock the user out");
    // Two real guesses (another user) do trip the source limit.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    for _ in 0..2 {
        assert!(
            query_login(&mut c, Mechanism::ScramSha256, "other", "wrong")
                .await
                .is_err()
        );
    }
    let e = query_login(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect_err("the source is refused after two guesses");
    assert_eq!((e.0, e.1.as_str()), FAILED);
}

/// The built binary, killed when dropped (its stderr goes to a file the test reads).
/// Sends rustls's own ClientHello for "localhost" with the SNI bytes replaced by `name`
/// (same length), and returns the first byte the proxy answers with (0x16: handshake,
/// 0x15: alert), if any.
async fn hello_with_sni(addr: std::net::SocketAddr, name: &[u8; 9]) -> Option<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut hello = common::raw::client_hello();
    let at = hello
        .windows(9)
        .position(|w| w == b"localhost")
        .expect("the SNI in the ClientHello");
    hello[at..at + 9].copy_from_slice(name);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&hello).await.expect("send ClientHello");
    let mut first = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut first)).await;
    matches!(read, Ok(Ok(1))).then_some(first[0])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ip_literal_as_sni_is_served_as_no_sni_without_a_warning() {
    let upstream = Upstream::start();
    let certs = common::certs();
    let port = common::free_port();
    let text = common::config_text(&certs, &upstream.uri, "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = certs.dir.path().join("mongoward.toml");
    std::fs::write(&config, text).unwrap();
    let log = certs.dir.path().join("stderr.log");
    let child = common::binary::command()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start mongoward");
    let _guard = common::binary::Reaper(child);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    common::binary::wait_listening(addr, Duration::from_secs(20), "mongoward").await;
    // Served as a connection without SNI: the ServerHello comes back.
    assert_eq!(hello_with_sni(addr, b"127.0.0.1").await, Some(0x16));
    // A control: another kind of bad SNI is still logged by rustls, so the log is captured
    // and the filter is narrow.
    let _ = hello_with_sni(addr, b"localhos!").await;
    let start = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Illegal SNI hostname") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        text.contains("Illegal SNI hostname"),
        "the control line:\n{text}"
    );
    assert!(!text.contains("ignoring IP address"), "{text}");
}
