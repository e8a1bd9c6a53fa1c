use serde_json::{json, Value};

use super::*;

fn ctx() -> ConnCtx {
    ConnCtx {
        local: "127.0.0.1:27017".parse().unwrap(),
        remote: "[::1]:51000".parse().unwrap(),
        cluster: Some("default".into()),
        conn_id: Some(7),
    }
}

fn alice() -> Principal {
    Principal {
        users: vec![UserRef {
            user: "alice".into(),
            db: "admin".into(),
        }],
        roles: vec![RoleRef {
            role: "readWrite".into(),
            db: "sales".into(),
        }],
    }
}

fn parsed(e: &AuditEvent) -> Value {
    serde_json::from_str(&e.to_line()).unwrap()
}

const TS: i64 = 1_714_564_800_123; // 2024-05-01T12:00:00.123Z

#[test]
fn common_fields_have_mongod_shape() {
    let v = parsed(&AuditEvent::network_access_denied(&ctx(), "noMatchingEntry").with_ts(TS));
    assert_eq!(v["atype"], "networkAccessDenied");
    assert_eq!(v["ts"], json!({"$date": "2024-05-01T12:00:00.123Z"}));
    assert_eq!(v["local"], json!({"ip": "127.0.0.1", "port": 27017}));
    assert_eq!(v["remote"], json!({"ip": "::1", "port": 51000}));
    assert_eq!(v["users"], json!([]));
    assert_eq!(v["roles"], json!([]));
    assert_eq!(v["param"], json!({"reason": "noMatchingEntry"}));
    assert_eq!(v["result"], 13);
    assert_eq!(v["cluster"], "default");
    assert_eq!(v["connId"], 7);
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 10, "{keys:?}");
}

#[test]
fn whole_line_is_stable() {
    let line = AuditEvent::tls_failure(&ctx(), "received corrupt message")
        .with_ts(TS)
        .to_line();
    assert_eq!(
        line,
        r#"{"atype":"tlsHandshakeFailed","ts":{"$date":"2024-05-01T12:00:00.123Z"},"local":{"ip":"127.0.0.1","port":27017},"remote":{"ip":"::1","port":51000},"users":[],"roles":[],"param":{"error":"received corrupt message"},"result":141,"cluster":"default","connId":7}"#
    );
}

#[test]
fn authenticate_success_names_the_user() {
    let v = parsed(&AuditEvent::authenticate(
        &ctx(),
        "alice",
        "admin",
        "SCRAM-SHA-256",
        Ok(()),
    ));
    assert_eq!(v["atype"], "authenticate");
    assert_eq!(
        v["param"],
        json!({"user": "alice", "db": "admin", "mechanism": "SCRAM-SHA-256"})
    );
    assert_eq!(v["users"], json!([{"user": "alice", "db": "admin"}]));
    assert_eq!(v["result"], 0);
}

#[test]
fn authenticate_failure_keeps_the_real_reason() {
    let e = AuditEvent::authenticate(&ctx(), "bob", "admin", "SCRAM-SHA-1", Err("unknown user"));
    let v = parsed(&e);
    assert_eq!(v["param"]["reason"], "unknown user");
    assert_eq!(v["users"], json!([]), "a failed login authenticates nobody");
    assert_eq!(v["result"], 18);
}

#[test]
fn auth_check_carries_names_only() {
    let v = parsed(&AuditEvent::auth_check(
        &ctx(),
        &alice(),
        "insert",
        "sales.orders",
        false,
    ));
    assert_eq!(v["atype"], "authCheck");
    assert_eq!(
        v["param"],
        json!({"command": "insert", "ns": "sales.orders"})
    );
    assert_eq!(v["users"], json!([{"user": "alice", "db": "admin"}]));
    assert_eq!(v["roles"], json!([{"role": "readWrite", "db": "sales"}]));
    assert_eq!(v["result"], 13);
    let allowed = parsed(&AuditEvent::auth_check(
        &ctx(),
        &alice(),
        "find",
        "sales.orders",
        true,
    ));
    assert_eq!(allowed["result"], 0);
}

