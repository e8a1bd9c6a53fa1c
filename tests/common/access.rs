//! Helpers for the network-gate tests: configs with chosen listeners and access lists,
//! liveness probes from chosen loopback source addresses, polling with deadlines.

use std::net::{IpAddr, SocketAddr};

use bson::rawdoc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::common::raw::{bytes_before_close, tcp_from, RawClient};
use crate::common::{certs, Certs, Proxy, Upstream};

/// One `[[access_list]]` entry: cidr and optional RFC 3339 `delete_after`.
pub struct Entry {
    pub cidr: String,
    pub delete_after: Option<String>,
}

pub fn permanent(cidr: &str) -> Entry {
    Entry {
        cidr: cidr.to_owned(),
        delete_after: None,
    }
}

/// An entry that stops matching at unix second `expires`.
pub fn temporary(cidr: &str, expires: i64) -> Entry {
    let at = OffsetDateTime::from_unix_timestamp(expires).expect("a valid instant");
    Entry {
        cidr: cidr.to_owned(),
        delete_after: Some(at.format(&Rfc3339).expect("RFC 3339")),
    }
}

/// A whole configuration file: `listen` addresses, extra `[server]` keys, the entries.
pub fn config_text(
    certs: &Certs,
    upstream_uri: &str,
    listen: &[&str],
    server: &str,
    entries: &[Entry],
) -> String {
    let mut text = format!(
        "[server]\nlisten = {listen:?}\n{server}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"default\"\nuri = {:?}\n",
        certs.cert, certs.key, upstream_uri
    );
    for e in entries {
        text.push_str(&format!(
            "[[access_list]]\ncidr = {:?}\ncomment = \"test\"\n",
            e.cidr
        ));
        if let Some(at) = &e.delete_after {
            text.push_str(&format!("delete_after = {at:?}\n"));
        }
    }
    text
}

/// Starts a proxy on 127.0.0.1 with exactly `entries` as its access list.
pub async fn start(upstream: &Upstream, server: &str, entries: &[Entry]) -> Proxy {
    start_on(upstream, &["127.0.0.1:0"], server, entries).await
}

pub async fn start_on(
    upstream: &Upstream,
    listen: &[&str],
    server: &str,
    entries: &[Entry],
) -> Proxy {
    let certs = certs();
    let text = config_text(&certs, &upstream.uri, listen, server, entries);
    Proxy::start_with(certs, &text).await
}

/// Rewrites the proxy's configuration file with a new access list.
pub fn rewrite(proxy: &Proxy, upstream: &Upstream, server: &str, entries: &[Entry]) {
    let text = config_text(
        &proxy.certs,
        &upstream.uri,
        &[&proxy.addr.to_string()],
        server,
        entries,
    );
    std::fs::write(&proxy.config_path, text).expect("rewrite config");
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("an IP address")
}

/// A TLS client connected from `source`, proven alive by a `ping` the proxy answers.
pub async fn live_client(proxy: &Proxy, source: &str) -> RawClient {
    let mut c = RawClient::connect_from(ip(source), proxy.addr, proxy.ca()).await;
    assert!(pings(&mut c).await, "{source} is admitted and answers ping");
    c
}

/// Whether `ping` gets `ok: 1` on this connection.
pub async fn pings(c: &mut RawClient) -> bool {
    let id = c.next_id();
    c.send(&mongoward::wire::encode_op_msg(
        id,
        0,
        0,
        &rawdoc! {"ping": 1, "$db": "admin"},
    ))
    .await;
    let Some(frame) = c.read_frame().await else {
        return false;
    };
    let reply = mongoward::wire::decode_reply(frame.into(), &Default::default());
    match reply {
        Ok(mongoward::wire::Reply::Msg(m)) => {
            let ok = m.body().get("ok").ok().flatten();
            ok.and_then(|v| v.as_f64().or(v.as_i32().map(f64::from))) == Some(1.0)
        }
        _ => false,
    }
}

/// Asserts that a connection from `source` (after `prefix`, e.g. a PROXY header) is
/// closed with zero bytes answered to its ClientHello: refused before TLS.
pub async fn assert_refused_before_tls(source: &str, to: SocketAddr, prefix: &[u8]) {
    let tcp = tcp_from(ip(source), to).await;
    let got = bytes_before_close(tcp, prefix).await;
    assert_eq!(
        got, 0,
        "{source}: no TLS byte may come back from a refused client"
    );
}

/// Refusals counted by the proxy so far.
pub fn refused(proxy: &Proxy) -> u64 {
    mongoward::proxy::stats::Stats::get(&proxy.running.stats().connections_refused_access_list)
}
