//! schemathesis (PyPI) against the OpenAPI document the admin API serves: every default
//! check (status codes, response schemas, `ignored_auth`, `negative_data_rejection`,
//! `use_after_free`, ...) and the stateful create -> read/delete links.

mod common;
mod control;

use std::process::Command;
use std::time::Duration;

// What runs: schemathesis 4 (pinned in tests/clients/requirements.txt) with `--checks all`
// on all 54 operations, every phase (examples, coverage, fuzzing, stateful links), 15
// examples per operation: about 40 s on the 2-core CI machine.
//
// Schema-valid bodies are accepted because the document states the server's rules:
// enums built from the server's own tables (role names from `OrgRole::ALL`/`GroupRole::ALL`
// and `authz::roles::ALL`, Atlas action names from mongod's action table), lengths,
// patterns, formats and item counts, and whole numbers where the schema says `integer`.
// Every operation declares every status the server can answer for it (`ApiErrors<Kind>`).
//
// Rules JSON Schema cannot state: deleteAfterDate at most 7 days after *now* (the clock), a
// custom role that must exist in the project (another record), exactly one of cidrBlock
// and ipAddress or admin-only roles on admin (two fields at once), upstream URIs read by
// the data plane's URI parser, secret lifetimes capped by an org setting. Their refusal is
// a 400 that the document declares for the operation, and tests/control_schemathesis.toml
// lets exactly those operations answer 400 to a schema-valid body
// (`positive_data_acceptance.expected-statuses`, schemathesis's documented tuning for ST202,
// see `schemathesis explain ST202`), each with its reason. No check is disabled and no
// operation is excluded; `negative_data_rejection` keeps its defaults everywhere.
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
    // The run may PATCH the org's apiAccessListRequired to true; with its own address on
    // its access list, the account schemathesis uses keeps working after that.
    let (s, b) = cp
        .call(
            &token,
            "POST",
            &format!(
                "/orgs/{}/serviceAccounts/{}/accessList",
                cp.org_id, cp.client_id
            ),
            Some(serde_json::json!([{"ipAddress": "127.0.0.1"}])),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/control_schemathesis.toml"
    );
    let mut cmd = Command::new(st);
    cmd.args(["--config-file", config])
        .arg("run")
        .arg(format!("{}/api/atlas/v2/openapi.json", cp.api))
        .args(["--url", &cp.api])
        .args(["--checks", "all"])
        .args(["--max-examples", "15"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg(format!("--tls-verify={}", cp.certs.ca.display()))
        // Its cache (`.schemathesis/`) goes to the run's temp dir, not the checkout.
        .current_dir(cp.certs.dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    let (ok, out) = common::run_client(cmd, Duration::from_secs(900));
    assert!(ok, "schemathesis reported failures:\n{out}");
}
