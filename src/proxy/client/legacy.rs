//! Legacy OP_QUERY commands, read as mongod 6/7 reads them.
//!
//! Old drivers (the Java driver 3.x and 4.0-4.2, pymongo 3, the Node driver 3.x) send their
//! handshake on OP_QUERY before they know the server speaks OP_MSG. mongod still accepts a
//! short list of commands there (`checkAllowedOpQueryCommand`); the proxy accepts exactly
//! that list, upconverts each to the body its OP_MSG form would have (the command plus
//! `$db` from `<db>.$cmd`, as mongod's `upconvertRequest`), and routes that body through the
//! same gates and handlers as OP_MSG. Nothing read from OP_QUERY is ever forwarded.
//!
//! Pure: no I/O. The session counts and logs refusals (`route::legacy_query`).

use bson::{rawdoc, RawDocument, RawDocumentBuf};

use crate::error_code::ErrorCode;
use crate::proxy::client::replies::ErrorReply;

/// mongod's list (`check_allowed_op_query_cmd.cpp`): the handshake, and the commands
/// "still used by some old drivers".
pub const ALLOWED: [&str; 9] = [
    "hello",
    "isMaster",
    "ismaster",
    "_isSelf",
    "authenticate",
    "buildinfo",
    "buildInfo",
    "saslContinue",
    "saslStart",
];

const UPGRADE_HINT: &str = "The client driver may require an upgrade. \
    For more details see https://dochub.mongodb.org/core/legacy-opcode-removal";

/// Why an OP_QUERY is refused before any gate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyRefusal {
    /// Not on `<db>.$cmd`: a legacy query, which mongod 5.1+ no longer serves.
    NotACommand,
    /// A command outside mongod's list (code 352).
    Unsupported(String),
    /// `$db` inside an OP_QUERY command (mongod's uassert 40621).
    DbField,
}

impl LegacyRefusal {
    /// The reply document, as mongod words it. A legacy query failure is the `$err`
    /// shape (OP_REPLY with the QueryFailure flag, see `replies::encode`).
    pub fn to_doc(&self) -> RawDocumentBuf {
        match self {
            LegacyRefusal::NotACommand => rawdoc! {
                "$err": format!("OP_QUERY is no longer supported. {UPGRADE_HINT}"),
                "code": ErrorCode::OpQueryNotSupported.code(),
                "ok": 0.0,
            },
            LegacyRefusal::Unsupported(name) => unsupported(name).to_doc(),
            LegacyRefusal::DbField => ErrorReply::new(
                ErrorCode::Location40621,
                "$db is not allowed in OP_QUERY requests",
            )
            .to_doc(),
        }
    }

    /// For the log line: what was refused (a command name, never document contents).
    pub fn what(&self) -> &str {
        match self {
            LegacyRefusal::NotACommand => "legacy query",
            LegacyRefusal::Unsupported(name) => name,
            LegacyRefusal::DbField => "$db in OP_QUERY",
        }
    }
}

/// mongod's refusal of a command outside the list.
pub fn unsupported(name: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorCode::UnsupportedOpQueryCommand,
        format!("Unsupported OP_QUERY command: {name}. {UPGRADE_HINT}"),
    )
}

/// The database of a command namespace `<db>.$cmd` (mongod splits at the first dot).
fn command_db(full_collection_name: &str) -> Option<&str> {
    match full_collection_name.split_once('.') {
        Some((db, "$cmd")) if !db.is_empty() => Some(db),
        _ => None,
    }
}

/// Checks an OP_QUERY the way mongod does and returns the body its OP_MSG form would
/// have: `command` (the query, or its `$query` when wrapped) with `$db` appended.
/// `query` is the document as sent, checked for `$db` like `command`.
pub fn upconvert(
    full_collection_name: &str,
    query: &RawDocument,
    command: &RawDocument,
    name: &str,
) -> Result<RawDocumentBuf, LegacyRefusal> {
    let db = command_db(full_collection_name).ok_or(LegacyRefusal::NotACommand)?;
    let has_db = |d: &RawDocument| !matches!(d.get("$db"), Ok(None));
    if has_db(query) || has_db(command) {
        return Err(LegacyRefusal::DbField);
    }
    if !ALLOWED.contains(&name) {
        return Err(LegacyRefusal::Unsupported(name.to_string()));
    }
    let mut body = command.to_raw_document_buf();
    body.append("$db", db);
    Ok(body)
}

/// Refusal log lines allowed per interval; the rest are only counted. An old driver
/// retries its handshake in a loop, and one line per attempt would drown the log.
pub const LOG_BURST: u64 = 5;
pub const LOG_INTERVAL_SECS: i64 = 60;

#[cfg(test)]
mod tests;
