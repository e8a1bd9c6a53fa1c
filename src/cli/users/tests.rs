use super::*;

#[test]
fn hashed_password_parses_and_verifies() {
    let text = hash_password("app", "secret", &[Mechanism::ScramSha256], Some(4096)).unwrap();
    assert!(!text.contains("secret"));
    let cfg: toml::Value = toml::from_str(&text).unwrap();
    let c = &cfg["users"]["credentials"]["SCRAM-SHA-256"];
    assert_eq!(c["iterationCount"].as_integer(), Some(4096));
}

#[test]
fn imports_system_users_json_lines() {
    let line = r#"{"_id":"admin.app","user":"app","db":"admin","roles":[{"role":"readWrite","db":"shop"},{"role":"salesReader","db":"admin"}],"authenticationRestrictions":[{"clientSource":["10.0.0.0/8"]}],"credentials":{"SCRAM-SHA-256":{"iterationCount":15000,"salt":"c2FsdA==","storedKey":"a2V5","serverKey":"a2V5"}}}"#;
    let out = import_users(&format!("{line}\n{line}\n")).unwrap();
    assert_eq!(out.matches("[[users]]").count(), 2);
    assert!(
        out.contains("roles = [\"readWrite@shop\", \"salesReader\"]"),
        "{out}"
    );
    assert!(out.contains("client_source = [\"10.0.0.0/8\"]"));
    let parsed: toml::Value = toml::from_str(&out).unwrap();
    assert_eq!(parsed["users"].as_array().unwrap().len(), 2);
    assert!(import_users(r#"{"user":"x","db":"admin","credentials":{}}"#).is_err());
}
