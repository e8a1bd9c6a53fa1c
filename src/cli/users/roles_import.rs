//! `import-users --roles`: custom roles from `mongoexport -d admin -c system.roles` as
//! `[[roles]]`. mongod's privilege documents are mongoward's shape already; only the
//! references to other roles change notation (`role@db` for built-in roles, the bare
//! name for custom ones, which mongoward keeps once, as Atlas does).

use serde::Serialize;
use serde_json::Value;

use crate::authz::role_config::{PrivilegeConfig, RoleConfig, RoleRef};
use crate::authz::roles;

#[derive(Serialize)]
struct RolesFile<'a> {
    roles: &'a [RoleConfig],
}

/// The TOML, the names defined, and warnings (same-named roles from several databases).
pub(super) fn roles_toml(
    docs: &[(String, Value)],
) -> Result<(String, Vec<String>, Vec<String>), String> {
    let mut defined: Vec<RoleConfig> = Vec::new();
    let mut warnings = Vec::new();
    for (at, d) in docs {
        let role = role_config(d).map_err(|e| format!("{at}: {e}"))?;
        if defined.iter().any(|r| r.role == role.role) {
            let db = d["db"].as_str().unwrap_or("?");
            warnings.push(format!(
                "{at}: {}@{db} skipped: a role of that name is already imported (mongoward role names are global; rename one)",
                role.role
            ));
            continue;
        }
        defined.push(role);
    }
    let toml = toml::to_string(&RolesFile { roles: &defined })
        .map_err(|e| format!("cannot write TOML: {e}"))?;
    let names = defined.into_iter().map(|r| r.role).collect();
    Ok((toml, names, warnings))
}

fn role_config(d: &Value) -> Result<RoleConfig, String> {
    let role = d["role"].as_str().ok_or("missing \"role\"")?.to_string();
    let privileges: Vec<PrivilegeConfig> =
        serde_json::from_value(d.get("privileges").cloned().unwrap_or(Value::Array(vec![])))
            .map_err(|e| format!("{role}: privileges: {e}"))?;
    let inherited = d["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let name = r["role"].as_str().ok_or("roles: missing \"role\"")?;
            let db = r["db"].as_str().ok_or("roles: missing \"db\"")?;
            Ok(match roles::lookup(name) {
                Some(_) => RoleRef::Name(format!("{name}@{db}")),
                None => RoleRef::Name(name.to_string()),
            })
        })
        .collect::<Result<Vec<_>, &str>>()
        .map_err(|e| format!("{role}: {e}"))?;
    Ok(RoleConfig {
        role,
        privileges,
        roles: inherited,
    })
}
