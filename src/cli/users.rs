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

/// Turns exported `system.users` documents (a JSON array, or one document per line as
/// mongoexport writes them) into `[[users]]` TOML. Credentials are copied as mongod
/// stores them, so passwords keep working.
pub fn import_users(json: &str) -> Result<String, String> {
    let docs: Vec<Value> = match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(_) => json
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect::<Result<_, _>>()?,
    };
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        out.push_str(&user_toml(d).map_err(|e| format!("document {i}: {e}"))?);
        out.push('\n');
    }
    Ok(out)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn user_toml(d: &Value) -> Result<String, String> {
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
                .filter_map(role_ref)
                .map(|r| toml_str(&r))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(out, "roles = [{}]", roles.join(", "));
    let sources: Vec<String> = d["authenticationRestrictions"]
        .as_array()
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
            continue; // e.g. external users; they cannot authenticate through SCRAM
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

/// `{role, db}` -> "role@db"; custom roles (which mongoward keeps on admin) by name.
fn role_ref(r: &Value) -> Option<String> {
    let role = r["role"].as_str()?;
    let db = r["db"].as_str()?;
    if roles::lookup(role).is_none() && db == "admin" {
        Some(role.to_string())
    } else {
        Some(format!("{role}@{db}"))
    }
}

#[cfg(test)]
mod tests;
