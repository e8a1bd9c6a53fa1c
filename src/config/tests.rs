use super::*;

const MINIMAL: &str = r#"
[server]
listen = ["127.0.0.1:27018"]
[tls]
cert_file = "certs/server.pem"
key_file = "certs/server-key.pem"
[[clusters]]
name = "default"
uri = "mongodb://127.0.0.1:27017"
[[access_list]]
cidr = "127.0.0.1"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("/etc/mongoward/mongoward.toml"))
}

#[test]
fn minimal_file_parses_and_resolves_paths() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.listen, vec!["127.0.0.1:27018".parse().unwrap()]);
    assert_eq!(
        c.file.tls.cert_file,
        Path::new("/etc/mongoward/certs/server.pem")
    );
    assert_eq!(
        c.clusters[0].1.hosts,
        vec![("127.0.0.1".to_string(), 27017)]
    );
    assert!(c.warnings.is_empty());
}

#[test]
fn unknown_key_is_an_error_naming_the_key() {
    let text = MINIMAL.replace("listen =", "listn =");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("/etc/mongoward/mongoward.toml"), "{err}");
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn bad_address_names_key_and_value() {
    let text = MINIMAL.replace("127.0.0.1:27018", "localhost");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("server.listen[0]") && err.contains("'localhost'"),
        "{err}"
    );
}

#[test]
fn plaintext_listener_warns() {
    let text = MINIMAL.replace(
        "listen = [\"127.0.0.1:27018\"]",
        "listen = []\nplaintext_listen = [\"127.0.0.1:27019\"]",
    );
    let c = parse(&text).unwrap();
    assert!(c.warnings[0].contains("unencrypted"));
}

#[test]
fn duplicate_cluster_and_bad_uri_rejected() {
    let dup = format!("{MINIMAL}\n[[clusters]]\nname = \"default\"\nuri = \"mongodb://h:1\"\n");
    assert!(parse(&dup)
        .unwrap_err()
        .to_string()
        .contains("duplicate cluster"));
    let bad = MINIMAL.replace("mongodb://127.0.0.1:27017", "mongodb://u:secret@h:1");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("clusters[0].uri") && !err.contains("secret"),
        "{err}"
    );
}

#[test]
fn upstream_tls_needs_a_ca_and_service_user_needs_a_password() {
    let tls = MINIMAL.replace(
        "mongodb://127.0.0.1:27017",
        "mongodb://127.0.0.1:27017/?tls=true",
    );
    assert!(parse(&tls).unwrap_err().to_string().contains("tls_ca_file"));
    let user = MINIMAL.replace("mongodb://127.0.0.1:27017", "mongodb://svc@127.0.0.1:27017");
    assert!(parse(&user)
        .unwrap_err()
        .to_string()
        .contains("service user"));
}

#[test]
fn worker_threads_must_be_positive() {
    let with = |n: &str| MINIMAL.replace("[tls]", &format!("worker_threads = {n}\n[tls]"));
    assert_eq!(
        parse(&with("1")).unwrap().file.server.worker_threads,
        Some(1)
    );
    assert_eq!(parse(MINIMAL).unwrap().file.server.worker_threads, None);
    let err = parse(&with("0")).unwrap_err().to_string();
    assert!(err.contains("server.worker_threads"), "{err}");
    assert!(parse(&with("-1")).is_err());
}

#[test]
fn limits_and_timeouts_have_defaults_and_bounds() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.file.server.login_timeout_secs, 60);
    assert_eq!(c.file.server.max_connections, None);
    assert_eq!(c.file.clusters[0].connect_timeout_secs, 10);
    assert_eq!(c.file.clusters[0].reply_timeout_secs, 120);
    let server = |kv: &str| MINIMAL.replace("[tls]", &format!("{kv}\n[tls]"));
    let cluster =
        |kv: &str| MINIMAL.replace("name = \"default\"", &format!("name = \"default\"\n{kv}"));
    let rejected = [
        (server("max_connections = 0"), "server.max_connections"),
        (
            server("max_connections_per_source = 0"),
            "server.max_connections_per_source",
        ),
        (
            server("max_message_size_bytes = 1000"),
            "server.max_message_size_bytes",
        ),
        (
            server("max_message_size_bytes = 50000000"),
            "server.max_message_size_bytes",
        ),
        (
            cluster("reply_timeout_secs = 0"),
            "clusters[0].reply_timeout_secs",
        ),
        (
            cluster("connect_timeout_secs = 0"),
            "clusters[0].connect_timeout_secs",
        ),
    ];
    for (text, key) in rejected {
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
    let ok = parse(&server(
        "max_message_size_bytes = 1048576\nlogin_timeout_secs = 0",
    ))
    .unwrap();
    assert_eq!(ok.file.server.max_message_size_bytes, Some(1_048_576));
    assert_eq!(ok.file.server.login_timeout_secs, 0);
    assert!(parse(&cluster("reply_timeout_secs = 3600")).is_ok());
}

const STORE_MODE: &str = r#"
[server]
listen = ["127.0.0.1:27018"]
[tls]
cert_file = "certs/server.pem"
key_file = "certs/server-key.pem"
[control_plane]
store = "sqlite:///var/lib/mongoward/state.db"
"#;

#[test]
fn store_cluster_pool_defaults_to_connection_mode_and_names_bad_keys() {
    use crate::config::pool::PoolMode;
    let pool = |c: &Config| {
        c.file
            .control_plane
            .as_ref()
            .map(|cp| cp.cluster_pool.clone())
    };
    let plain = parse(STORE_MODE).unwrap();
    assert_eq!(pool(&plain).map(|p| p.mode), Some(PoolMode::Connection));
    let text = format!("{STORE_MODE}cluster_pool = {{ mode = \"request\", max_size = 8 }}\n");
    let pooled = parse(&text).unwrap();
    let p = pool(&pooled).unwrap();
    assert_eq!((p.mode, p.max_size), (PoolMode::Request, 8));
    for (bad, key) in [
        ("max_size = 0", "control_plane.cluster_pool.max_size"),
        (
            "max_size = 2, min_idle = 3",
            "control_plane.cluster_pool.min_idle",
        ),
        (
            "wait_timeout_ms = 0",
            "control_plane.cluster_pool.wait_timeout_ms",
        ),
    ] {
        let text = format!("{STORE_MODE}cluster_pool = {{ mode = \"request\", {bad} }}\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{bad}: {err}");
    }
    let text = format!("{STORE_MODE}cluster_pool = {{ mode = \"session\" }}\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("session"), "{err}");
}
