use std::net::IpAddr;

use serde_json::json;

use super::*;
use crate::control::model::{
    self, InheritedRole, RoleAction, RoleAssignment, RoleResource, Scope, Upstream,
};
use crate::gates::access_list::Decision;
use crate::gates::users::{Absent, Context};

const G: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
const H: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
const NOW: i64 = 1_900_000_000;

fn opts() -> CompileOptions {
    CompileOptions {
        base: std::path::PathBuf::from("/"),
        max_temporary_days: 7,
        cluster_pool: Default::default(),
    }
}

fn project(id: &str) -> Project {
    Project {
        id: id.into(),
        name: format!("p-{id}"),
        org_id: "cccccccccccccccccccccccc".into(),
        created: "2026-01-01T00:00:00Z".into(),
    }
}

fn cluster(group: &str, name: &str, port: u16) -> Cluster {
    Cluster {
        name: name.into(),
        group_id: group.into(),
        upstream: Upstream {
            uri: format!("mongodb://127.0.0.1:{port}"),
            password_env: None,
            password_file: None,
            tls_ca_file: None,
        },
        listen: Vec::new(),
        sni: vec![format!("{name}.example.com")],
    }
}

fn user(group: &str, name: &str, roles: &[(&str, &str)]) -> DatabaseUser {
    DatabaseUser {
        username: name.into(),
        database_name: "admin".into(),
        group_id: group.into(),
        roles: roles
            .iter()
            .map(|(r, db)| RoleAssignment {
                role_name: (*r).into(),
                database_name: (*db).into(),
                collection_name: None,
            })
            .collect(),
        scopes: Vec::new(),
        delete_after_date: None,
        description: None,
        labels: Vec::new(),
        credentials: model::scram_credentials(name, "a-long-password").unwrap(),
    }
}

