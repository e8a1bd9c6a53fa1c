//! [`RoleCatalog`]: validates custom roles once at configuration time and flattens their
//! inheritance, so resolving a user's roles is a concatenation of precomputed lists.

use std::collections::HashMap;

use super::{Merged, Problem, RoleError, UserPrivileges};
use crate::authz::actions;
use crate::authz::model::{ActionSet, Privilege, ResourcePattern};
use crate::authz::role_config::{PrivilegeConfig, RoleConfig, RoleRef};
use crate::authz::roles::{self, BuiltinRole, Target};

/// Built-in roles plus the validated, flattened custom roles.
#[derive(Clone, Debug, Default)]
pub struct RoleCatalog {
    /// Custom roles in configuration order, privileges with inherited roles folded in.
    custom: Vec<(String, Vec<Privilege>)>,
    /// Name -> position in `custom`.
    by_name: HashMap<String, usize>,
}

/// A role reference after name lookup.
enum Resolved<'a> {
    Builtin {
        role: &'static BuiltinRole,
        db: &'a str,
        coll: Option<&'a str>,
    },
    Custom(&'a str),
}

/// A custom role after its own fields are checked, before inheritance is folded in.
struct Def<'a> {
    own: Vec<Privilege>,
    builtins: Vec<Resolved<'a>>,
    customs: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Visiting,
    Done,
}

impl RoleCatalog {
    /// Validates `custom` (names, resources, actions, role references, cycles) and
    /// precomputes every custom role's flattened privileges.
    pub fn build(custom: &[RoleConfig]) -> Result<RoleCatalog, RoleError> {
        let names = check_names(custom)?;
        let mut defs = Vec::with_capacity(custom.len());
        for (index, rc) in custom.iter().enumerate() {
            defs.push(define(index, rc, &names)?);
        }
        let order = topological_order(custom, &defs)?;
        let mut flat: Vec<Vec<Privilege>> = vec![Vec::new(); custom.len()];
        for i in order {
            let Some(def) = defs.get(i) else {
                continue;
            };
            let mut merged = Merged::default();
            for p in &def.own {
                merged.add(p.resource.clone(), p.actions);
            }
            for b in &def.builtins {
                expand(b, &mut |p, a| merged.add(p, a));
            }
            for p in def.customs.iter().filter_map(|&j| flat.get(j)).flatten() {
                merged.add(p.resource.clone(), p.actions);
            }
            if let Some(slot) = flat.get_mut(i) {
                *slot = merged.list;
            }
        }
        let by_name = names.iter().map(|(n, &i)| (n.to_string(), i)).collect();
        let custom = custom.iter().map(|rc| rc.role.clone()).zip(flat).collect();
        Ok(RoleCatalog { custom, by_name })
    }

    /// A user's privileges from their role references (built-in `name@db[.coll]`, Atlas
    /// aliases, or custom role names).
    pub fn resolve(&self, refs: &[RoleRef]) -> Result<UserPrivileges, RoleError> {
        let mut list = Vec::new();
        let mut roles: Vec<(String, String)> = Vec::new();
        for (index, r) in refs.iter().enumerate() {
            let resolved = resolve_ref(r, |n| self.by_name.contains_key(n))
                .map_err(|problem| RoleError::InUser { index, problem })?;
            let name = match &resolved {
                Resolved::Builtin { role, db, coll } => {
                    let db = match coll {
                        Some(c) => format!("{db}.{c}"),
                        None => db.to_string(),
                    };
                    (role.name.to_string(), db)
                }
                Resolved::Custom(n) => {
                    list.extend(self.custom_privileges(n).into_iter().flatten().cloned());
                    (n.to_string(), "admin".to_string())
                }
            };
            expand(&resolved, &mut |resource, actions| {
                list.push(Privilege { resource, actions })
            });
            if !roles.contains(&name) {
                roles.push(name);
            }
        }
        Ok(UserPrivileges::from_privileges(list, roles))
    }

    /// Names of the custom roles in configuration order (for rolesInfo).
    pub fn custom_role_names(&self) -> impl Iterator<Item = &str> {
        self.custom.iter().map(|(n, _)| n.as_str())
    }

    /// A custom role's flattened privileges (for rolesInfo `showPrivileges`).
    pub fn custom_privileges(&self, name: &str) -> Option<&[Privilege]> {
        let (_, privileges) = self.by_name.get(name).and_then(|&i| self.custom.get(i))?;
        Some(privileges)
    }
}

/// Feeds the privileges of a built-in reference to `sink`; custom roles are handled by
/// the caller from the flattened table.
fn expand(r: &Resolved<'_>, sink: &mut dyn FnMut(ResourcePattern, ActionSet)) {
    let Resolved::Builtin { role, db, coll } = r else {
        return;
    };
    match coll {
        None => role.expand(db, sink),
        // Atlas-style narrowing: the role's database-wide grant applies to the one
        // collection instead; its system.js grant is dropped with the rest of the db.
        Some(c) => {
            for g in role.grants.iter().filter(|g| g.on == Target::RoleDb) {
                let resource = ResourcePattern::Namespace {
                    db: db.to_string(),
                    coll: c.to_string(),
                };
                sink(resource, g.actions);
            }
        }
    }
}

fn in_role(index: usize, rc: &RoleConfig, field: String, problem: Problem) -> RoleError {
    RoleError::InRole {
        role: rc.role.clone(),
        index,
        field,
        problem,
    }
}