#[test]
fn revocation_and_reload_events() {
    let v = parsed(&AuditEvent::connection_revoked(
        &ctx(),
        &alice(),
        RevokeReason::AccessEntryExpired,
    ));
    assert_eq!(v["atype"], "connectionRevoked");
    assert_eq!(v["param"], json!({"reason": "accessEntryExpired"}));
    assert_eq!(v["result"], 0);

    let summary = ReloadSummary {
        generation: 4,
        users: 3,
        roles: 2,
        access_list_entries: 5,
        restart_required: vec!["server.listen".into()],
    };
    let ok = parsed(&AuditEvent::config_reload(&summary, Ok(())));
    assert_eq!(ok["atype"], "configReload");
    assert_eq!(ok["local"], json!({"isSystemUser": true}));
    assert_eq!(ok["remote"], json!({"isSystemUser": true}));
    assert_eq!(
        ok["param"],
        json!({"generation": 4, "users": 3, "roles": 2, "accessListEntries": 5, "restartRequired": ["server.listen"]})
    );
    assert_eq!(ok["result"], 0);
    assert_eq!(ok["cluster"], Value::Null);
    assert_eq!(ok["connId"], Value::Null);
    let bad = parsed(&AuditEvent::config_reload(
        &summary,
        Err("line 3: expected ="),
    ));
    assert_eq!(bad["param"]["error"], "line 3: expected =");
    assert_eq!(bad["result"], 2);
}

#[test]
fn config_defaults_and_validation() {
    let c: AuditConfig = toml::from_str("").unwrap();
    assert_eq!(c, AuditConfig::default());
    assert!(!c.enabled);
    assert_eq!(c.queue_capacity, 10_000);
    assert_eq!(c.on_full, OnFull::Drop);
    let c: AuditConfig = toml::from_str(
        "enabled = true\ndestination = \"file\"\npath = \"audit.log\"\non_full = \"block\"\n\
         log_allowed = true\n[filter]\nusers = [\"admin.alice\"]\ncommands = [\"find\"]\n",
    )
    .unwrap();
    assert_eq!(c.destination, Destination::File);
    assert_eq!(c.on_full, OnFull::Block);
    assert_eq!(c.filter.commands, vec!["find".to_string()]);
    let err = |t: &str| toml::from_str::<AuditConfig>(t).unwrap_err().to_string();
    assert!(err("destination = \"file\"").contains("needs audit.path"));
    assert!(err("queue_capacity = 0").contains("at least 1"));
    assert!(err("on_ful = \"drop\"").contains("unknown field"));
    assert!(err("on_full = \"wait\"").contains("unknown variant"));
}

#[test]
fn allowed_filter_matches_every_non_empty_list() {
    let alice = UserRef {
        user: "alice".into(),
        db: "admin".into(),
    };
    let all = AllowedFilter::default();
    assert!(all.matches(None, "x", "find"));
    let f = AllowedFilter {
        users: vec!["admin.alice".into(), "carol".into()],
        databases: vec!["sales".into()],
        commands: vec![],
    };
    assert!(f.matches(Some(&alice), "sales", "insert"));
    assert!(!f.matches(Some(&alice), "hr", "insert"));
    assert!(!f.matches(None, "sales", "insert"));
    let other_db = UserRef {
        user: "alice".into(),
        db: "sales".into(),
    };
    assert!(
        !f.matches(Some(&other_db), "sales", "insert"),
        "admin.alice is not sales.alice"
    );
}

fn file_config(dir: &tempfile::TempDir, capacity: usize, on_full: OnFull) -> AuditConfig {
    AuditConfig {
        enabled: true,
        destination: Destination::File,
        path: Some(dir.path().join("audit.log")),
        queue_capacity: capacity,
        on_full,
        ..AuditConfig::default()
    }
}

