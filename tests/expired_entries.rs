//! Issue 16 F2: a temporary access-list entry whose delete_after has passed is logged,
//! ignored and counted, at start exactly as on reload; it never stops the proxy.

// Network-gate helpers; this test uses a few of them.
#[allow(dead_code)]
#[path = "common/access.rs"]
mod access;
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use access::{assert_refused_before_tls, config_text, live_client, permanent, temporary};
use common::{certs, Proxy};
use mongoward::config::Config;
use mongoward::gates::access_list::Strictness;
use mongoward::proxy::stats::Stats;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn expired_gauge(proxy: &Proxy) -> u64 {
    Stats::get(&proxy.running.stats().access_list_expired_entries)
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_entry_at_start_is_ignored_with_a_warning_like_on_reload() {
    let certs = certs();
    // The upstream is never reached: `ping` is answered by the proxy itself.
    let entries = [
        temporary("127.0.0.1/32", unix_now() - 60),
        permanent("127.0.0.2/32"),
    ];
    let text = config_text(
        &certs,
        "mongodb://127.0.0.1:9",
        &["127.0.0.1:0"],
        "",
        &entries,
    );

    // Start and reload read the file alike: same warnings, same entries.
    let path = certs.dir.path().join("check.toml");
    let now = unix_now();
    let start = Config::parse(&text, &path, Strictness::Startup, now).expect("start accepts it");
    let reload = Config::parse(&text, &path, Strictness::Reload, now).expect("reload accepts it");
    assert_eq!(start.warnings, reload.warnings);
    assert_eq!(start.access_list.entries(), reload.access_list.entries());
    assert!(
        start
            .warnings
            .iter()
            .any(|w| w.contains("access_list[0]") && w.contains("has passed; entry ignored")),
        "{:?}",
        start.warnings
    );

    let proxy = Proxy::start_with(certs, &text).await;
    assert_eq!(expired_gauge(&proxy), 1, "counted in the metrics at start");
    assert_refused_before_tls("127.0.0.1", proxy.addr, b"").await;
    live_client(&proxy, "127.0.0.2").await;

    proxy
        .running
        .reload()
        .expect("reload accepts the same file");
    assert_eq!(expired_gauge(&proxy), 1, "counted in the metrics on reload");
    assert_refused_before_tls("127.0.0.1", proxy.addr, b"").await;
    live_client(&proxy, "127.0.0.2").await;
}

#[test]
fn the_binary_starts_and_check_config_warns_with_exit_zero() {
    let certs = certs();
    let entries = [
        permanent("127.0.0.1/32"),
        temporary("192.0.2.1/32", unix_now() - 60),
    ];
    let mut text = config_text(
        &certs,
        "mongodb://127.0.0.1:9",
        &["127.0.0.1:0"],
        "",
        &entries,
    );
    text.push_str(&common::user_toml(
        "gone",
        "gone-Passw0rd",
        &["read@shop"],
        "delete_after = \"2020-01-01T00:00:00Z\"",
    ));
    let path = certs.dir.path().join("expired.toml");
    std::fs::write(&path, &text).expect("write config");

    let check = common::binary::command()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run check-config");
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: access_list[1] (192.0.2.1/32)") && err.contains("entry ignored"),
        "{err}"
    );
    assert!(
        err.contains("warning: users[0] (gone@admin): delete_after") && err.contains("has passed"),
        "{err}"
    );

    let (_child, lines) = common::binary::run_logged(&[], &path);
    let seen = common::binary::wait_line(&lines, "ready", Duration::from_secs(30));
    let ready = seen.is_ok();
    let warned = seen
        .unwrap_or_else(|all| all)
        .iter()
        .any(|line| line.contains("access_list[1]") && line.contains("entry ignored"));
    assert!(warned, "the expired entry is logged at start");
    assert!(ready, "the proxy starts");
}
