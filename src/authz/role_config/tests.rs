//! Configuration shapes: exact TOML forms, unknown fields rejected, resource documents
//! mapped to mongod's patterns (builtin_roles.json `_meta.resource_notation`).

use proptest::prelude::*;

use super::*;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    roles: Vec<RoleConfig>,
    #[serde(default)]
    user_roles: Vec<RoleRef>,
}

fn parse(text: &str) -> Result<Doc, toml::de::Error> {
    toml::from_str(text)
}

#[test]
fn brief_example_parses() {
    let text = r#"
user_roles = ["read@archive", "dailySalesReader", { role = "readWrite", db = "ecommerce", collection = "orders" }]
[[roles]]
role = "dailySalesReader"
privileges = [
  { resource = { db = "reporting", collection = "daily_sales" }, actions = ["find"] },
  { resource = { db = "reporting", collection = "" }, actions = ["listCollections"] },
  { resource = { cluster = true }, actions = ["serverStatus"] },
  { resource = { anyResource = true }, actions = ["collStats"] },
  { resource = { db = "", system_buckets = "" }, actions = ["find"] },
]
roles = ["read@archive"]
"#;
    let doc = match parse(text) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let role = doc.roles.first().map(|r| r.role.as_str());
    assert_eq!(role, Some("dailySalesReader"));
    let patterns: Vec<_> = doc
        .roles
        .iter()
        .flat_map(|r| r.privileges.iter().map(|p| p.resource.to_pattern()))
        .collect();
    assert_eq!(
        patterns,
        vec![
            Ok(ResourcePattern::Namespace {
                db: "reporting".into(),
                coll: "daily_sales".into()
            }),
            Ok(ResourcePattern::Database("reporting".into())),
            Ok(ResourcePattern::Cluster),
            Ok(ResourcePattern::AnyResource),
            Ok(ResourcePattern::SystemBuckets {
                db: None,
                coll: None
            }),
        ]
    );
    let parsed: Vec<_> = doc.user_roles.iter().map(|r| r.parse()).collect();
    let pr = |role, db, collection| ParsedRef {
        role,
        db,
        collection,
    };
    assert_eq!(
        parsed,
        vec![
            Ok(pr("read", Some("archive"), None)),
            Ok(pr("dailySalesReader", None, None)),
            Ok(pr("readWrite", Some("ecommerce"), Some("orders"))),
        ]
    );
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(parse("[[roles]]\nrole = \"x\"\nprivilege = []\n").is_err());
    assert!(parse(
        "[[roles]]\nrole = \"x\"\nprivileges = [{ resource = { db = \"a\", colection = \"\" }, actions = [\"find\"] }]\n"
    )
    .is_err());
    assert!(parse("user_roles = [{ role = \"read\", database = \"a\" }]\n").is_err());
    assert!(
        parse("[[roles]]\nprivileges = []\n").is_err(),
        "role is required"
    );
}

fn shape(text: &str) -> Result<ResourcePattern, String> {
    let r: ResourceConfig = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    r.to_pattern()
}

#[test]
fn resource_shapes() {
    use ResourcePattern as P;
    let ok = [
        ("db = \"\"\ncollection = \"\"", P::AnyNormal),
        ("db = \"a\"\ncollection = \"\"", P::Database("a".into())),
        (
            "db = \"\"\ncollection = \"c\"",
            P::CollectionInAnyDb("c".into()),
        ),
        (
            "db = \"a\"\ncollection = \"system.users\"",
            P::Namespace {
                db: "a".into(),
                coll: "system.users".into(),
            },
        ),
        (
            "db = \"a\"\nsystem_buckets = \"t\"",
            P::SystemBuckets {
                db: Some("a".into()),
                coll: Some("t".into()),
            },
        ),
        (
            "db = \"\"\nsystem_buckets = \"t\"",
            P::SystemBuckets {
                db: None,
                coll: Some("t".into()),
            },
        ),
    ];
    for (text, want) in ok {
        assert_eq!(shape(text), Ok(want), "{text}");
    }
    let bad = [
        "",
        "cluster = false",
        "anyResource = false",
        "cluster = true\nanyResource = true",
        "cluster = true\ndb = \"a\"",
        "db = \"a\"",
        "collection = \"c\"",
        "db = \"a\"\ncollection = \"c\"\nsystem_buckets = \"\"",
        "db = \"a.b\"\ncollection = \"\"",
        "db = \"a b\"\ncollection = \"\"",
    ];
    for text in bad {
        assert!(shape(text).is_err(), "{text:?} should be rejected");
    }
}

#[test]
fn bad_references() {
    for text in ["@db", "read@", "read@.c", "read@db.", "read@a$b"] {
        let r = RoleRef::Name(text.into());
        assert!(matches!(r.parse(), Err(Problem::BadRef(_))), "{text}");
    }
    // The first '.' after '@' splits database from collection.
    let r = RoleRef::Name("read@db.a.b".into());
    assert_eq!(r.parse().map(|p| p.collection), Ok(Some("a.b")));
}

proptest! {
    #[test]
    fn reference_strings_round_trip(
        role in "[a-zA-Z_][a-zA-Z0-9_ ]{0,12}",
        db in "[a-zA-Z0-9_-]{1,12}",
        coll in proptest::option::of("[a-zA-Z0-9_.-]{1,12}"),
    ) {
        let text = match &coll {
            Some(c) => format!("{role}@{db}.{c}"),
            None => format!("{role}@{db}"),
        };
        let r = RoleRef::Name(text);
        let p = r.parse();
        prop_assert_eq!(p, Ok(ParsedRef { role: &role, db: Some(&db), collection: coll.as_deref() }));
    }
}
