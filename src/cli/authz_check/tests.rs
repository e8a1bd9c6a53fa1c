//! The simulator's input handling; its decisions are covered by tests/authz_matrix.rs and
//! compared with the live proxy in tests/authz_live_prop.rs.

use std::path::Path;

use super::*;
use crate::gates::credentials::{credentials_toml, Mechanism, ScramCredential};

fn user(name: &str, db: &str, roles: &[&str], extra: &str) -> String {
    let salt = vec![7u8; Mechanism::ScramSha256.salt_len()];
    let cred = ScramCredential::derive(Mechanism::ScramSha256, name, "pw", &salt, 4096).unwrap();
    let roles: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "[[users]]\nuser = {name:?}\ndb = {db:?}\nroles = [{}]\n{extra}\n{}\n",
        roles.join(", "),
        credentials_toml(&[cred])
    )
}

fn config() -> Config {
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
         [[clusters]]\nname = \"east\"\nuri = \"mongodb://127.0.0.1:1\"\nsni = [\"east.test\"]\n\
         [[clusters]]\nname = \"west\"\nuri = \"mongodb://127.0.0.1:2\"\nsni = [\"west.test\"]\n{}{}{}{}",
        user("app", "admin", &["readWrite@app_db"], ""),
        user("west_only", "admin", &["read@w"], "scopes = [\"west\"]"),
        user("office", "admin", &["read@o"], "client_source = [\"10.9.9.0/24\"]"),
        user("ann@example.com", "ext", &["read@x"], ""),
    );
    Config::from_str(&text, Path::new("/tmp/sim.toml")).unwrap()
}

fn ask(sim: &Simulator<'_>, user: &str, db: &str, cmd: &str) -> Result<Decision, InputError> {
    sim.check(&Question {
        user: user.into(),
        cluster: None,
        db: Some(db.into()),
        command: Value::String(cmd.into()),
    })
}

#[test]
fn allow_and_deny_with_exit_codes_and_missing() {
    let c = config();
    let sim = Simulator::new(&c);
    let d = ask(
        &sim,
        "app",
        "app_db",
        r#"{"find":"orders","filter":{"a":1}}"#,
    )
    .unwrap();
    assert_eq!(
        (d.to_json(), d.exit_code()),
        (json!({"decision":"allow"}), 0)
    );
    let d = ask(&sim, "app@admin", "other_db", r#"{"find":"orders"}"#).unwrap();
    assert_eq!(d.exit_code(), 1);
    let v = d.to_json();
    assert_eq!(v["code"], 13);
    assert_eq!(
        v["errmsg"],
        "not authorized on other_db to execute command find on other_db.orders"
    );
    assert_eq!(
        v["missing"],
        json!([{"resource":{"db":"other_db","collection":"orders"},"actions":["find"]}])
    );
}

#[test]
fn extended_json_key_order_and_db_field() {
    let c = config();
    let sim = Simulator::new(&c);
    // Key order matters: the first key is the command name (preserve_order).
    let cmd = r#"{"insert":"c","documents":[{"_id":{"$oid":"65a0c0ffee0000000000beef"},"t":{"$date":"2024-01-01T00:00:00Z"}}],"ordered":true}"#;
    assert_eq!(ask(&sim, "app", "app_db", cmd).unwrap(), Decision::Allow);
    // "$db" inside the command wins over --db.
    let d = ask(&sim, "app", "app_db", r#"{"find":"c","$db":"x"}"#).unwrap();
    assert_eq!(d.exit_code(), 1);
    let body = command_body(&json!({"ping": 1}), Some("d")).unwrap();
    assert_eq!(body.get_str("$db").unwrap(), "d");
    assert!(matches!(
        command_body(&json!({"ping": 1}), None),
        Err(InputError::NoDb)
    ));
}

#[test]
fn bad_input_is_an_error_not_a_decision() {
    let c = config();
    let sim = Simulator::new(&c);
    for (user, cmd) in [
        ("nobody", r#"{"find":"c"}"#),
        ("app@other", r#"{"find":"c"}"#),
        ("app", r#"{"find":"c""#),
        ("app", r#"[1,2]"#),
        ("app", r#"{}"#),
        ("app", r#"{"find":"c","filter":{"a":1,"a":2}}"#),
    ] {
        assert!(ask(&sim, user, "app_db", cmd).is_err(), "{user} {cmd}");
    }
    let e = ask(&sim, "app", "d", r#"{"find":"c","find":"d"}"#).unwrap_err();
    assert!(matches!(e, InputError::DuplicateKey(k) if k == "find"));
}

#[test]
fn refusals_the_proxy_makes_itself_are_denials() {
    let c = config();
    let sim = Simulator::new(&c);
    let d = ask(
        &sim,
        "app",
        "app_db",
        r#"{"createUser":"x","pwd":"p","roles":[]}"#,
    );
    let v = d.unwrap().to_json();
    assert_eq!(v["code"], 13);
    assert!(v["errmsg"]
        .as_str()
        .unwrap()
        .contains("mongoward's configuration"));
    let v = ask(&sim, "app", "app_db", r#"{"noSuchCommand":1}"#)
        .unwrap()
        .to_json();
    assert_eq!(
        (v["decision"].as_str(), v["code"].as_i64()),
        (Some("deny"), Some(59))
    );
    // Unauthenticated commands are allowed for everyone.
    let d = ask(&sim, "app", "admin", r#"{"hello":1}"#).unwrap();
    assert_eq!(d, Decision::Allow);
}

#[test]
fn users_resolve_per_cluster_and_ignore_client_source() {
    let c = config();
    let sim = Simulator::new(&c);
    // Scoped to west: absent on the default (first) cluster, present on west.
    assert!(ask(&sim, "west_only", "w", r#"{"find":"c"}"#).is_err());
    let q = Question {
        user: "west_only".into(),
        cluster: Some("west".into()),
        db: Some("w".into()),
        command: json!({"find": "c"}),
    };
    assert_eq!(sim.check(&q).unwrap(), Decision::Allow);
    let q = Question {
        cluster: Some("north".into()),
        ..q
    };
    assert!(matches!(sim.check(&q), Err(InputError::UnknownCluster(_))));
    // client_source restricts where a user connects from, not what it may do.
    assert_eq!(
        ask(&sim, "office", "o", r#"{"find":"c"}"#).unwrap(),
        Decision::Allow
    );
    // A user name containing '@' with its authentication db.
    assert_eq!(
        ask(&sim, "ann@example.com@ext", "x", r#"{"find":"c"}"#).unwrap(),
        Decision::Allow
    );
}

#[test]
fn batch_answers_one_line_per_question() {
    let c = config();
    let sim = Simulator::new(&c);
    let input = concat!(
        r#"{"user":"app","db":"app_db","command":{"find":"c"}}"#,
        "\n",
        r#"{"user":"app","db":"other","command":"{\"find\":\"c\"}"}"#,
        "\n\n",
        r#"{"user":"app","db":"other","command":{"find":"c","find":"d"}}"#,
        "\n",
        r#"{"user":"west_only","cluster":"west","db":"w","command":{"count":"c"}}"#,
        "\n",
    );
    let mut out = Vec::new();
    let ok = sim.run_batch(input.as_bytes(), &mut out).unwrap();
    assert!(!ok, "the duplicate-key line is bad input");
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&str> = lines
        .iter()
        .map(|v| v["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "deny", "error", "allow"]);
}
