//! Issue 2: hand-made wire messages against the proxy: the legacy handshake, malformed
//! and oversized frames (clear error, connection closed, proxy still serving), and an
//! upstream that dies mid-session.

mod common;

use bson::{doc, rawdoc, Document};
use common::raw::RawClient;
use common::{Proxy, Upstream};
use mongodb::Client;

fn op_query(id: i32, collection: &str, query: &bson::RawDocument) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_le_bytes()); // flags
    body.extend_from_slice(collection.as_bytes());
    body.push(0);
    body.extend_from_slice(&0i32.to_le_bytes()); // skip
    body.extend_from_slice(&(-1i32).to_le_bytes()); // return
    body.extend_from_slice(query.as_bytes());
    let mut msg = Vec::new();
    msg.extend_from_slice(&((16 + body.len()) as i32).to_le_bytes());
    msg.extend_from_slice(&id.to_le_bytes());
    msg.extend_from_slice(&0i32.to_le_bytes());
    msg.extend_from_slice(&2004i32.to_le_bytes());
    msg.extend_from_slice(&body);
    msg
}

fn reply_doc(frame: &[u8]) -> bson::RawDocumentBuf {
    match mongoward::wire::decode_reply(frame.to_vec().into(), &Default::default())
        .expect("reply decodes")
    {
        mongoward::wire::Reply::Msg(m) => m.body().to_raw_document_buf(),
        mongoward::wire::Reply::Reply(r) => r.first_document().expect("doc").to_raw_document_buf(),
    }
}

async fn assert_still_serving(proxy: &Proxy) {
    let c = Client::with_uri_str(proxy.uri("")).await.expect("client");
    let coll = c.database("core_wire").collection::<Document>("alive");
    coll.insert_one(doc! {"ok": true})
        .await
        .expect("another client still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_op_query_handshake_gets_op_reply() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut raw = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw.send(&op_query(
        7,
        "admin.$cmd",
        &rawdoc! {"isMaster": 1, "helloOk": true},
    ))
    .await;
    let frame = raw.read_frame().await.expect("reply");
    assert_eq!(
        i32::from_le_bytes(frame[12..16].try_into().unwrap()),
        1,
        "OP_REPLY opcode"
    );
    assert_eq!(
        i32::from_le_bytes(frame[8..12].try_into().unwrap()),
        7,
        "responseTo"
    );
    let doc = reply_doc(&frame);
    assert!(doc.get_bool("ismaster").unwrap());
    assert_eq!(doc.get_str("msg").unwrap(), "isdbgrid");

    // Any other OP_QUERY is refused with an error reply, not forwarded.
    raw.send(&op_query(8, "app.$cmd", &rawdoc! {"find": "x"}))
        .await;
    let doc = reply_doc(&raw.read_frame().await.expect("error reply"));
    assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
    assert!(doc
        .get_str("errmsg")
        .unwrap()
        .contains("Unsupported OP_QUERY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_frame_is_refused_and_others_keep_working() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut raw = RawClient::connect(proxy.addr, proxy.ca()).await;
    // OP_MSG whose body length runs past the message.
    let mut msg =
        mongoward::wire::encode_op_msg(9, 0, 0, &rawdoc! {"ping": 1, "$db": "admin"}).to_vec();
    msg[21] = 0xff;
    raw.send(&msg).await;
    let frame = raw
        .read_frame()
        .await
        .expect("an error reply before closing");
    let doc = reply_doc(&frame);
    assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
    assert!(doc.get_i32("code").is_ok());
    assert!(
        raw.closed().await,
        "connection closed after a malformed frame"
    );
    assert_still_serving(&proxy).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_frame_is_refused_before_allocation() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut raw = RawClient::connect(proxy.addr, proxy.ca()).await;
    let mut header = Vec::new();
    header.extend_from_slice(&(48_000_001i32 + 1024).to_le_bytes());
    header.extend_from_slice(&11i32.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes());
    header.extend_from_slice(&2013i32.to_le_bytes());
    raw.send(&header).await;
    let doc = reply_doc(&raw.read_frame().await.expect("error reply"));
    assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
    assert!(raw.closed().await);
    assert_still_serving(&proxy).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_db_is_refused() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut raw = RawClient::connect(proxy.addr, proxy.ca()).await;
    let body = rawdoc! {"find": "x", "$db": "a", "$db": "b"};
    let id = raw.next_id();
    raw.send(&mongoward::wire::encode_op_msg(id, 0, 0, &body))
        .await;
    let doc = reply_doc(&raw.read_frame().await.expect("error reply"));
    assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_killed_mid_session_gives_error_then_recovers() {
    let mut upstream = Upstream::start();
    if !upstream.is_local() {
        return; // cannot kill a server we did not start
    }
    let proxy = Proxy::start(&upstream, "").await;
    let uri = proxy.uri("&retryWrites=false&retryReads=false&serverSelectionTimeoutMS=3000");
    let c = Client::with_uri_str(&uri).await.expect("client");
    let coll = c.database("core_kill_up").collection::<Document>("c");
    coll.insert_one(doc! {"a": 1})
        .await
        .expect("insert before the kill");
    upstream.kill();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        coll.insert_one(doc! {"a": 2}),
    )
    .await
    .expect("no hang when the upstream is gone")
    .expect_err("write fails while the upstream is down");
    let text = err.to_string();
    assert!(
        text.contains("upstream") || text.contains("HostUnreachable") || text.contains("6"),
        "{text}"
    );
    upstream.spawn();
    let c2 = Client::with_uri_str(&uri).await.expect("client");
    c2.database("core_kill_up")
        .collection::<Document>("c")
        .insert_one(doc! {"a": 3})
        .await
        .expect("new client works after restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_and_tls13_are_both_served() {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        for c in mongoward::tls::load_certs(proxy.ca()).unwrap() {
            roots.add(c).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("handshake");
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
    }
}
