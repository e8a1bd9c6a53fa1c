//! Command classifier of the authorization gate: turns one checked OP_MSG body into the
//! privileges mongod would demand for it ([`Formula`]) and into what the proxy itself
//! must do with it ([`Kind`]).
//!
//! The rules are a translation of `shared/authz/commands.json` (commands, aggregation
//! stages, general rules); every rule cites its entry. The classifier is pure: it reads
//! only the command bytes, never allocates per inserted document, and fails closed
//! (unknown commands, unknown stages and malformed privilege-deciding fields are errors,
//! never guesses).

use std::borrow::Cow;

use bson::{RawBsonRef, RawDocument};

use super::model::Formula;

mod admin;
mod commands;
mod ctx;
mod error;
mod pipeline;
mod scan;
mod stages;
mod table;
mod users;
mod writes;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_admin;
#[cfg(test)]
mod tests_flags;
#[cfg(test)]
mod tests_pipeline;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_rows;
#[cfg(test)]
mod tests_stages;
#[cfg(test)]
mod tests_table;

pub use error::ClassifyError;

use ctx::{Ctx, Out};

/// Access to the kind-1 document sequences of a message, so the classifier never
/// depends on the wire module.
pub trait Sequences<'a> {
    type Iter: Iterator<Item = &'a RawDocument>;
    /// Documents of the kind-1 section with this identifier, if the message has one.
    fn documents(&self, identifier: &str) -> Option<Self::Iter>;
    /// The first kind-1 identifier not in `allowed`, if any.
    fn unexpected(&self, allowed: &[&str]) -> Option<String> {
        let _ = allowed;
        None
    }
}

/// The fields mongod accepts as kind-1 document sequences, per command (the IDL fields
/// marked `supports_doc_sequence`); every other command takes none.
fn sequence_fields(name: &str) -> &'static [&'static str] {
    match name {
        "insert" => &["documents"],
        "update" => &["updates"],
        "delete" => &["deletes"],
        "bulkWrite" => &["ops", "nsInfo"],
        _ => &[],
    }
}

/// A sequence that is not a field of the command is refused the way mongod's parser
/// refuses it (it would otherwise be forwarded unclassified).
fn check_sequences<'a, S: Sequences<'a>>(name: &str, seqs: &S) -> Result<(), ClassifyError> {
    let allowed = sequence_fields(name);
    match seqs.unexpected(allowed) {
        None => Ok(()),
        Some(_) if allowed.is_empty() => Err(ClassifyError::NoDocumentSequences(name.into())),
        Some(id) => Err(ClassifyError::UnknownField(format!("{name}.{id}"))),
    }
}

/// For messages without kind-1 sections (and for tests).
pub struct NoSequences;

impl<'a> Sequences<'a> for NoSequences {
    type Iter = std::iter::Empty<&'a RawDocument>;
    fn documents(&self, _identifier: &str) -> Option<Self::Iter> {
        None
    }
}

/// The result of classifying one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified<'a> {
    /// First key, as sent.
    pub name: &'a str,
    /// `$db`.
    pub db: &'a str,
    /// False for the handshake and authentication commands (commands.json
    /// general_rules no_auth_commands); the formula is then irrelevant.
    pub requires_auth: bool,
    /// Privileges needed.
    pub formula: Formula<'a>,
    /// Namespace for messages: "db.coll" or "db" (never document contents).
    pub target: Cow<'a, str>,
    /// What the proxy itself must do with it.
    pub kind: Kind<'a>,
}

/// What the proxy must do with a command once it is authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Send upstream when authorized.
    Forward,
    /// hello / isMaster / ismaster: the proxy answers.
    Handshake,
    Ping,
    BuildInfo,
    ConnectionStatus,
    WhatsMyUri,
    /// The authentication gate answers these.
    SaslStart,
    SaslContinue,
    Authenticate,
    Logout,
    /// Ownership is checked by the session (cursor ids it saw).
    GetMore {
        cursor_id: i64,
        coll: &'a str,
    },
    KillCursors {
        coll: &'a str,
        cursor_ids: Vec<i64>,
    },
    /// Filter the reply to databases the user may see unless `filter` is false.
    ListDatabases {
        filter: bool,
    },
    /// authorizedCollections + nameOnly form: filter the reply.
    ListCollections {
        filter: bool,
    },
    /// Answered from the proxy's own configuration.
    UsersInfo,
    RolesInfo,
    /// Refused: users and roles live in mongoward's configuration.
    UserManagement,
    /// The session decides (all clients share one upstream identity).
    EndSessions,
    KillSessions,
    /// commitTransaction / abortTransaction.
    Transaction,
}

/// Classifies one command body. `seqs` gives the kind-1 sections of the same message.
pub fn classify<'a, S: Sequences<'a>>(
    body: &'a RawDocument,
    seqs: &S,
) -> Result<Classified<'a>, ClassifyError> {
    let (name, first) = ctx::first_element(body)?;
    let generic = ctx::scan_generic(body)?;
    let db = ctx::dollar_db(generic.db_str)?;
    let out = classify_in(body, name, first, db, generic, seqs, false)?;
    check_sequences(name, seqs)?;
    Ok(Classified {
        name,
        db,
        requires_auth: out.requires_auth,
        formula: out.formula,
        target: out.target,
        kind: out.kind,
    })
}

/// Shared by [`classify`] and `explain` (which classifies its wrapped command with the
/// explain command's `$db`). `generic` is the one-pass scan of `body`.
fn classify_in<'a, S: Sequences<'a>>(
    body: &'a RawDocument,
    name: &'a str,
    first: RawBsonRef<'a>,
    db: &'a str,
    generic: ctx::Generic<'a>,
    seqs: &S,
    explained: bool,
) -> Result<Out<'a>, ClassifyError> {
    let spec = commands::lookup(name).ok_or_else(|| ClassifyError::UnknownCommand(name.into()))?;
    // general_rules admin_only: precedes every other check, for every user.
    if spec.admin_only && db != "admin" {
        return Err(ClassifyError::AdminOnly(name.into()));
    }
    ctx::check_db(db)?;
    let cx = Ctx {
        body,
        db,
        name,
        first,
        bypass: generic.bypass,
        term: generic.term,
    };
    let mut out = if explained {
        commands::run_explained(&cx, &spec, seqs)?
    } else {
        commands::run(&cx, &spec, seqs)?
    };
    out.requires_auth = spec.requires_auth;
    if spec.requires_auth {
        out.formula = ctx::with_generic(out.formula, &generic);
    }
    Ok(out)
}

/// Fuzzing entry (`fuzz/fuzz_targets/classify.rs`): arbitrary bytes as a command body,
/// classified and decided for a user with a narrow role. Must never panic.
pub fn fuzz_logic(data: &[u8]) {
    use super::model::{ActionSet, Privilege, ResourcePattern};
    use super::privileges::UserPrivileges;
    static PRIVS: std::sync::LazyLock<UserPrivileges> = std::sync::LazyLock::new(|| {
        let p = Privilege {
            resource: ResourcePattern::Database("shop".into()),
            actions: ActionSet::of(&[super::actions::FIND, super::actions::INSERT]),
        };
        UserPrivileges::from_privileges(vec![p], Vec::new())
    });
    let Ok(body) = RawDocument::from_bytes(data) else {
        return;
    };
    let _ = classify(body, &NoSequences);
    let caller = super::decide::Caller {
        user: "fuzz",
        db: "admin",
        privileges: &PRIVS,
    };
    let _ = super::decide::decide(Some(caller), body, &NoSequences);
}
