//! Every operation x every role against the Atlas minimum-role table (`min_roles.md`,
//! copied from the Atlas specification's per-operation role requirements).

use super::*;

const TABLE: &str = include_str!("min_roles.md");
const ORG: &str = "5f0000000000000000000001";
const GROUP: &str = "6a0000000000000000000001";
const OTHER_GROUP: &str = "6a0000000000000000000002";

/// Table rows: (method, path, role names as written).
fn rows() -> Vec<(String, String, Vec<String>)> {
    TABLE
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let op = cells[1].trim_matches('`');
            let (method, path) = op.split_once(' ').expect("METHOD PATH");
            let roles = cells[2].split(", ").map(str::to_string).collect();
            (method.to_string(), path.to_string(), roles)
        })
        .collect()
}

/// The caller set-ups the test tries: one role each, as the only grant.
#[derive(Clone, Debug)]
enum Setup {
    Org(OrgRole),
    /// ORG_MEMBER plus this role on GROUP.
    Group(GroupRole),
    /// ORG_MEMBER plus GROUP_OWNER on another project only.
    OwnerElsewhere,
}

fn principal(setup: &Setup) -> Principal {
    let mut p = Principal {
        org_id: ORG.into(),
        ..Principal::default()
    };
    match setup {
        Setup::Org(r) => {
            p.org_roles.insert(*r);
        }
        Setup::Group(r) => {
            p.org_roles.insert(OrgRole::Member);
            p.group_roles.entry(GROUP.into()).or_default().insert(*r);
        }
        Setup::OwnerElsewhere => {
            p.org_roles.insert(OrgRole::Member);
            p.group_roles
                .entry(OTHER_GROUP.into())
                .or_default()
                .insert(GroupRole::Owner);
        }
    }
    p
}

fn setups() -> Vec<Setup> {
    let mut s: Vec<Setup> = OrgRole::ALL.iter().map(|r| Setup::Org(*r)).collect();
    s.extend(GroupRole::ALL.iter().map(|r| Setup::Group(*r)));
    s.push(Setup::OwnerElsewhere);
    s
}

/// Roles the table names for Atlas features mongoward does not have (nobody holds them).
const NOT_MODELLED: &[&str] = &[
    "Project Stream Processing Owner",
    "Project Cluster Resilience Tester",
    "Project Replica Set Manager",
];

/// The oracle, written from Atlas's documented rules rather than from `authorize`:
/// does `setup` hold the table's role `name` (or a role that implies it)?
fn holds(setup: &Setup, name: &str, method: &str, path: &str) -> bool {
    use GroupRole as G;
    use OrgRole as O;
    let org_owner = matches!(setup, Setup::Org(O::Owner));
    let group_role = |want: G| match setup {
        Setup::Group(r) => *r == want || *r == G::Owner,
        _ => org_owner,
    };
    match name {
        "(any authenticated)" if method == "POST" && path == "/groups" => {
            // The table's footnote: creating a project needs Project Creator or Owner.
            matches!(setup, Setup::Org(O::GroupCreator | O::Owner))
        }
        "(any authenticated)" => true,
        "Organization Owner" => org_owner,
        "Organization Read Only" => matches!(setup, Setup::Org(O::ReadOnly | O::Owner)),
        // Every set-up holds an organization role (the project ones hold ORG_MEMBER).
        "Organization Member" => true,
        "Project Read Only" => {
            matches!(setup, Setup::Group(_) | Setup::Org(O::ReadOnly | O::Owner))
        }
        "Project Owner" => group_role(G::Owner),
        "Project Cluster Creator" => group_role(G::ClusterCreator),
        "Project Cluster Manager" => group_role(G::ClusterManager),
        "Project Database Access Admin" => group_role(G::DatabaseAccessAdmin),
        "Project Network Access Manager" => group_role(G::NetworkAccessManager),
        "Project Access Manager" => group_role(G::AccessManager),
        "Project Support Access Manager" => group_role(G::SupportAccessManager),
        other if NOT_MODELLED.contains(&other) => false,
        other => panic!("role name not in the oracle: {other}"),
    }
}

