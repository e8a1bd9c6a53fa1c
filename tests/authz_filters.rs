//! Issue 13 §4: filtered replies stay filtered. listCollections with
//! `authorizedCollections` is narrowed in every batch of its cursor (getMore included),
//! checked against an upstream that honours batch sizes as mongod does; and a reply the
//! proxy cannot decode is answered with an error, never passed on unfiltered.

#[path = "common/catalog_upstream.rs"]
mod catalog_upstream;
mod common;

use bson::{rawdoc, RawDocumentBuf};
use catalog_upstream::CatalogUpstream;
use common::auth::{failure, raw_auth};
use common::raw::RawClient;
use common::{certs, config_text, user_toml, Proxy};
use mongoward::gates::credentials::Mechanism;

const USER: &str = "narrow";
const PASSWORD: &str = "narrow-Passw0rd";
const DB: &str = "shop";

/// 150 collections, the one the user may see far past mongod's default first batch.
fn names() -> Vec<String> {
    let mut names: Vec<String> = (0..150).map(|i| format!("hidden{i:03}")).collect();
    names.insert(120, "visible".to_string());
    names
}

async fn proxy_over(upstream: &CatalogUpstream) -> Proxy {
    let certs = certs();
    let user = user_toml(USER, PASSWORD, &[&format!("read@{DB}.visible")], "");
    let text = config_text(&certs, &upstream.uri, &user);
    Proxy::start_with(certs, &text).await
}

async fn login(proxy: &Proxy) -> RawClient {
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, USER, PASSWORD)
        .await
        .expect("login");
    c
}

fn batch(reply: &RawDocumentBuf, key: &str) -> (i64, Vec<String>) {
    assert_eq!(failure(reply), None, "{reply:?}");
    let cursor = reply.get_document("cursor").expect("cursor");
    let names = cursor
        .get_array(key)
        .expect("batch")
        .into_iter()
        .map(|e| {
            let d = e.expect("entry").as_document().expect("document");
            d.get_str("name").expect("name").to_string()
        })
        .collect();
    (cursor.get_i64("id").expect("id"), names)
}

/// Runs listCollections with `first` as its cursor options, then getMore (with
/// `more_size` when given) until the cursor is exhausted; returns every name seen.
async fn list_all(c: &mut RawClient, first: RawDocumentBuf, more_size: Option<i64>) -> Vec<String> {
    let reply = c
        .command(&rawdoc! {
            "listCollections": 1, "authorizedCollections": true, "nameOnly": true,
            "cursor": first, "$db": DB,
        })
        .await;
    let (mut id, mut seen) = batch(&reply, "firstBatch");
    let mut rounds = 0;
    while id != 0 {
        let mut cmd = rawdoc! {"getMore": id, "collection": "$cmd.listCollections", "$db": DB};
        if let Some(n) = more_size {
            cmd.append("batchSize", n);
        }
        let (next, names) = batch(&c.command(&cmd).await, "nextBatch");
        seen.extend(names);
        id = next;
        rounds += 1;
        assert!(rounds < 100, "the cursor ends");
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn every_batch_of_a_filtered_list_collections_cursor_is_filtered() {
    let upstream = CatalogUpstream::start(DB, &names(), false).await;
    let proxy = proxy_over(&upstream).await;
    let mut c = login(&proxy).await;
    // An empty first batch, then everything in one getMore (the reproduction).
    let seen = list_all(&mut c, rawdoc! {"batchSize": 0}, None).await;
    assert_eq!(seen, ["visible"]);
    // mongod's default first batch (101 names), then the rest.
    let seen = list_all(&mut c, rawdoc! {}, None).await;
    assert_eq!(seen, ["visible"]);
    // Small batches all the way.
    let seen = list_all(&mut c, rawdoc! {"batchSize": 7}, Some(11)).await;
    assert_eq!(seen, ["visible"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_reply_to_a_filtered_command_is_withheld() {
    let upstream = CatalogUpstream::start(DB, &names(), true).await;
    let proxy = proxy_over(&upstream).await;
    let mut c = login(&proxy).await;
    let cmd = rawdoc! {
        "listCollections": 1, "authorizedCollections": true, "nameOnly": true, "$db": DB,
    };
    let id = c.next_id();
    c.send(&mongoward::wire::encode_op_msg(id, 0, 0, &cmd))
        .await;
    let frame = c.read_frame().await.expect("an answer");
    let text = String::from_utf8_lossy(&frame);
    assert!(
        !text.contains("hidden"),
        "the unfiltered listing was relayed"
    );
    let reply = match mongoward::wire::decode_reply(frame.into(), &Default::default()) {
        Ok(mongoward::wire::Reply::Msg(m)) => m.body().to_raw_document_buf(),
        other => panic!("not a valid OP_MSG answer: {other:?}"),
    };
    let (code, msg) = failure(&reply).expect("an error reply");
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("withheld"), "{msg}");
}