/// Custom role names: well-formed, unique, not a built-in name (no shadowing).
fn check_names(custom: &[RoleConfig]) -> Result<HashMap<&str, usize>, RoleError> {
    let mut names = HashMap::new();
    for (index, rc) in custom.iter().enumerate() {
        let name = rc.role.as_str();
        let problem = if name.is_empty() {
            Some(Problem::BadName("empty".into()))
        } else if name.contains('@') || name.contains('\0') {
            // `@` separates role from database in references.
            Some(Problem::BadName(format!("{name:?} contains '@' or NUL")))
        } else if roles::lookup_or_alias(name).is_some() {
            Some(Problem::ShadowsBuiltin(name.to_string()))
        } else {
            names.get(name).map(|&first| Problem::Duplicate {
                name: name.to_string(),
                first,
            })
        };
        if let Some(problem) = problem {
            return Err(in_role(index, rc, "role".into(), problem));
        }
        names.insert(name, index);
    }
    Ok(names)
}

fn define<'a>(
    index: usize,
    rc: &'a RoleConfig,
    names: &HashMap<&str, usize>,
) -> Result<Def<'a>, RoleError> {
    let mut def = Def {
        own: Vec::with_capacity(rc.privileges.len()),
        builtins: Vec::new(),
        customs: Vec::new(),
    };
    for (j, pc) in rc.privileges.iter().enumerate() {
        def.own.push(privilege(pc).map_err(|(field, problem)| {
            in_role(index, rc, format!("privileges[{j}].{field}"), problem)
        })?);
    }
    for (k, r) in rc.roles.iter().enumerate() {
        let resolved = resolve_ref(r, |n| names.contains_key(n))
            .map_err(|problem| in_role(index, rc, format!("roles[{k}]"), problem))?;
        match resolved {
            Resolved::Custom(n) => def.customs.extend(names.get(n).copied()),
            builtin => def.builtins.push(builtin),
        }
    }
    Ok(def)
}

/// One `{resource, actions}` entry; the error names the failing sub-field.
fn privilege(pc: &PrivilegeConfig) -> Result<Privilege, (String, Problem)> {
    let resource = pc
        .resource
        .to_pattern()
        .map_err(|why| ("resource".to_string(), Problem::BadResource(why)))?;
    if pc.actions.is_empty() {
        return Err(("actions".into(), Problem::NoActions));
    }
    let mut actions = ActionSet::EMPTY;
    for (k, name) in pc.actions.iter().enumerate() {
        let a = actions::from_name(name).ok_or_else(|| {
            (
                format!("actions[{k}]"),
                Problem::UnknownAction(name.clone()),
            )
        })?;
        actions.insert(a);
    }
    Ok(Privilege { resource, actions })
}

/// Finds the role a reference names and checks where it may be granted.
fn resolve_ref(r: &RoleRef, is_custom: impl Fn(&str) -> bool) -> Result<Resolved<'_>, Problem> {
    let p = r.parse()?;
    if is_custom(p.role) {
        if let Some(db) = p.db.filter(|db| *db != "admin") {
            return Err(Problem::CustomRoleDb {
                role: p.role.into(),
                db: db.into(),
            });
        }
        if p.collection.is_some() {
            return Err(Problem::CustomRoleCollection(p.role.into()));
        }
        return Ok(Resolved::Custom(p.role));
    }
    let role = roles::lookup_or_alias(p.role).ok_or(Problem::UnknownRole(p.role.into()))?;
    let db = match (p.db, role.grantable) {
        (Some(db), _) => db,
        // An admin-only role can only mean admin, so the database may be left out.
        (None, roles::Grantable::AdminOnly) => "admin",
        (None, roles::Grantable::AnyDatabase) => return Err(Problem::MissingDb(role.name.into())),
    };
    if !role.grantable_on(db) {
        return Err(Problem::AdminOnly {
            role: role.name.into(),
            db: db.into(),
        });
    }
    if let Some(coll) = p.collection {
        if !role.narrowable() {
            return Err(Problem::NotNarrowable(role.name.into()));
        }
        // Narrowing is a convenience for data collections; reaching a system
        // collection through it would bypass the system-collection rule.
        if !super::index::is_normal_collection(db, coll) {
            return Err(Problem::SystemCollection(coll.into()));
        }
    }
    Ok(Resolved::Builtin {
        role,
        db,
        coll: p.collection,
    })
}

/// Post-order of the custom-role inheritance graph (parents before children), or the
/// first cycle found as a path of names.
fn topological_order(custom: &[RoleConfig], defs: &[Def<'_>]) -> Result<Vec<usize>, RoleError> {
    let mut marks = vec![Mark::New; defs.len()];
    let mut order = Vec::with_capacity(defs.len());
    for start in 0..defs.len() {
        let mut path = Vec::new();
        visit(start, defs, &mut marks, &mut path, &mut order).map_err(|cycle| {
            let path = cycle
                .iter()
                .filter_map(|&i| custom.get(i).map(|rc| rc.role.clone()))
                .collect();
            RoleError::Cycle { path }
        })?;
    }
    Ok(order)
}

fn visit(
    i: usize,
    defs: &[Def<'_>],
    marks: &mut [Mark],
    path: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), Vec<usize>> {
    match marks.get(i) {
        Some(Mark::New) => {}
        Some(Mark::Visiting) => {
            let from = path.iter().position(|&p| p == i).unwrap_or(0);
            let mut cycle: Vec<usize> = path.get(from..).unwrap_or_default().to_vec();
            cycle.push(i);
            return Err(cycle);
        }
        _ => return Ok(()),
    }
    if let Some(m) = marks.get_mut(i) {
        *m = Mark::Visiting;
    }
    path.push(i);
    for &j in defs
        .get(i)
        .map(|d| d.customs.as_slice())
        .unwrap_or_default()
    {
        visit(j, defs, marks, path, order)?;
    }
    path.pop();
    if let Some(m) = marks.get_mut(i) {
        *m = Mark::Done;
    }
    order.push(i);
    Ok(())
}
