//! Property: the indexed lookup equals a naive scan of the flat privilege list, written
//! directly from builtin_roles.json `_meta.matching_rules`.

use proptest::prelude::*;

use super::*;
use crate::authz::actions::{self, ANY_ACTION};
use crate::authz::model::{Action, ActionSet};

const DBS: &[&str] = &["app", "other", "local", "config", "admin"];
const COLLS: &[&str] = &[
    "c",
    "d",
    "system.js",
    "system.users",
    "system.buckets.t",
    "system.buckets.u",
    "replset.minvalid",
];
const BUCKETS: &[&str] = &["t", "u"];
const POOL: &[Action] = &[
    actions::FIND,
    actions::INSERT,
    actions::REMOVE,
    actions::LIST_COLLECTIONS,
    actions::SERVER_STATUS,
    ANY_ACTION,
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(list).prop_map(str::to_string)
}

fn pattern() -> impl Strategy<Value = ResourcePattern> {
    prop_oneof![
        Just(ResourcePattern::AnyResource),
        Just(ResourcePattern::Cluster),
        Just(ResourcePattern::AnyNormal),
        pick(DBS).prop_map(ResourcePattern::Database),
        pick(COLLS).prop_map(ResourcePattern::CollectionInAnyDb),
        (pick(DBS), pick(COLLS)).prop_map(|(db, coll)| ResourcePattern::Namespace { db, coll }),
        (
            proptest::option::of(pick(DBS)),
            proptest::option::of(pick(BUCKETS))
        )
            .prop_map(|(db, coll)| ResourcePattern::SystemBuckets { db, coll }),
    ]
}

fn action_set() -> impl Strategy<Value = ActionSet> {
    // ANY_ACTION is drawn rarely so most sets stay partial.
    proptest::collection::vec(proptest::sample::select(POOL), 0..4).prop_map(|v| {
        let mut s = ActionSet::EMPTY;
        for a in v {
            s.insert(a);
        }
        s
    })
}

#[derive(Clone, Debug)]
enum Res {
    Cluster,
    AnyNormal,
    AnyResource,
    Db(String),
    Ns(String, String),
}

impl Res {
    fn borrow(&self) -> Resource<'_> {
        match self {
            Res::Cluster => Resource::Cluster,
            Res::AnyNormal => Resource::AnyNormal,
            Res::AnyResource => Resource::AnyResource,
            Res::Db(db) => Resource::Database(db),
            Res::Ns(db, coll) => Resource::Namespace { db, coll },
        }
    }
}

fn resource() -> impl Strategy<Value = Res> {
    prop_oneof![
        Just(Res::Cluster),
        Just(Res::AnyNormal),
        Just(Res::AnyResource),
        pick(DBS).prop_map(Res::Db),
        (pick(DBS), pick(COLLS)).prop_map(|(d, c)| Res::Ns(d, c)),
    ]
}

fn normal(db: &str, coll: &str) -> bool {
    !(coll.starts_with("system.") || (db == "local" && coll.starts_with("replset.")))
}

fn special_db(db: &str) -> bool {
    db == "local" || db == "config"
}

fn naive_matches(p: &ResourcePattern, r: &Resource<'_>) -> bool {
    use ResourcePattern as P;
    match (p, *r) {
        (P::AnyResource, _) => true,
        (P::Cluster, Resource::Cluster) => true,
        (P::AnyNormal, Resource::AnyNormal) => true,
        (P::AnyNormal, Resource::Database(db)) => !special_db(db),
        (P::AnyNormal, Resource::Namespace { db, coll }) => !special_db(db) && normal(db, coll),
        (P::Database(d), Resource::Database(db)) => d == db,
        (P::Database(d), Resource::Namespace { db, coll }) => d == db && normal(db, coll),
        (P::CollectionInAnyDb(c), Resource::Namespace { coll, .. }) => c == coll,
        (P::Namespace { db: d, coll: c }, Resource::Namespace { db, coll }) => d == db && c == coll,
        (P::SystemBuckets { db: d, coll: c }, Resource::Namespace { db, coll }) => {
            match coll.strip_prefix("system.buckets.") {
                Some(b) => {
                    d.as_deref().is_none_or(|d| d == db) && c.as_deref().is_none_or(|c| c == b)
                }
                None => false,
            }
        }
        _ => false,
    }
}

fn naive_actions(list: &[Privilege], r: &Resource<'_>) -> ActionSet {
    let mut s = ActionSet::EMPTY;
    for p in list.iter().filter(|p| naive_matches(&p.resource, r)) {
        let a = if p.actions.contains(ANY_ACTION) {
            ActionSet::all()
        } else {
            p.actions
        };
        s = s.union(&a);
    }
    s
}

fn naive_any_in_db(list: &[Privilege], db: &str) -> bool {
    use ResourcePattern as P;
    list.iter()
        .filter(|p| !p.actions.is_empty())
        .any(|p| match &p.resource {
            P::AnyResource | P::CollectionInAnyDb(_) => true,
            P::Cluster => false,
            P::AnyNormal => !special_db(db),
            P::Database(d) | P::Namespace { db: d, .. } => d == db,
            P::SystemBuckets { db: d, .. } => d.as_deref().is_none_or(|d| d == db),
        })
}

fn privileges() -> impl Strategy<Value = Vec<Privilege>> {
    proptest::collection::vec(
        (pattern(), action_set()).prop_map(|(resource, actions)| Privilege { resource, actions }),
        0..8,
    )
}

proptest! {
    #[test]
    fn index_equals_naive_scan(list in privileges(), r in resource(), want in action_set()) {
        let u = UserPrivileges::from_privileges(list.clone(), Vec::new());
        let r = r.borrow();
        let naive = naive_actions(&list, &r);
        prop_assert_eq!(u.actions_on(&r), naive);
        let req = Requirement { resource: r, actions: want };
        prop_assert_eq!(u.has(&req), naive.contains_all(&want));
    }

    #[test]
    fn any_in_db_equals_naive_scan(list in privileges(), db in pick(DBS)) {
        let u = UserPrivileges::from_privileges(list.clone(), Vec::new());
        prop_assert_eq!(u.has_any_in_db(&db), naive_any_in_db(&list, &db));
    }

    #[test]
    fn merged_privileges_keep_every_grant(list in privileges()) {
        let u = UserPrivileges::from_privileges(list.clone(), Vec::new());
        let merged = u.privileges();
        for p in &list {
            let entry = merged.iter().find(|m| m.resource == p.resource);
            prop_assert!(entry.is_some_and(|m| m.actions.contains_all(&p.actions)));
        }
        prop_assert!(merged.len() <= list.len());
    }
}