fn resource_for(method: &str, path: &str) -> Resource<'static> {
    if path.starts_with("/groups/") {
        Resource::Group {
            org_id: ORG,
            group_id: GROUP,
        }
    } else if path.starts_with("/orgs/") || (method == "POST" && path == "/groups") {
        Resource::Org(ORG)
    } else {
        Resource::Global
    }
}

fn find(method: &str, path: &str) -> Option<Operation> {
    Operation::ALL
        .iter()
        .copied()
        .find(|o| o.method() == method && o.path() == path)
}

#[test]
fn every_table_row_is_an_operation_and_back() {
    let rows = rows();
    assert_eq!(rows.len(), 103, "rows parsed from min_roles.md");
    for (m, p, _) in &rows {
        assert!(find(m, p).is_some(), "no Operation for {m} {p}");
    }
    for op in Operation::ALL {
        assert!(
            rows.iter()
                .any(|(m, p, _)| m == op.method() && p == op.path()),
            "{op:?} not in the table"
        );
    }
    assert_eq!(Operation::ALL.len(), rows.len());
}

#[test]
fn every_operation_times_every_role_matches_the_table() {
    let mut checked = 0;
    for (method, path, names) in rows() {
        let op = find(&method, &path).expect("checked above");
        for setup in setups() {
            let expect = names.iter().any(|n| holds(&setup, n, &method, &path));
            let got = authorize(&principal(&setup), op, resource_for(&method, &path));
            assert_eq!(
                got.is_ok(),
                expect,
                "{method} {path} as {setup:?}: got {got:?}, table says {names:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        103 * (OrgRole::ALL.len() + GroupRole::ALL.len() + 1)
    );
}

#[test]
fn another_organization_is_refused_everything_scoped() {
    let mut p = principal(&Setup::Org(OrgRole::Owner));
    p.org_id = "5f0000000000000000000099".into();
    for op in Operation::ALL {
        let (m, path) = (op.method(), op.path());
        let r = resource_for(m, path);
        let got = authorize(&p, *op, r);
        if r == Resource::Global {
            assert!(got.is_ok());
        } else {
            assert_eq!(got, Err(Denial::OtherOrg), "{m} {path}");
        }
    }
}

#[test]
fn org_member_sees_only_its_own_projects() {
    let p = principal(&Setup::Group(GroupRole::ReadOnly));
    assert!(p.sees_group(ORG, GROUP));
    assert!(!p.sees_group(ORG, OTHER_GROUP));
    let ro = principal(&Setup::Org(OrgRole::ReadOnly));
    assert!(ro.sees_group(ORG, OTHER_GROUP));
    assert!(!ro.sees_group("5f0000000000000000000099", GROUP));
    let got = authorize(
        &principal(&Setup::OwnerElsewhere),
        Operation::GetGroup,
        resource_for("GET", "/groups/{groupId}"),
    );
    assert_eq!(got, Err(Denial::NotInGroup));
}

#[test]
fn denial_names_the_role_needed() {
    let p = principal(&Setup::Group(GroupRole::ReadOnly));
    let got = authorize(
        &p,
        Operation::CreateDatabaseUser,
        Resource::Group {
            org_id: ORG,
            group_id: GROUP,
        },
    );
    assert_eq!(
        got,
        Err(Denial::RoleTooLow {
            needed: "GROUP_DATABASE_ACCESS_ADMIN or GROUP_OWNER"
        })
    );
}

#[test]
fn role_names_round_trip() {
    for r in OrgRole::ALL {
        assert_eq!(OrgRole::from_name(r.name()), Some(*r));
    }
    for r in GroupRole::ALL {
        assert_eq!(GroupRole::from_name(r.name()), Some(*r));
    }
    assert_eq!(GroupRole::from_name("group_owner"), None);
}
