//! schemathesis (PyPI) against the OpenAPI document the admin API serves: every default
//! check (status codes, response schemas, `ignored_auth`, `negative_data_rejection`,
//! `use_after_free`, ...) and the stateful create -> read/delete links.

mod common;
mod control;

use std::process::Command;
use std::time::Duration;

// Not yet green: a run (schemathesis 4, `--checks all`, 5 examples) reports 29 findings:
// schema-valid bodies refused by semantic checks (ST202: role names, Atlas action names),
// status codes not declared per operation (ST103: 405/415/429/503), and one answer to an
// undeclared method (ST204). The links (create -> read/delete) are accepted and followed.
// Run it with `cargo nextest run --test control_schemathesis --run-ignored all`.
#[ignore = "schemathesis findings still open (see the comment above)"]
#[tokio::test]
async fn schemathesis_finds_nothing() {
    // SCHEMATHESIS names another installation (the setup script puts it in .venv).
    let st = std::env::var_os("SCHEMATHESIS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| common::tool(".venv/bin/schemathesis"));
    let cp = control::start().await;
    let token = cp.owner_token().await;
    // A project to give the generated calls something real to find.
    cp.project(&token, "schemathesis").await;
    let mut cmd = Command::new(st);
    cmd.arg("run")
        .arg(format!("{}/api/atlas/v2/openapi.json", cp.api))
        .args(["--url", &cp.api])
        .args(["--checks", "all"])
        .args(["--max-examples", "15"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg(format!("--tls-verify={}", cp.certs.ca.display()))
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    let (ok, out) = common::run_client(cmd, Duration::from_secs(900));
    assert!(ok, "schemathesis reported failures:\n{out}");
}
