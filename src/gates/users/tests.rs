use super::*;
use crate::gates::credentials::ScramCredential;

fn cfg(extra: &str) -> UserConfig {
    let cred =
        ScramCredential::derive(Mechanism::ScramSha256, "app", "pw", &[7u8; 28], 4096).unwrap();
    let creds = crate::gates::credentials::credentials_toml(&[cred]);
    let text = format!(
        "user = \"app\"\nroles = [\"readWrite@shop\"]\n{extra}\n{}",
        creds.replace("[users.credentials.", "[credentials.")
    );
    toml::from_str(&text).unwrap()
}

fn dir(extra: &str) -> Directory {
    let catalog = RoleCatalog::build(&[]).unwrap();
    Directory::build(&[cfg(extra)], &catalog, &["a".into(), "b".into()]).unwrap()
}

fn ctx(cluster: &str, ip: &str, now: i64) -> Context<'static> {
    Context {
        cluster: Box::leak(cluster.to_string().into_boxed_str()),
        peer: ip.parse().unwrap(),
        now,
    }
}

#[test]
fn lookup_honours_scope_expiry_and_source() {
    let d = dir("scopes = [\"a\"]\ndelete_after = \"2030-01-01T00:00:00Z\"\nclient_source = [\"10.0.0.0/8\"]");
    let t2029 = 1_861_920_000;
    assert!(d
        .lookup("admin", "app", &ctx("a", "10.1.2.3", t2029))
        .is_ok());
    assert_eq!(
        d.lookup("admin", "app", &ctx("b", "10.1.2.3", t2029))
            .unwrap_err(),
        Absent::OutOfScope
    );
    assert_eq!(
        d.lookup("admin", "app", &ctx("a", "10.1.2.3", 1_893_456_000))
            .unwrap_err(),
        Absent::Expired
    );
    assert_eq!(
        d.lookup("admin", "app", &ctx("a", "192.168.1.1", t2029))
            .unwrap_err(),
        Absent::SourceRestricted
    );
    assert_eq!(
        d.lookup("admin", "app", &ctx("a", "::ffff:10.0.0.1", t2029))
            .map(|u| u.user.clone()),
        Ok("app".into())
    );
    assert_eq!(
        d.lookup("test", "app", &ctx("a", "10.1.2.3", t2029))
            .unwrap_err(),
        Absent::Unknown
    );
}

#[test]
fn errors_name_the_field() {
    let catalog = RoleCatalog::build(&[]).unwrap();
    let bad_scope =
        Directory::build(&[cfg("scopes = [\"nope\"]")], &catalog, &["a".into()]).unwrap_err();
    assert!(
        bad_scope.contains("users[0]") && bad_scope.contains("scopes[0]"),
        "{bad_scope}"
    );
    let mut no_creds = cfg("");
    no_creds.credentials.clear();
    let e = Directory::build(&[no_creds], &catalog, &[]).unwrap_err();
    assert!(e.contains("credentials"), "{e}");
    let e = Directory::build(&[cfg("delete_after = \"tomorrow\"")], &catalog, &[]).unwrap_err();
    assert!(e.contains("delete_after"), "{e}");
    let e = Directory::build(&[cfg(""), cfg("")], &catalog, &[]).unwrap_err();
    assert!(e.contains("duplicate"), "{e}");
}

#[test]
fn mechanisms_listed_for_sasl_supported_mechs() {
    let d = dir("");
    let u = d.get("admin", "app").unwrap();
    assert_eq!(u.mechanisms(), vec!["SCRAM-SHA-256"]);
    assert!(u.credential(Mechanism::ScramSha1).is_none());
}