fn entry(group: &str, cidr: &str, delete_after: Option<i64>) -> AccessEntry {
    AccessEntry {
        group_id: group.into(),
        cidr_block: Some(cidr.into()),
        ip_address: None,
        comment: None,
        delete_after_date: delete_after.map(rfc3339),
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn item(key: String, value: serde_json::Value) -> Item {
    Item {
        key,
        value,
        revision: 1,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn items_group_by_project_and_orphans_are_dropped() {
    let items = vec![
        item(
            model::project_key(G),
            serde_json::to_value(project(G)).unwrap(),
        ),
        item(
            model::cluster_key(G, "c1"),
            serde_json::to_value(cluster(G, "c1", 1)).unwrap(),
        ),
        item(
            model::db_user_key(G, "admin", "broken"),
            json!({"username": 5}),
        ),
        item(
            format!("groups/{G}/serviceAccounts/x"),
            json!({"anything": 1}),
        ),
        // Records of a project whose own record was deleted.
        item(
            model::cluster_key(H, "c2"),
            serde_json::to_value(cluster(H, "c2", 2)).unwrap(),
        ),
    ];
    let (projects, warnings) = group_items(&items);
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].id, G);
    assert_eq!(projects[0].clusters.len(), 1);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("broken"), "{warnings:?}");
}

#[test]
fn atlas_roles_become_mongod_privileges() {
    let role = CustomRole {
        role_name: "ordersWriter".into(),
        group_id: G.into(),
        actions: vec![
            RoleAction {
                action: "INSERT".into(),
                resources: vec![RoleResource {
                    db: Some("shop".into()),
                    collection: Some("orders".into()),
                    cluster: None,
                }],
            },
            RoleAction {
                action: "FIND".into(),
                resources: vec![RoleResource {
                    db: Some("shop".into()),
                    collection: Some("orders".into()),
                    cluster: None,
                }],
            },
            RoleAction {
                action: "SERVER_STATUS".into(),
                resources: vec![RoleResource {
                    db: Some("ignored".into()),
                    collection: None,
                    cluster: Some(true),
                }],
            },
        ],
        inherited_roles: vec![InheritedRole {
            role: "read".into(),
            db: "catalog".into(),
        }],
    };
    let c = role_config(&role).unwrap();
    assert_eq!(c.privileges.len(), 2);
    assert_eq!(c.privileges[0].actions, ["insert", "find"]);
    assert_eq!(c.privileges[0].resource.db.as_deref(), Some("shop"));
    assert_eq!(c.privileges[1].resource.cluster, Some(true));
    assert_eq!(c.privileges[1].resource.db, None);
    assert_eq!(c.privileges[1].actions, ["serverStatus"]);
    assert_eq!(c.roles.len(), 1);
    let mut bad = role.clone();
    bad.actions[0].action = "OUT_TO_S3".into();
    assert!(role_config(&bad).unwrap_err().contains("OUT_TO_S3"));
}

#[test]
fn projects_are_isolated_and_bad_records_stay_out() {
    let mut good_role = CustomRole {
        role_name: "finder".into(),
        group_id: G.into(),
        actions: vec![RoleAction {
            action: "FIND".into(),
            resources: vec![RoleResource {
                db: Some("app".into()),
                collection: None,
                cluster: None,
            }],
        }],
        inherited_roles: Vec::new(),
    };
    let mut bad_role = good_role.clone();
    bad_role.role_name = "bogus".into();
    bad_role.actions[0].action = "NOT_AN_ACTION".into();
    let g = ProjectRecords {
        project: Some(project(G)),
        id: G.into(),
        clusters: vec![cluster(G, "shared-name", 1), cluster(G, "g-only", 1)],
        users: vec![
            user(G, "alice", &[("finder", "admin")]),
            user(G, "mallory", &[("bogus", "admin")]),
        ],
        roles: vec![good_role.clone(), bad_role],
        entries: vec![
            entry(G, "10.0.0.0/8", None),
            entry(G, "not-an-ip", None),
            entry(G, "192.0.2.7", Some(NOW + 60)),
        ],
    };
    good_role.group_id = H.into();
    let h = ProjectRecords {
        project: Some(project(H)),
        id: H.into(),
        clusters: vec![cluster(H, "shared-name", 2), cluster(H, "h-only", 2)],
        users: vec![user(H, "bob", &[("readWrite", "app")])],
        roles: vec![good_role],
        entries: vec![entry(H, "172.16.0.0/12", None)],
    };
    let out = compile(&[g, h], &opts(), NOW);
    let w = out.warnings.join("\n");
    assert!(w.contains("bogus") && w.contains("NOT_AN_ACTION"), "{w}");
    assert!(w.contains("mallory"), "{w}");
    assert!(w.contains("not-an-ip"), "{w}");
    assert!(w.contains("shared-name"), "{w}");
    let names: Vec<_> = out
        .desired
        .clusters
        .iter()
        .map(|(c, _)| c.name.as_str())
        .collect();
    assert_eq!(names, ["shared-name", "g-only", "h-only"]);
    let [(gp, gn), (hp, hn)] = &out.desired.projects[..] else {
        panic!("two projects");
    };
    assert_eq!(gn, &["shared-name", "g-only"]);
    assert_eq!(hn, &["h-only"]);
    // Users exist only in their own project.
    let ctx = Context {
        cluster: "g-only",
        peer: ip("10.1.2.3"),
        now: NOW,
    };
    assert!(gp.users.lookup("admin", "alice", &ctx).is_ok());
    assert_eq!(
        gp.users.lookup("admin", "mallory", &ctx).err(),
        Some(Absent::Unknown)
    );
    assert_eq!(
        gp.users.lookup("admin", "bob", &ctx).err(),
        Some(Absent::Unknown)
    );
    let hctx = Context {
        cluster: "h-only",
        ..ctx
    };
    assert!(hp.users.lookup("admin", "bob", &hctx).is_ok());
    // Access lists too, with the temporary entry expiring on its own.
    assert!(matches!(
        gp.access.check(ip("10.9.9.9"), NOW),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        hp.access.check(ip("10.9.9.9"), NOW),
        Decision::Deny(_)
    ));
    assert!(matches!(
        gp.access.check(ip("192.0.2.7"), NOW),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        gp.access.check(ip("192.0.2.7"), NOW + 61),
        Decision::Deny(_)
    ));
}

#[test]
fn scopes_and_expiry_follow_atlas() {
    let mut scoped = user(G, "scoped", &[("read", "app")]);
    scoped.scopes = vec![Scope {
        name: "c1".into(),
        kind: "CLUSTER".into(),
    }];
    let mut gone = user(G, "gone", &[("read", "app")]);
    gone.scopes = vec![Scope {
        name: "deleted-cluster".into(),
        kind: "CLUSTER".into(),
    }];
    let mut temp = user(G, "temp", &[("read", "app")]);
    temp.delete_after_date = Some(rfc3339(NOW + 30));
    let p = ProjectRecords {
        project: Some(project(G)),
        id: G.into(),
        clusters: vec![cluster(G, "c1", 1), cluster(G, "c2", 1)],
        users: vec![scoped, gone, temp],
        ..ProjectRecords::default()
    };
    let out = compile(&[p], &opts(), NOW);
    let users = &out.desired.projects[0].0.users;
    let on = |cluster, now| Context {
        cluster,
        peer: ip("10.0.0.1"),
        now,
    };
    assert!(users.lookup("admin", "scoped", &on("c1", NOW)).is_ok());
    assert_eq!(
        users.lookup("admin", "scoped", &on("c2", NOW)).err(),
        Some(Absent::OutOfScope)
    );
    assert_eq!(
        users.lookup("admin", "gone", &on("c1", NOW)).err(),
        Some(Absent::OutOfScope)
    );
    assert!(users.lookup("admin", "temp", &on("c2", NOW)).is_ok());
    assert_eq!(
        users.lookup("admin", "temp", &on("c2", NOW + 31)).err(),
        Some(Absent::Expired)
    );
}

#[test]
fn bad_cluster_records_are_refused_with_a_reason() {
    let mut c = cluster(G, "x", 1);
    c.upstream.uri = "http://nope".into();
    assert!(cluster_config(&c, Path::new("/")).is_err());
    let mut c = cluster(G, "x", 1);
    c.listen = vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()];
    assert!(cluster_config(&c, Path::new("/"))
        .unwrap_err()
        .contains("at most one"));
    let mut c = cluster(G, "x", 1);
    c.listen = vec!["nowhere".into()];
    assert!(cluster_config(&c, Path::new("/"))
        .unwrap_err()
        .contains("ip:port"));
}

