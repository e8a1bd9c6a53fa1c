//! `mongoward admin import` and the `[control_plane]` switch: a file-mode configuration
//! moves into a project of a real SQLite store, and a store-mode file refuses policy tables.

mod common;

use mongoward::config::Config;
use mongoward::control::api::events::Event;
use mongoward::control::model::{self, CustomRole, DatabaseUser, Org, OrgSettings};
use mongoward::control::{Expect, Op, Store};

fn file_text(certs: &common::Certs, store: &str, policy: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [control_plane]\nstore = {store:?}\n{policy}",
        certs.cert, certs.key
    )
}

const POLICY: &str = r#"
[[clusters]]
name = "prod"
uri = "mongodb://127.0.0.1:27017"
sni = ["prod.example.com"]

[[access_list]]
cidr = "10.0.0.0/8"
comment = "office"

[[access_list]]
cidr = "192.0.2.7"

[[roles]]
role = "ordersReader"
privileges = [{ resource = { db = "shop", collection = "orders" }, actions = ["find", "listCollections"] }]
roles = ["read@catalog"]
"#;

#[tokio::test]
async fn import_moves_the_file_policy_into_a_project_once() {
    let certs = common::certs();
    let db = certs.dir.path().join("state.db");
    let url = format!("sqlite://{}", db.display());
    let policy = format!(
        "{POLICY}\n{}",
        common::user_toml(
            "app",
            "app-Passw0rd",
            &["readWrite@shop", "ordersReader"],
            "scopes = [\"prod\"]"
        )
    );
    let path = certs.dir.path().join("mongoward.toml");
    std::fs::write(&path, file_text(&certs, &url, &policy)).unwrap();

    // Store mode refuses the policy tables, naming the way out.
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("mongoward admin import"), "{err}");

    // Without an organization (admin init), import says what to run first.
    let err = mongoward::control::import::import(&path, "prod")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin init"), "{err}");

    let store = Store::open(&url, None).await.unwrap();
    let org = seed_org(&store).await;
    let report = mongoward::control::import::import(&path, "prod")
        .await
        .unwrap();
    assert!(report.created_project);
    assert_eq!(report.org_id, org);
    assert_eq!(
        (
            report.clusters,
            report.database_users,
            report.custom_roles,
            report.access_list_entries
        ),
        (1, 1, 1, 2)
    );
    let gid = report.group_id.clone();
    assert!(model::is_id(&gid));
    let user = store
        .get(&model::db_user_key(&gid, "admin", "app"))
        .await
        .unwrap()
        .expect("user imported");
    let user: DatabaseUser = serde_json::from_value(user.value).unwrap();
    assert_eq!(user.scopes.len(), 1);
    assert_eq!(user.scopes[0].name, "prod");
    assert!(user.credentials.contains_key("SCRAM-SHA-256"));
    let roles: Vec<_> = user
        .roles
        .iter()
        .map(|r| (r.role_name.as_str(), r.database_name.as_str()))
        .collect();
    assert_eq!(roles, [("readWrite", "shop"), ("ordersReader", "admin")]);
    let role = store
        .get(&model::custom_role_key(&gid, "ordersReader"))
        .await
        .unwrap()
        .expect("role imported");
    let role: CustomRole = serde_json::from_value(role.value).unwrap();
    let actions: Vec<_> = role.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["FIND", "LIST_COLLECTIONS"]);
    assert_eq!(role.inherited_roles[0].role, "read");
    assert!(store
        .get(&model::access_entry_key(&gid, "10.0.0.0/8"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .get(&model::cluster_key(&gid, "prod"))
        .await
        .unwrap()
        .is_some());

    // One event per imported item, with Atlas's event types, by "admin import".
    let events: Vec<Event> = store
        .list(&format!("events/{org}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|i| serde_json::from_value(i.value).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e.actor == "admin import" && e.group_id.as_deref() == Some(gid.as_str())),
        "{events:?}"
    );
    let mut got: Vec<_> = events
        .iter()
        .map(|e| {
            let what = e.target.clone().or(e.target_username.clone());
            (e.event_type_name.as_str(), what.unwrap_or_default())
        })
        .collect();
    got.sort();
    let s = |v: &str| v.to_string();
    assert_eq!(
        got,
        [
            ("CLUSTER_CREATED", s("prod")),
            ("GROUP_CREATED", s("prod")),
            ("MONGODB_ROLE_ADDED", s("ordersReader")),
            ("MONGODB_USER_ADDED", s("app")),
            ("NETWORK_PERMISSION_ENTRY_ADDED", s("10.0.0.0/8")),
            ("NETWORK_PERMISSION_ENTRY_ADDED", s("192.0.2.7")),
        ]
    );

    // The imported records compile back into the same policy the file gave.
    let items = store.list("groups/").await.unwrap();
    let (projects, warnings) = mongoward::control::policy::group_items(&items);
    assert!(warnings.is_empty(), "{warnings:?}");
    let opts = mongoward::control::policy::CompileOptions {
        base: certs.dir.path().into(),
        max_temporary_days: 7,
        cluster_pool: Default::default(),
    };
    let compiled =
        mongoward::control::policy::compile(&projects, &opts, mongoward::config::now_unix());
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let (p, clusters) = &compiled.desired.projects[0];
    assert_eq!(clusters, &["prod"]);
    assert_eq!((p.users.len(), p.access.len()), (1, 2));

    // A second import would overwrite: refused, and nothing changes.
    let rev = store.revision().await.unwrap();
    let err = mongoward::control::import::import(&path, "prod")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(store.revision().await.unwrap(), rev);

    // With the policy tables gone, the file starts in store mode.
    std::fs::write(&path, file_text(&certs, &url, "")).unwrap();
    let config = Config::load(&path).expect("store-mode file");
    assert!(config.file.control_plane.is_some());
    assert!(config.clusters.is_empty());
}

#[tokio::test]
async fn import_refuses_what_atlas_cannot_express() {
    let certs = common::certs();
    let url = format!("sqlite://{}", certs.dir.path().join("state.db").display());
    let store = Store::open(&url, None).await.unwrap();
    let org = model::new_id();
    store
        .apply(vec![Op::Put {
            key: model::org_key(&org),
            value: serde_json::to_value(Org {
                id: org.clone(),
                name: "acme".into(),
                settings: OrgSettings::default(),
            })
            .unwrap(),
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
    let policy = format!(
        "{POLICY}\n{}",
        common::user_toml(
            "app",
            "app-Passw0rd",
            &["read@shop"],
            "client_source = [\"10.0.0.0/8\"]"
        )
    );
    let path = certs.dir.path().join("mongoward.toml");
    std::fs::write(&path, file_text(&certs, &url, &policy)).unwrap();
    let err = mongoward::control::import::import(&path, "prod")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("client_source"), "{err}");
    assert_eq!(
        store.list("groups/").await.unwrap(),
        vec![],
        "nothing was written"
    );
}

/// The same import into a PostgreSQL store: records and their events in one transaction.
#[tokio::test]
async fn import_into_postgres_writes_one_event_per_item() {
    let Some(pg) = common::postgres::Postgres::start() else {
        return;
    };
    let certs = common::certs();
    let path = certs.dir.path().join("mongoward.toml");
    std::fs::write(&path, file_text(&certs, &pg.url(), POLICY)).unwrap();
    let store = Store::open(&pg.url(), None).await.unwrap();
    let org = seed_org(&store).await;
    let report = mongoward::control::import::import(&path, "prod")
        .await
        .unwrap();
    let events: Vec<Event> = store
        .list(&format!("events/{org}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|i| serde_json::from_value(i.value).unwrap())
        .collect();
    let mut kinds: Vec<&str> = events.iter().map(|e| e.event_type_name.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "CLUSTER_CREATED",
            "GROUP_CREATED",
            "MONGODB_ROLE_ADDED",
            "NETWORK_PERMISSION_ENTRY_ADDED",
            "NETWORK_PERMISSION_ENTRY_ADDED",
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.actor == "admin import"
            && e.group_id.as_deref() == Some(report.group_id.as_str())));
    let changed = store.changes_since(0).await.unwrap().unwrap();
    let last = changed.last().unwrap().revision;
    assert!(changed
        .iter()
        .filter(|c| c.revision == last)
        .any(|c| c.key.starts_with("events/")));
}

/// Writes the organization `admin init` would have made (import refuses to run without one).
async fn seed_org(store: &Store) -> String {
    let org = model::new_id();
    let rec = Org {
        id: org.clone(),
        name: "acme".into(),
        settings: OrgSettings::default(),
    };
    store
        .apply(vec![Op::Put {
            key: model::org_key(&org),
            value: serde_json::to_value(rec).unwrap(),
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
    org
}
