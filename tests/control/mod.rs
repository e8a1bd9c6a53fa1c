//! Harness for the control-plane tests: a real `mongoward` binary with `[control_plane]`
//! on a real SQLite file, its admin API reached over real HTTPS with reqwest (rustls).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{certs, free_port, Certs};

pub struct ControlPlane {
    pub child: Child,
    pub api: String,
    pub data_addr: String,
    pub certs: Certs,
    pub config: PathBuf,
    pub org_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub http: reqwest::Client,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mongoward"))
}

/// Writes the config, runs `admin init`, starts `mongoward run`, waits for the API.
pub async fn start() -> ControlPlane {
    start_on(None).await
}

/// [`start`] on the store `url` (an empty PostgreSQL database, say) instead of a fresh
/// SQLite file.
pub async fn start_on(url: Option<&str>) -> ControlPlane {
    let certs = certs();
    let api_port = free_port();
    let data_port = free_port();
    let db = certs.dir.path().join("state.db");
    let store = url.map_or_else(|| format!("sqlite://{}", db.display()), str::to_string);
    let config = certs.dir.path().join("mongoward.toml");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{data_port}\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [control_plane]\nstore = {store:?}\nlisten = [\"127.0.0.1:{api_port}\"]\n",
        certs.cert, certs.key,
    );
    std::fs::write(&config, text).expect("write config");
    let out = Command::new(binary())
        .args(["admin", "init", "--config"])
        .arg(&config)
        .args(["--org-name", "test-org"])
        .output()
        .expect("run admin init");
    assert!(
        out.status.success(),
        "admin init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).expect("admin init prints one JSON line");
    let child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
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
        child,
        api: format!("https://localhost:{api_port}"),
        data_addr: format!("127.0.0.1:{data_port}"),
        certs,
        config,
        org_id: line["orgId"].as_str().expect("orgId").into(),
        client_id: line["clientId"].as_str().expect("clientId").into(),
        client_secret: line["clientSecret"].as_str().expect("clientSecret").into(),
        http,
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