fn lines(dir: &tempfile::TempDir) -> Vec<Value> {
    std::fs::read_to_string(dir.path().join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn event(n: i64) -> AuditEvent {
    let mut c = ctx();
    c.conn_id = Some(n);
    AuditEvent::auth_check(&c, &Principal::default(), "find", "db.c", false)
}

// Current-thread runtime: the writer cannot run between synchronous emits, so a full
// queue is deterministic.
#[tokio::test]
async fn drop_mode_counts_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (auditor, _writer) = Auditor::start(&file_config(&dir, 2, OnFull::Drop)).unwrap();
    for n in 0..5 {
        auditor.emit(event(n));
    }
    assert_eq!(auditor.dropped(), 3);
    auditor.flush().await;
    let ids: Vec<_> = lines(&dir).iter().map(|v| v["connId"].clone()).collect();
    assert_eq!(ids, vec![json!(0), json!(1)]);
}

#[tokio::test]
async fn block_mode_waits_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (auditor, writer) = Auditor::start(&file_config(&dir, 1, OnFull::Block)).unwrap();
    for n in 0..50 {
        auditor.emit_blocking(event(n)).await;
    }
    assert_eq!(auditor.dropped(), 0);
    drop(auditor);
    writer.await.unwrap();
    let got = lines(&dir);
    assert_eq!(got.len(), 50);
    assert!(got.iter().enumerate().all(|(i, v)| v["connId"] == json!(i)));
}

#[tokio::test]
async fn try_emit_hands_the_event_back_only_in_block_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (block, _w) = Auditor::start(&file_config(&dir, 1, OnFull::Block)).unwrap();
    assert!(block.try_emit(event(1)).is_ok());
    let back = block
        .try_emit(event(2))
        .expect_err("full: the caller keeps it");
    assert_eq!(block.dropped(), 0);
    block.emit_blocking(*back).await;
    block.flush().await;
    assert_eq!(lines(&dir).len(), 2, "both written");

    let dir = tempfile::tempdir().unwrap();
    let (drop_mode, _w) = Auditor::start(&file_config(&dir, 1, OnFull::Drop)).unwrap();
    assert!(drop_mode.try_emit(event(1)).is_ok());
    assert!(
        drop_mode.try_emit(event(2)).is_ok(),
        "dropped, not handed back"
    );
    assert_eq!(drop_mode.dropped(), 1);
}

#[tokio::test]
async fn file_is_appended_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit.log"), "{\"earlier\":true}\n").unwrap();
    let (auditor, _w) = Auditor::start(&file_config(&dir, 10, OnFull::Drop)).unwrap();
    auditor.emit(event(1));
    auditor.flush().await;
    let got = lines(&dir);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], json!({"earlier": true}));
}

#[tokio::test]
async fn disabled_auditor_and_unopenable_file() {
    let (auditor, _w) = Auditor::start(&AuditConfig::default()).unwrap();
    assert!(!auditor.enabled());
    auditor.emit(event(1));
    auditor.flush().await;
    assert_eq!(auditor.dropped(), 0);
    assert!(!auditor.wants_allowed(None, "db", "find"));

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = file_config(&dir, 1, OnFull::Drop);
    cfg.path = Some(dir.path().join("missing-dir").join("audit.log"));
    assert!(Auditor::start(&cfg).is_err());
}

#[tokio::test]
async fn wants_allowed_follows_log_allowed_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = file_config(&dir, 1, OnFull::Drop);
    let (quiet, _w) = Auditor::start(&cfg).unwrap();
    assert!(!quiet.wants_allowed(None, "db", "find"));
    cfg.log_allowed = true;
    cfg.filter.commands = vec!["find".into()];
    let (loud, _w) = Auditor::start(&cfg).unwrap();
    assert!(loud.wants_allowed(None, "db", "find"));
    assert!(!loud.wants_allowed(None, "db", "insert"));
}
