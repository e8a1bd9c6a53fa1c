//! `hash-password` and `import-users`: producing `[[users]]` TOML without ever storing
//! a password.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};

use rand::RngCore;
use serde_json::Value;

use crate::authz::roles;
use crate::gates::credentials::{credentials_toml, Mechanism, ScramCredential};

/// Derives credentials for `user` from `password` with fresh random salts.
pub fn hash_password(
    user: &str,
    password: &str,
    mechanisms: &[Mechanism],
    iterations: Option<u32>,
) -> Result<String, String> {
    let mut creds = Vec::new();
    for m in mechanisms {
        let mut salt = vec![0u8; m.salt_len()];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let iters = iterations.unwrap_or_else(|| m.default_iterations());
        creds.push(
            ScramCredential::derive(*m, user, password, &salt, iters).map_err(|e| e.to_string())?,
        );
    }
    Ok(format!(
        "# credentials for {user:?}: paste under its [[users]] entry\n{}",
        credentials_toml(&creds)
    ))
}

/// Reads one line from stdin; on a terminal, echo is turned off while typing.
pub fn read_password() -> Result<String, String> {
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if tty {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(password)
}

/// What `import-users` produced: the TOML, and what it skipped or dropped.
#[derive(Debug, Default)]
pub struct Imported {
    pub toml: String,
    /// One line each, naming the line (or array document) from 1.
    pub warnings: Vec<String>,
}

/// Turns exported `system.users` documents (a JSON array, or one document per line as
/// mongoexport writes them) into `[[users]]` TOML. Credentials are copied as mongod
/// stores them, so passwords keep working. Users mongoward cannot serve (`$external`:
/// X.509, LDAP, Kerberos, AWS) are skipped with a warning instead of failing the import.
pub fn import_users(json: &str) -> Result<Imported, String> {
    import_users_with_roles(json, None)
}

/// [`import_users`], plus the custom roles of a `mongoexport -d admin -c system.roles`
/// export as `[[roles]]` (users then refer to them by name, without a warning).
pub fn import_users_with_roles(json: &str, roles_json: Option<&str>) -> Result<Imported, String> {
    let docs = json_documents(json)?;
    let mut out = Imported::default();
    let mut defined = Vec::new();
    if let Some(text) = roles_json {
        let (toml, names, warnings) =
            roles_import::roles_toml(&json_documents(text)?).map_err(|e| format!("roles: {e}"))?;
        out.toml.push_str(&toml);
        out.toml.push('\n');
        out.warnings
            .extend(warnings.into_iter().map(|w| format!("roles: {w}")));
        defined = names;
    }
    for (at, d) in &docs {
        if d["db"].as_str() == Some("$external") {
            let user = d["user"].as_str().unwrap_or("?");
            out.warnings.push(format!(
                "{at}: skipped {user}@$external: external users (X.509, LDAP, Kerberos, AWS) cannot authenticate through mongoward, which accepts SCRAM only"
            ));
            continue;
        }
        let mut notes = Vec::new();
        let toml = user_toml(d, &defined, &mut notes).map_err(|e| format!("{at}: {e}"))?;
        out.warnings
            .extend(notes.into_iter().map(|n| format!("{at}: {n}")));
        out.toml.push_str(&toml);
        out.toml.push('\n');
    }
    Ok(out)
}

/// The documents of an export, each with where it is: `line N` (JSON lines, from 1) or
/// `document N` (a JSON array, from 1).
fn json_documents(json: &str) -> Result<Vec<(String, Value)>, String> {
    Ok(match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, d)| (format!("document {}", i + 1), d))
            .collect(),
        Ok(v) => vec![("line 1".to_string(), v)],
        Err(_) => json
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let at = format!("line {}", i + 1);
                serde_json::from_str(l)
                    .map(|d| (at.clone(), d))
                    .map_err(|e| format!("{at}: {e}"))
            })
            .collect::<Result<_, _>>()?,
    })
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn user_toml(d: &Value, defined: &[String], notes: &mut Vec<String>) -> Result<String, String> {
    let user = d["user"].as_str().ok_or("missing \"user\"")?;
    let db = d["db"].as_str().ok_or("missing \"db\"")?;
    let mut out = format!(
        "[[users]]\nuser = {}\ndb = {}\n",
        toml_str(user),
        toml_str(db)
    );
    let roles: Vec<String> = d["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| role_ref(r, user, db, defined, notes))
                .map(|r| toml_str(&r))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(out, "roles = [{}]", roles.join(", "));
    let restrictions = d["authenticationRestrictions"].as_array();
    if restrictions
        .into_iter()
        .flatten()
        .any(|r| r.get("serverAddress").is_some())
    {
        notes.push(format!(
            "{user}@{db}: authenticationRestrictions.serverAddress dropped (mongoward has no per-user server address rule; use the clusters' listeners and user scopes)"
        ));
    }
    let sources: Vec<String> = restrictions
        .into_iter()
        .flatten()
        .flat_map(|r| r["clientSource"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().map(toml_str))
        .collect();
    if !sources.is_empty() {
        let _ = writeln!(out, "client_source = [{}]", sources.join(", "));
    }
    let creds = d["credentials"]
        .as_object()
        .ok_or("missing \"credentials\"")?;
    let mut found = false;
    for (name, c) in creds {
        if Mechanism::from_name(name).is_none() {
            continue; // e.g. MONGODB-X509; it cannot authenticate through SCRAM
        }
        found = true;
        let _ = writeln!(out, "[users.credentials.{}]", toml_str(name));
        let iterations = c["iterationCount"]
            .as_u64()
            .ok_or("iterationCount missing")?;
        let _ = writeln!(out, "iterationCount = {iterations}");
        for key in ["salt", "storedKey", "serverKey"] {
            let v = c[key]
                .as_str()
                .ok_or_else(|| format!("credentials.{name}.{key} missing"))?;
            let _ = writeln!(out, "{key} = {}", toml_str(v));
        }
    }
    if !found {
        return Err(format!("user {user}@{db} has no SCRAM credentials"));
    }
    Ok(out)
}

/// `{role, db}` -> "role@db" for built-in roles. A custom role becomes its bare name,
/// which mongoward resolves against `[[roles]]` (custom roles live once, as in Atlas);
/// the note says what to add, since system.users does not carry the definition.
fn role_ref(
    r: &Value,
    user: &str,
    user_db: &str,
    defined: &[String],
    notes: &mut Vec<String>,
) -> Option<String> {
    let role = r["role"].as_str()?;
    let db = r["db"].as_str()?;
    if roles::lookup(role).is_some() {
        return Some(format!("{role}@{db}"));
    }
    if defined.iter().any(|d| d == role) {
        return Some(role.to_string());
    }
    notes.push(format!(
        "{user}@{user_db}: custom role {role}@{db} imported as {role:?}: add a [[roles]] entry named {role:?} with its privileges (`import-users --roles` reads `mongoexport -d admin -c system.roles` output; or see `db.getRole({role:?}, {{showPrivileges: true}})` on {db})"
    ));
    Some(role.to_string())
}

mod roles_import;
#[cfg(test)]
mod tests;