#[test]
fn the_data_plane_policy_routes_each_cluster_to_its_project() {
    use crate::config::OnRevoke;
    use crate::proxy::state::policy::Policy;
    let g = ProjectRecords {
        project: Some(project(G)),
        id: G.into(),
        clusters: vec![cluster(G, "g1", 1), cluster(G, "g2", 1)],
        users: vec![user(G, "alice", &[("read", "app")])],
        entries: vec![entry(G, "10.0.0.0/8", None)],
        ..ProjectRecords::default()
    };
    let h = ProjectRecords {
        project: Some(project(H)),
        id: H.into(),
        clusters: vec![cluster(H, "h1", 2)],
        entries: vec![entry(H, "172.16.0.0/12", None)],
        ..ProjectRecords::default()
    };
    let out = compile(&[g, h], &opts(), NOW);
    let policy = Policy::from_projects(out.desired.projects, OnRevoke::Close, 7);
    assert_eq!(policy.generation, 7);
    assert!(policy.has_cluster("g2") && policy.has_cluster("h1"));
    assert!(
        !policy.has_cluster("deleted"),
        "store mode has no fallback project"
    );
    let allowed =
        |c: &str, a: &str| matches!(policy.access(c).check(ip(a), NOW), Decision::Allow { .. });
    assert!(allowed("g1", "10.0.0.1") && !allowed("g1", "172.16.0.1"));
    assert!(allowed("h1", "172.16.0.1") && !allowed("h1", "10.0.0.1"));
    assert!(
        !allowed("deleted", "10.0.0.1"),
        "an unknown cluster refuses everyone"
    );
    assert_eq!(policy.users("g1").len(), 1);
    assert_eq!(policy.users("h1").len(), 0);
    assert_eq!(policy.totals(), (1, 0, 2));
    // One project behind a listener: the gate runs on accept; two: after the SNI name.
    assert_eq!(
        policy
            .common_project(["g1", "g2"].into_iter())
            .map(|p| p.id.as_str()),
        Some(G)
    );
    assert!(policy.common_project(["g1", "h1"].into_iter()).is_none());
    assert!(policy
        .common_project(["g1", "deleted"].into_iter())
        .is_none());
    assert!(policy.common_project(std::iter::empty()).is_none());
}

#[test]
fn store_clusters_take_the_process_cluster_pool() {
    use crate::config::pool::{PoolConfig, PoolMode};
    let records = || ProjectRecords {
        project: Some(project(G)),
        id: G.into(),
        clusters: vec![cluster(G, "g1", 1), cluster(G, "g2", 2)],
        ..ProjectRecords::default()
    };
    let plain = compile(&[records()], &opts(), NOW);
    assert!(plain
        .desired
        .clusters
        .iter()
        .all(|(c, _)| c.pool.mode == PoolMode::Connection));
    let pool = PoolConfig {
        mode: PoolMode::Request,
        max_size: 5,
        ..PoolConfig::default()
    };
    let pooled_opts = CompileOptions {
        cluster_pool: pool.clone(),
        ..opts()
    };
    let pooled = compile(&[records()], &pooled_opts, NOW);
    assert_eq!(pooled.desired.clusters.len(), 2);
    assert!(pooled.desired.clusters.iter().all(|(c, _)| c.pool == pool));
}
