use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{route, Target};
use super::{render, serve, Metrics, MetricsConfig};
use crate::proxy::state::counters::{command_index, AuthMechanism, Histogram, KNOWN_COMMANDS};

/// A registry with one of everything moved, so every family shows a value.
fn known_state() -> Metrics {
    let m = Metrics::default();
    m.connections_open.store(2, Ordering::Relaxed);
    m.connections_accepted.store(5, Ordering::Relaxed);
    m.connections_refused_access_list
        .store(3, Ordering::Relaxed);
    m.connections_refused_proxy_protocol
        .store(1, Ordering::Relaxed);
    m.tls_handshakes_ok.store(5, Ordering::Relaxed);
    m.tls_handshake_failures.store(2, Ordering::Relaxed);
    m.messages_in.store(40, Ordering::Relaxed);
    m.compressed_in[3].store(4, Ordering::Relaxed);
    m.malformed.store(1, Ordering::Relaxed);
    m.op_query_refused.store(3, Ordering::Relaxed);
    m.forwarded.store(30, Ordering::Relaxed);
    m.record_auth(AuthMechanism::ScramSha256, true);
    m.record_auth(AuthMechanism::ScramSha256, false);
    m.record_auth(AuthMechanism::from_name("PLAIN"), false);
    m.record_authz("find", true);
    m.record_authz("find", true);
    m.record_authz("insert", false);
    m.record_authz("myCustomThing", false);
    let b = m.cluster("b\"2");
    Metrics::inc(&b.connections);
    m.record_upstream_error(&b);
    let a = m.cluster("a");
    Metrics::inc(&a.connections);
    Metrics::inc(&a.connections);
    m.observe_proxy(Duration::from_micros(80));
    m.observe_proxy(Duration::from_micros(100));
    m.observe_proxy(Duration::from_micros(101));
    m.observe_upstream(Duration::from_millis(1500));
    m.observe_upstream(Duration::from_secs(11));
    m.record_startup(1);
    m.record_reload(2, true);
    m.record_reload(2, false);
    m.audit_events_dropped.store(7, Ordering::Relaxed);
    m.access_list_expired_entries.store(1, Ordering::Relaxed);
    m
}

#[test]
fn renders_exact_text_for_a_known_state() {
    let text = render(&known_state());
    let expected = include_str!("expected_known_state.prom");
    for (i, (got, want)) in text.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
    assert_eq!(text, expected);
}

#[test]
fn labelled_totals_stay_in_step_with_unlabelled_ones() {
    let m = known_state();
    assert_eq!(Metrics::get(&m.auth_success), 1);
    assert_eq!(Metrics::get(&m.auth_failure), 2);
    assert_eq!(Metrics::get(&m.authz_denied), 2);
    assert_eq!(Metrics::get(&m.upstream_errors), 1);
    assert_eq!(m.authorizations.get("find", true), 2);
    assert_eq!(
        m.authorizations.get("somethingElse", false),
        1,
        "shares the other row"
    );
}

#[test]
fn known_commands_are_sorted_and_unknown_ones_are_other() {
    assert!(KNOWN_COMMANDS.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(KNOWN_COMMANDS[command_index("find")], "find");
    assert_eq!(command_index("FIND"), KNOWN_COMMANDS.len());
    assert_eq!(command_index(""), KNOWN_COMMANDS.len());
}

#[test]
fn histogram_bounds_are_inclusive() {
    let h = Histogram::default();
    h.observe(Duration::from_micros(100));
    h.observe(Duration::from_micros(101));
    h.observe(Duration::from_secs(3600));
    let (cumulative, total) = h.cumulative();
    assert_eq!(cumulative[0], 1, "100µs is in le=0.0001");
    assert_eq!(cumulative[1], 2, "101µs is in le=0.00025");
    assert_eq!(cumulative[15], 2, "an hour is above every bound");
    assert_eq!(total, 3);
    assert_eq!(h.sum_micros(), 3_600_000_201);
}

#[test]
fn increments_from_many_threads_are_all_counted() {
    let m = Arc::new(Metrics::default());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                let c = m.cluster("x");
                for _ in 0..10_000 {
                    m.record_authz("aggregate", true);
                    Metrics::inc(&c.connections);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(m.authorizations.get("aggregate", true), 40_000);
    assert_eq!(Metrics::get(&m.cluster("x").connections), 40_000);
}

#[test]
fn request_lines_route() {
    assert_eq!(
        route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        Target::Metrics
    );
    assert_eq!(
        route(b"GET /metrics?name[]=a HTTP/1.0\r\n\r\n"),
        Target::Metrics
    );
    assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Target::NotFound);
    assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Target::NotFound);
    assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Target::NotFound);
    assert_eq!(route(b"\x16\x03\x01\x02\r\n\r\n"), Target::BadRequest);
    assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n"), Target::BadRequest);
}

#[test]
fn config_parses_and_rejects_unknown_keys() {
    let c: MetricsConfig = toml::from_str("listen = \"127.0.0.1:9216\"").unwrap();
    assert_eq!(c.listen.port(), 9216);
    assert!(toml::from_str::<MetricsConfig>("listen = \"localhost\"").is_err());
    assert!(toml::from_str::<MetricsConfig>("listen = \"127.0.0.1:1\"\nlisen = 1").is_err());
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn serves_metrics_and_404_then_stops() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(known_state());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(serve(listener, metrics.clone(), shutdown));

    let ok = http_get(addr, "/metrics").await;
    let (head, body) = ok.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    assert_eq!(body, render(&metrics));

    let missing = http_get(addr, "/").await;
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("serve returns on shutdown")
        .unwrap();
}

#[test]
fn health_reports_store_staleness() {
    use std::sync::atomic::Ordering;
    assert_eq!(route(b"GET /health HTTP/1.1\r\n\r\n"), Target::Health);
    let m = Metrics::default();
    let (status, body) = super::render::health(&m);
    assert_eq!(status, "200 OK");
    assert!(body.contains("\"policy\":\"file\""), "{body}");
    assert!(
        !render(&m).contains("control_plane"),
        "no store gauges in file mode"
    );
    let cp = &m.control_plane;
    cp.enabled.store(1, Ordering::Relaxed);
    cp.store_up.store(1, Ordering::Relaxed);
    cp.revision.store(42, Ordering::Relaxed);
    let (status, body) = super::render::health(&m);
    assert_eq!(status, "200 OK");
    assert!(body.contains("\"revision\":42"), "{body}");
    cp.store_up.store(0, Ordering::Relaxed);
    cp.sync_age_seconds
        .store(super::render::STALE_AFTER_SECS, Ordering::Relaxed);
    let (status, body) = super::render::health(&m);
    assert_eq!(status, "503 Service Unavailable");
    assert!(body.contains("\"status\":\"stale\"") && body.contains("\"storeUp\":false"));
    let text = render(&m);
    assert!(
        text.contains("mongoward_control_plane_sync_age_seconds 30"),
        "{text}"
    );
    assert!(
        text.contains("mongoward_control_plane_store_up 0"),
        "{text}"
    );
}
