//! Authentication helpers for tests: a SCRAM conversation driven by hand over the raw
//! TLS client (so tests see every reply the proxy sends), connections from a chosen
//! loopback source address, and user tables with a chosen set of mechanisms.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawDocumentBuf};
use mongoward::gates::credentials::{credentials_toml, Mechanism, ScramCredential};
use mongoward::gates::scram::ScramClient;
use tokio::net::TcpSocket;
use tokio_rustls::rustls;

use super::raw::{tls_connector, RawClient};

pub fn bin(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

fn payload(reply: &RawDocumentBuf) -> Vec<u8> {
    reply
        .get_binary("payload")
        .map(|b| b.bytes.to_vec())
        .expect("a payload in the SASL reply")
}

/// A fresh 24-byte client nonce (tests need no CSPRNG, only uniqueness).
pub fn nonce() -> Vec<u8> {
    use rand::RngCore;
    let mut n = vec![0u8; 24];
    rand::thread_rng().fill_bytes(&mut n);
    n
}

/// The reply of a failed command: (code, errmsg).
pub fn failure(reply: &RawDocumentBuf) -> Option<(i32, String)> {
    if reply.get_f64("ok").ok() == Some(1.0) || reply.get_i32("ok").ok() == Some(1) {
        return None;
    }
    Some((
        reply.get_i32("code").unwrap_or(-1),
        reply.get_str("errmsg").unwrap_or("").to_string(),
    ))
}

/// Finishes a conversation whose server-first is in `first_reply`: saslContinue with the
/// proof, checks the server signature, then the empty exchange until `done`.
pub async fn sasl_finish(
    c: &mut RawClient,
    client: &mut ScramClient,
    first_reply: &RawDocumentBuf,
) -> Result<(), (i32, String)> {
    let conv = first_reply.get_i32("conversationId").unwrap_or(1);
    let fin = client
        .client_final(&payload(first_reply))
        .expect("client-final");
    let reply = c
        .command(&rawdoc! {"saslContinue": 1, "conversationId": conv, "payload": bin(fin), "$db": "admin"})
        .await;
    if let Some(f) = failure(&reply) {
        return Err(f);
    }
    client
        .verify_server_final(&payload(&reply))
        .expect("the proxy proves it knows the credential");
    let mut done = reply.get_bool("done").unwrap_or(false);
    while !done {
        let reply = c
            .command(&rawdoc! {"saslContinue": 1, "conversationId": conv, "payload": bin(Vec::new()), "$db": "admin"})
            .await;
        if let Some(f) = failure(&reply) {
            return Err(f);
        }
        done = reply.get_bool("done").expect("done flag");
    }
    Ok(())
}

/// A whole SCRAM login with saslStart/saslContinue; Err is the proxy's (code, errmsg).
pub async fn raw_auth(
    c: &mut RawClient,
    m: Mechanism,
    user: &str,
    password: &str,
) -> Result<(), (i32, String)> {
    let (mut client, first) = ScramClient::new(m, user, password, &nonce()).expect("client");
    let reply = c
        .command(
            &rawdoc! {"saslStart": 1, "mechanism": m.name(), "payload": bin(first), "$db": "admin"},
        )
        .await;
    if let Some(f) = failure(&reply) {
        return Err(f);
    }
    sasl_finish(c, &mut client, &reply).await
}

/// `connectionStatus.authInfo.authenticatedUsers` as "user@db" strings.
pub async fn authenticated_users(c: &mut RawClient) -> Vec<String> {
    let reply = c
        .command(&rawdoc! {"connectionStatus": 1, "$db": "admin"})
        .await;
    let info = reply.get_document("authInfo").expect("authInfo");
    info.get_array("authenticatedUsers")
        .expect("authenticatedUsers")
        .into_iter()
        .map(|u| {
            let d = u.expect("entry").as_document().expect("a document");
            format!(
                "{}@{}",
                d.get_str("user").expect("user"),
                d.get_str("db").expect("db")
            )
        })
        .collect()
}

/// A raw TLS client whose TCP connection comes from `source` (e.g. 127.0.0.2).
pub async fn connect_from(addr: SocketAddr, ca: &Path, source: IpAddr) -> RawClient {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .expect("bind the source address");
    let tcp = socket.connect(addr).await.expect("tcp connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = tls_connector(ca)
        .connect(name, tcp)
        .await
        .expect("tls handshake");
    RawClient::from_stream(stream)
}

/// A `[[users]]` table with credentials for `mechs` only.
pub fn user_toml_with(user: &str, password: &str, roles: &[&str], mechs: &[Mechanism]) -> String {
    let creds: Vec<ScramCredential> = mechs
        .iter()
        .map(|m| {
            let salt: Vec<u8> = (0..m.salt_len()).map(|i| (i * 3 + 1) as u8).collect();
            ScramCredential::derive(*m, user, password, &salt, 4096).expect("derive")
        })
        .collect();
    let roles: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "[[users]]\nuser = {user:?}\ndb = \"admin\"\nroles = [{}]\n{}",
        roles.join(", "),
        credentials_toml(&creds)
    )
}

/// RFC 3339 for now + `secs` (negative for the past).
pub fn rfc3339_in(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format time")
}

/// Extra config declaring a second cluster (same upstream, its own listener) for scope tests.
pub fn other_cluster(upstream_uri: &str) -> String {
    format!("[[clusters]]\nname = \"other\"\nuri = {upstream_uri:?}\nlisten = \"127.0.0.1:0\"\n")
}

/// A raw client on `proxy`, logged in as the harness's application user (SCRAM-SHA-256).
pub async fn app_login(proxy: &super::Proxy) -> RawClient {
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(
        &mut c,
        Mechanism::ScramSha256,
        super::APP_USER,
        super::APP_PASSWORD,
    )
    .await
    .expect("login");
    c
}

/// One command on a raw client; a reply later than `bound` fails the test.
pub async fn command_within(
    c: &mut RawClient,
    body: &bson::RawDocument,
    bound: std::time::Duration,
) -> RawDocumentBuf {
    tokio::time::timeout(bound, c.command(body))
        .await
        .expect("a reply in time")
}

/// Inserts `{n: 0..n}` into `shop.<coll>` through `c` and checks that it succeeded.
pub async fn seed_shop(c: &mut RawClient, coll: &str, n: i32, bound: std::time::Duration) {
    let docs: Vec<bson::Bson> = (0..n)
        .map(|i| bson::Bson::Document(bson::doc! {"n": i}))
        .collect();
    let body = RawDocumentBuf::from_document(
        &bson::doc! {"insert": coll, "documents": docs, "$db": "shop"},
    )
    .expect("insert body");
    let reply = command_within(c, &body, bound).await;
    assert!(failure(&reply).is_none(), "seed insert: {reply:?}");
}
