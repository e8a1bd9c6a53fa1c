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
    let imported = import_users(&format!("{line}\n{line}\n")).unwrap();
    let out = imported.toml;
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

#[test]
fn external_users_are_skipped_with_a_warning_naming_the_line() {
    let scram = r#"{"user":"app","db":"admin","roles":[{"role":"read","db":"shop"}],"credentials":{"SCRAM-SHA-256":{"iterationCount":15000,"salt":"c2FsdA==","storedKey":"a2V5","serverKey":"a2V5"}}}"#;
    let x509 =
        r#"{"user":"CN=client,O=Shop","db":"$external","roles":[{"role":"read","db":"shop"}]}"#;
    let imported = import_users(&format!("{x509}\n\n{scram}\n")).unwrap();
    assert_eq!(imported.toml.matches("[[users]]").count(), 1);
    assert!(imported.toml.contains("user = \"app\""));
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(
        imported.warnings[0].starts_with("line 1: skipped CN=client,O=Shop@$external"),
        "{:?}",
        imported.warnings
    );
    // A broken document is reported by its line, counted from 1 (blank lines count).
    let err =
        import_users(&format!("{scram}\n\n{{\"user\":\"x\",\"db\":\"admin\"}}\n")).unwrap_err();
    assert!(err.starts_with("line 3:"), "{err}");
    // In a JSON array, documents are numbered from 1.
    let err = import_users(&format!("[{scram}, {{\"user\":\"x\",\"db\":\"admin\"}}]")).unwrap_err();
    assert!(err.starts_with("document 2:"), "{err}");
}

#[test]
fn custom_roles_and_server_address_restrictions_are_reported() {
    let line = r#"{"user":"app","db":"admin","roles":[{"role":"myCustomRole","db":"shop"},{"role":"read","db":"shop"}],"authenticationRestrictions":[{"clientSource":["10.0.0.0/8"],"serverAddress":["10.1.0.5"]}],"credentials":{"SCRAM-SHA-256":{"iterationCount":15000,"salt":"c2FsdA==","storedKey":"a2V5","serverKey":"a2V5"}}}"#;
    let imported = import_users(line).unwrap();
    assert!(
        imported
            .toml
            .contains("roles = [\"myCustomRole\", \"read@shop\"]"),
        "{}",
        imported.toml
    );
    assert!(imported.toml.contains("client_source = [\"10.0.0.0/8\"]"));
    let all = imported.warnings.join("\n");
    assert!(
        all.contains("custom role myCustomRole@shop")
            && all.contains("[[roles]] entry named \"myCustomRole\""),
        "{all}"
    );
    assert!(all.contains("serverAddress dropped"), "{all}");
}

#[test]
fn roles_import_defines_custom_roles_that_users_then_name() {
    let role = r#"{"_id":"shop.myCustomRole","role":"myCustomRole","db":"shop","privileges":[{"resource":{"db":"shop","collection":"orders"},"actions":["find","insert"]},{"resource":{"cluster":true},"actions":["listDatabases"]}],"roles":[{"role":"read","db":"reporting"}]}"#;
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; // 32 bytes
    let user = format!(
        r#"{{"user":"app","db":"admin","roles":[{{"role":"myCustomRole","db":"shop"}}],"credentials":{{"SCRAM-SHA-256":{{"iterationCount":15000,"salt":"c2FsdHNhbHRzYWx0c2FsdA==","storedKey":"{key}","serverKey":"{key}"}}}}}}"#
    );
    let imported = import_users_with_roles(&user, Some(&format!("{role}\n{role}\n"))).unwrap();
    assert!(
        imported.toml.contains("roles = [\"myCustomRole\"]"),
        "{}",
        imported.toml
    );
    // Only the duplicate definition warns; the user's reference is now defined.
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(
        imported.warnings[0].contains("line 2"),
        "{:?}",
        imported.warnings
    );
    // The whole output is a configuration mongoward accepts.
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
         [[clusters]]\nname = \"c\"\nuri = \"mongodb://127.0.0.1:1\"\n{}",
        imported.toml
    );
    let config = crate::config::Config::from_str(&text, std::path::Path::new("imported.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(config.file.roles.len(), 1);
    assert_eq!(config.users.len(), 1);
}
