//! Role resolution: custom roles + built-in roles -> a user's flattened privileges, and
//! the matching rules that answer "which actions does the user hold on this resource".
//!
//! Matching follows `shared/authz/builtin_roles.json` `_meta.matching_rules` and
//! `commands.json` `general_rules` (privilege_union, system_collections): a requirement is
//! met by the union of actions on every pattern in the resource's search list, across all
//! roles. The search is done on a precomputed [`index::PatternIndex`] so a check costs a
//! handful of hash lookups and no allocation, whatever the number of roles.

mod catalog;
mod index;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use super::model::{ActionSet, Privilege, Requirement, Resource, ResourcePattern};

pub use catalog::RoleCatalog;

/// What is wrong with one role, privilege or reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    #[error("no actions listed")]
    NoActions,
    #[error("bad resource: {0}")]
    BadResource(String),
    #[error("bad role reference: {0}")]
    BadRef(String),
    #[error("built-in role {role:?} can only be granted on the admin database, not on {db:?}")]
    AdminOnly { role: String, db: String },
    #[error("built-in role {0:?} needs a database: write {0}@<db>")]
    MissingDb(String),
    #[error("only read and readWrite can be narrowed to a collection, not {0:?}")]
    NotNarrowable(String),
    #[error("a collection-scoped role cannot name the system collection {0:?}")]
    SystemCollection(String),
    #[error("custom role {role:?} lives in admin, not in {db:?}")]
    CustomRoleDb { role: String, db: String },
    #[error("custom role {0:?} cannot be narrowed to a collection")]
    CustomRoleCollection(String),
    #[error("{0:?} is a built-in role name")]
    ShadowsBuiltin(String),
    #[error("role {name:?} is already defined by roles[{first}]")]
    Duplicate { name: String, first: usize },
    #[error("invalid role name: {0}")]
    BadName(String),
}

/// A configuration error, located precisely enough to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// In custom role `roles[index]` (named `role`), at `field`
    /// (e.g. `privileges[1].actions[0]`, `roles[2]`, `role`).
    #[error("roles[{index}].{field} ({role:?}): {problem}")]
    InRole {
        role: String,
        index: usize,
        field: String,
        problem: Problem,
    },
    /// Custom roles inheriting from each other in a loop; `path` starts and ends with the
    /// same role.
    #[error("role inheritance cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
    /// In a user's role list, entry `index`.
    #[error("roles[{index}]: {problem}")]
    InUser { index: usize, problem: Problem },
}

/// A user's privileges: the union over all direct and inherited roles.
#[derive(Clone, Debug, Default)]
pub struct UserPrivileges {
    index: index::PatternIndex,
    privileges: Vec<Privilege>,
    roles: Vec<(String, String)>,
}

impl UserPrivileges {
    /// Builds the lookup structure from a flat privilege list (also useful to simulate
    /// a policy without a catalog). `roles` is what [`Self::role_names`] reports.
    pub fn from_privileges(list: Vec<Privilege>, roles: Vec<(String, String)>) -> UserPrivileges {
        let mut merged = Merged::default();
        for p in list {
            merged.add(p.resource, p.actions);
        }
        let privileges = merged.list;
        let mut index = index::PatternIndex::default();
        for p in &privileges {
            index.add(&p.resource, p.actions);
        }
        UserPrivileges {
            index,
            privileges,
            roles,
        }
    }

    /// Union of actions held on the search list of `r` (`_meta.matching_rules`):
    /// anyResource; anyNormal unless db is local/config or the collection is a system
    /// collection; the database; collection-name pattern `*.c`; exact ns; the
    /// system_buckets patterns for `system.buckets.*`.
    pub fn actions_on(&self, r: &Resource<'_>) -> ActionSet {
        self.index.actions_on(r)
    }

    /// Whether the user holds every action of `req` on its resource.
    pub fn has(&self, req: &Requirement<'_>) -> bool {
        self.index
            .actions_on(&req.resource)
            .contains_all(&req.actions)
    }

    /// "Any privilege in this db", used to filter listDatabases/listCollections
    /// (commands.json listCollections notes). Cluster-only privileges never count.
    pub fn has_any_in_db(&self, db: &str) -> bool {
        self.index.has_any_in_db(db)
    }

    /// The merged privilege list (one entry per pattern, actions as granted, `anyAction`
    /// not expanded), for connectionStatus/usersInfo `showPrivileges`.
    pub fn privileges(&self) -> Vec<Privilege> {
        self.privileges.clone()
    }

    /// `(role, db)` of the direct roles, for connectionStatus. A collection-scoped role
    /// reports `db.collection` as its db; custom roles report `admin`.
    pub fn role_names(&self) -> Vec<(String, String)> {
        self.roles.clone()
    }
}

/// Privileges merged by pattern, keeping first-seen order so output is deterministic.
#[derive(Default)]
struct Merged {
    list: Vec<Privilege>,
    pos: HashMap<ResourcePattern, usize>,
}

impl Merged {
    fn add(&mut self, resource: ResourcePattern, actions: ActionSet) {
        if let Some(p) = self.pos.get(&resource).and_then(|&i| self.list.get_mut(i)) {
            p.actions = p.actions.union(&actions);
            return;
        }
        self.pos.insert(resource.clone(), self.list.len());
        self.list.push(Privilege { resource, actions });
    }
}
