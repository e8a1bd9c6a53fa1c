//! TLS to a PostgreSQL store: a real server started with `ssl = on` and certificates from
//! `mongoward dev-certs`, accepting only TLS connections. A verified connection works
//! (set in `[control_plane]` or in the URL), a wrong CA and plaintext are refused.

#[path = "common/postgres.rs"]
mod postgres;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mongoward::control::config::ControlPlaneConfig;
use mongoward::control::{Expect, Op, Store, StoreError};
use serde_json::json;

/// Writes a fresh dev CA and server certificate into `dir`; answers the CA's path.
fn dev_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let c = mongoward::tls::dev_certs::generate(&[]).expect("dev certs");
    let p = mongoward::tls::dev_certs::write(dir, &c).expect("write dev certs");
    (p.ca, p.cert, p.key)
}

/// Turns on TLS in the server (owned by the data directory's owner, key 0600) and allows
/// only `hostssl` connections over TCP, then restarts it.
fn enable_tls(pg: &mut postgres::Postgres, cert: &Path, key: &Path) {
    let data = pg.path().join("data");
    let owner = std::fs::metadata(&data).unwrap();
    let (uid, gid) = (owner.uid(), owner.gid());
    let server_cert = pg.path().join("server.crt");
    let server_key = pg.path().join("server.key");
    std::fs::copy(cert, &server_cert).unwrap();
    std::fs::copy(key, &server_key).unwrap();
    for f in [&server_cert, &server_key] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&server_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!(
        "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
        server_cert.display(),
        server_key.display()
    ));
    std::fs::write(&conf, text).unwrap();
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    pg.stop();
    pg.spawn();
}

fn config(text: &str) -> ControlPlaneConfig {
    let c: ControlPlaneConfig = toml::from_str(text).unwrap();
    c.validate().unwrap();
    c
}

async fn works(store: &Store) {
    let key = format!("tls/{}", mongoward::control::model::new_id());
    store
        .apply(vec![Op::Put {
            key: key.clone(),
            value: json!(1),
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
    assert_eq!(store.get(&key).await.unwrap().unwrap().value, json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_over_verified_tls() {
    let Some(mut pg) = postgres::Postgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = dev_certs(dir.path());
    let (wrong_ca, _, _) = dev_certs(&dir.path().join("other"));
    enable_tls(&mut pg, &cert, &key);
    let url = pg.url();

    // [control_plane] settings: verify-full against the dev CA.
    let cp = config(&format!(
        "store = {url:?}\nstore_sslmode = \"verify-full\"\nstore_ca_file = {:?}",
        ca.display().to_string()
    ));
    works(&cp.open_store().await.expect("verified TLS")).await;
    // A CA file alone means verify-full.
    let cp = config(&format!(
        "store = {url:?}\nstore_ca_file = {:?}",
        ca.display().to_string()
    ));
    works(&cp.open_store().await.expect("verified TLS by default")).await;
    // The URL's own sslmode and sslrootcert are honoured.
    let with_params = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    works(&Store::open(&with_params, None).await.expect("URL TLS")).await;

    // The server takes nothing but TLS, so the connections above were encrypted.
    let cp = config(&format!("store = {url:?}\nstore_sslmode = \"disable\""));
    let err = cp.open_store().await.err().expect("plaintext refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("pg_hba.conf"), "{err}");

    // A server certificate from another CA is refused, whether the CA is set or implied.
    let cp = config(&format!(
        "store = {url:?}\nstore_sslmode = \"verify-full\"\nstore_ca_file = {:?}",
        wrong_ca.display().to_string()
    ));
    let err = cp.open_store().await.err().expect("wrong CA refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let msg = err.to_string().to_lowercase();
    assert!(msg.contains("certificate") || msg.contains("tls"), "{msg}");
    let cp = config(&format!("store = {url:?}\nstore_sslmode = \"verify-ca\""));
    let err = cp.open_store().await.err().expect("no trusted CA refused");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}
