//! Harness for the control-plane tests: a real `mongoward` binary with `[control_plane]`
//! on a real SQLite file or a real PostgreSQL cluster, its admin API reached over real HTTPS
//! with reqwest (rustls).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::binary::{command, Reaper};
use crate::common::postgres::Postgres;
use crate::common::{certs, free_port, Certs};

/// One `mongoward run` in store mode. Fields drop in order: the process before the
/// PostgreSQL cluster it uses.
pub struct ControlPlane {
    pub child: Reaper,
    pub api: String,
    pub data_addr: String,
    pub certs: Certs,
    pub config: PathBuf,
    /// The store's URL, for tests that read it directly.
    pub store_url: String,
    pub org_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub http: reqwest::Client,
    /// The PostgreSQL cluster this instance started, if it did.
    pub pg: Option<Postgres>,
}

/// Where the control plane keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A control plane on SQLite (a file in its temporary directory).
pub async fn start() -> ControlPlane {
    start_on(Backend::Sqlite)
        .await
        .expect("SQLite needs nothing installed")
}

/// Writes the config, runs `admin init`, starts `mongoward run`, waits for the API.
/// `None` (the test skips, with a message) when PostgreSQL's binaries are not installed.
pub async fn start_on(backend: Backend) -> Option<ControlPlane> {
    let certs = certs();
    let (store_url, pg) = match backend {
        Backend::Sqlite => {
            let db = certs.dir.path().join("state.db");
            (format!("sqlite://{}", db.display()), None)
        }
        Backend::Postgres => {
            let pg = Postgres::start()?;
            (pg.url(), Some(pg))
        }
    };
    let config = write_config(&certs, &store_url);
    let out = command()
        .args(["admin", "init", "--config"])
        .arg(&config.path)
        .args(["--org-name", "test-org"])
        .output()
        .expect("run admin init");
    assert!(
        out.status.success(),
        "admin init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).expect("admin init prints one JSON line");
    let owner = Owner {
        org_id: line["orgId"].as_str().expect("orgId").into(),
        client_id: line["clientId"].as_str().expect("clientId").into(),
        client_secret: line["clientSecret"].as_str().expect("clientSecret").into(),
    };
    Some(launch(certs, config, store_url, owner, pg).await)
}

/// The organization `admin init` made and its first owner's credentials.
struct Owner {
    org_id: String,
    client_id: String,
    client_secret: String,
}

struct ConfigFile {
    path: PathBuf,
    api_port: u16,
    data_port: u16,
}

fn write_config(certs: &Certs, store_url: &str) -> ConfigFile {
    let api_port = free_port();
    let data_port = free_port();
    let path = certs.dir.path().join("mongoward.toml");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{data_port}\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [control_plane]\nstore = {store_url:?}\nlisten = [\"127.0.0.1:{api_port}\"]\n",
        certs.cert, certs.key,
    );
    std::fs::write(&path, text).expect("write config");
    ConfigFile {
        path,
        api_port,
        data_port,
    }
}

/// Starts `mongoward run` on `config` and waits until its admin API answers.
async fn launch(
    certs: Certs,
    config: ConfigFile,
    store_url: String,
    owner: Owner,
    pg: Option<Postgres>,
) -> ControlPlane {
    let child = command()
        .args(["run", "--config"])
        .arg(&config.path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn mongoward run");
    let ca = std::fs::read(&certs.ca).expect("read CA");
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA pem"))
        .build()
        .expect("reqwest client");
    let cp = ControlPlane {
        child: Reaper(child),
        api: format!("https://localhost:{}", config.api_port),
        data_addr: format!("127.0.0.1:{}", config.data_port),
        certs,
        config: config.path,
        store_url,
        org_id: owner.org_id,
        client_id: owner.client_id,
        client_secret: owner.client_secret,
        http,
        pg,
    };
    let start = Instant::now();
    loop {
        let r = cp
            .http
            .get(format!("{}/api/atlas/v2/openapi.json", cp.api))
            .send()
            .await;
        if r.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the admin API did not come up: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cp
}

impl ControlPlane {
    /// Another instance (its own certificates, API and data ports) on the same store, for
    /// the same organization: no `admin init`.
    pub async fn another(&self) -> ControlPlane {
        let certs = certs();
        let config = write_config(&certs, &self.store_url);
        let owner = Owner {
            org_id: self.org_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        };
        launch(certs, config, self.store_url.clone(), owner, None).await
    }

    /// The store's revision and every record, read directly (not through the API).
    pub async fn store_dump(&self) -> (i64, Vec<(String, i64, Value)>) {
        let store = mongoward::control::Store::open(&self.store_url, None)
            .await
            .expect("open the store");
        let rev = store.revision().await.expect("revision");
        let items = store.list("").await.expect("list the store");
        let items = items
            .into_iter()
            .map(|i| (i.key, i.revision, i.value))
            .collect();
        (rev, items)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/atlas/v2{path}", self.api)
    }

    /// A token for `client_id:secret` (panics unless 200).
    pub async fn token_for(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/oauth/token", self.api))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200, "token: {:?}", r.text().await);
        let v: Value = r.json().await.expect("token json");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn owner_token(&self) -> String {
        self.token_for(&self.client_id, &self.client_secret).await
    }

    /// Sends JSON (or nothing) with a bearer token; answers (status, body).
    pub async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(json!(text)))
    }

    /// Creates a project as the owner and answers its id.
    pub async fn project(&self, token: &str, name: &str) -> String {
        let (s, b) = self
            .call(
                token,
                "POST",
                "/groups",
                Some(json!({"name": name, "orgId": self.org_id})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().expect("id").to_string()
    }
}

/// Asserts the ApiError shape and answers its errorCode.
pub fn api_error(status: u16, body: &Value) -> String {
    assert_eq!(body["error"].as_u64(), Some(u64::from(status)), "{body}");
    assert!(
        body["reason"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert!(body["parameters"].is_array(), "{body}");
    body["errorCode"].as_str().expect("errorCode").to_string()
}
