use std::path::Path;

use crate::config::{Config, ConfigError};

const HEAD: &str = "[server]\nlisten = [\"127.0.0.1:27018\"]\n[tls]\ncert_file = \"c.pem\"\n\
key_file = \"k.pem\"\n[[access_list]]\ncidr = \"127.0.0.1\"\n";

fn parse(clusters: &str) -> Result<Config, ConfigError> {
    Config::from_str(
        &format!("{HEAD}{clusters}"),
        Path::new("/etc/mongoward/mongoward.toml"),
    )
}

fn cluster(name: &str, extra: &str) -> String {
    format!("[[clusters]]\nname = {name:?}\nuri = \"mongodb://127.0.0.1:1\"\n{extra}\n")
}

fn err(clusters: &str) -> String {
    parse(clusters).unwrap_err().to_string()
}

#[test]
fn shared_listener_with_several_clusters_needs_sni_on_each() {
    let e = err(&(cluster("a", "sni = [\"a.test\"]") + &cluster("b", "")));
    assert!(
        e.contains("clusters[1].sni") && e.contains("needs sni"),
        "{e}"
    );
    let c = parse(&(cluster("a", "sni = [\"A.Test.\"]") + &cluster("b", "sni = [\"b.test\"]")))
        .unwrap();
    assert_eq!(c.routing.shared, vec![0, 1]);
    assert!(c.routing.own.is_empty());
    assert_eq!(c.clusters[0].0.sni, vec!["a.test"], "names are normalised");
}

#[test]
fn duplicate_sni_names_on_one_listener_rejected() {
    let e = err(&(cluster("a", "sni = [\"x.test\"]") + &cluster("b", "sni = [\"X.test\"]")));
    assert!(e.contains("routes to two clusters"), "{e}");
}

#[test]
fn own_listener_routes_alone_and_sni_also_reaches_the_shared_listener() {
    let c = parse(
        &(cluster("a", "listen = \"127.0.0.1:27100\"\nsni = [\"a.test\"]")
            + &cluster("b", "sni = [\"b.test\"]")
            + &cluster("c", "listen = \"127.0.0.1:27101\"")),
    )
    .unwrap();
    assert_eq!(c.routing.shared, vec![0, 1]);
    let own: Vec<Vec<usize>> = c.routing.own.iter().map(|(_, l)| l.clone()).collect();
    assert_eq!(own, vec![vec![0], vec![2]]);
}

#[test]
fn own_listener_shared_by_two_clusters_needs_sni() {
    let same = "listen = \"127.0.0.1:27100\"";
    let e = err(&(cluster("main", "") + &cluster("a", same) + &cluster("b", same)));
    assert!(
        e.contains("listener 127.0.0.1:27100") && e.contains("needs sni"),
        "{e}"
    );
    let bad = err(&cluster("a", "listen = \"nowhere\""));
    assert!(bad.contains("clusters[0].listen"), "{bad}");
}

#[test]
fn shared_listener_without_any_cluster_rejected() {
    let e = err(&cluster("a", "listen = \"127.0.0.1:27100\""));
    assert!(
        e.contains("server.listen") && e.contains("serves no cluster"),
        "{e}"
    );
}

#[test]
fn password_sources_are_exclusive_and_must_match_a_user() {
    let both = cluster("a", "password_env = \"X\"\npassword_file = \"p\"");
    assert!(err(&both).contains("not both"));
    let no_user = cluster("a", "password_env = \"PATH\"");
    assert!(
        err(&no_user).contains("no service user"),
        "{}",
        err(&no_user)
    );
    let missing = "[[clusters]]\nname = \"a\"\nuri = \"mongodb://svc@127.0.0.1:1\"\n\
                   password_env = \"MONGOWARD_TEST_SURELY_UNSET_VAR\"\n";
    let e = err(missing);
    assert!(
        e.contains("MONGOWARD_TEST_SURELY_UNSET_VAR is not set"),
        "{e}"
    );
    let none = "[[clusters]]\nname = \"a\"\nuri = \"mongodb://svc@127.0.0.1:1\"\n";
    assert!(err(none).contains("neither password_env nor password_file"));
    let unreadable = cluster("a", "password_file = \"does-not-exist\"");
    assert!(err(&unreadable).contains("/etc/mongoward/does-not-exist"));
}

#[test]
fn tls_ca_file_only_with_tls_and_inline_password_rejected() {
    let e = err(&cluster("a", "tls_ca_file = \"ca.pem\""));
    assert!(e.contains("tls_ca_file") && e.contains("tls=true"), "{e}");
    let tls = "[[clusters]]\nname = \"a\"\nuri = \"mongodb://h:1/?tls=true\"\n";
    assert!(err(tls).contains("needs the CA"), "{}", err(tls));
    let e = err(&format!("{tls}tls_ca_file = \"missing-ca.pem\"\n"));
    assert!(
        e.contains("clusters[0].tls_ca_file") && e.contains("missing-ca.pem"),
        "{e}"
    );
    let inline = "[[clusters]]\nname = \"a\"\nuri = \"mongodb://svc:hunter2@127.0.0.1:1\"\n";
    let e = err(inline);
    assert!(e.contains("password_env") && !e.contains("hunter2"), "{e}");
}

#[test]
fn password_debug_is_redacted() {
    let p = crate::config::ServicePassword("hunter2".into());
    assert!(!format!("{p:?}").contains("hunter2"));
}

#[test]
fn pool_table_defaults_to_connection_mode_and_reads_request_mode() {
    use crate::config::pool::PoolMode;
    let c = parse(&cluster("a", "")).unwrap();
    assert_eq!(c.clusters[0].0.pool.mode, PoolMode::Connection);
    let c = parse(&cluster(
        "a",
        "pool = { mode = \"request\", max_size = 4, wait_timeout_ms = 150, max_waiters = 9 }",
    ))
    .unwrap();
    let pool = &c.clusters[0].0.pool;
    assert_eq!(pool.mode, PoolMode::Request);
    assert_eq!(pool.max_size, 4);
    assert_eq!(pool.validate().unwrap().max_waiters, 9);
}

#[test]
fn bad_pool_values_are_startup_errors_naming_the_key() {
    let table = [
        (
            "pool = { mode = \"request\", max_size = 0 }",
            "clusters[0].pool.max_size",
        ),
        ("pool = { min_idle = 65 }", "clusters[0].pool.min_idle"),
        (
            "pool = { wait_timeout_ms = 0 }",
            "clusters[0].pool.wait_timeout_ms",
        ),
        ("pool = { mode = \"session\" }", "mode"),
        ("pool = { size = 3 }", "size"),
    ];
    for (extra, key) in table {
        let e = err(&cluster("a", extra));
        assert!(e.contains(key), "{extra}: {e}");
    }
}
