//! The vocabulary of the authorization gate: actions, resources, privileges and the
//! privilege formula a classified command must satisfy.
//!
//! Two resource types exist on purpose. [`ResourcePattern`] is what a role *grants*
//! (owned strings, may be a wildcard). [`Resource`] is what a command *needs*: always
//! concrete, borrowing its names from the command bytes so classifying a `find` does not
//! allocate for the namespace.

use std::fmt;

use super::actions;

/// One privilege action, an index into [`actions::NAMES`]. Only the `authz` tables
/// construct one, so the index is always below [`actions::COUNT`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Action(pub(super) u8);

impl Action {
    /// The action at `index` of [`actions::NAMES`], if there is one.
    pub fn from_index(index: usize) -> Option<Action> {
        (index < actions::COUNT)
            .then(|| u8::try_from(index).ok().map(Action))
            .flatten()
    }

    /// The index into [`actions::NAMES`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The mongod spelling of the action.
    pub fn name(self) -> &'static str {
        actions::NAMES
            .get(self.index())
            .copied()
            .unwrap_or("unknown")
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of actions as a fixed bitset: union and subset tests are a few word operations,
/// which keeps authorization independent of how many roles a user has.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ActionSet([u64; 3]);

const _: () = assert!(actions::COUNT <= 192, "ActionSet holds 192 actions");

impl ActionSet {
    /// The empty set.
    pub const EMPTY: ActionSet = ActionSet([0; 3]);

    /// A set holding exactly `actions`.
    pub const fn of(list: &[Action]) -> ActionSet {
        let mut words = [0u64; 3];
        let mut i = 0;
        while i < list.len() {
            let a = list[i].0 as usize;
            words[a / 64] |= 1 << (a % 64);
            i += 1;
        }
        ActionSet(words)
    }

    /// Every known action (what `anyAction` grants).
    pub fn all() -> ActionSet {
        let mut s = ActionSet::EMPTY;
        for i in 0..actions::COUNT {
            s.insert(Action(i as u8));
        }
        s
    }

    pub fn insert(&mut self, a: Action) {
        self.0[a.0 as usize / 64] |= 1 << (a.0 % 64);
    }

    pub fn contains(&self, a: Action) -> bool {
        self.0[a.0 as usize / 64] & (1 << (a.0 % 64)) != 0
    }

    /// True when every action of `other` is in `self`.
    pub fn contains_all(&self, other: &ActionSet) -> bool {
        (0..3).all(|i| self.0[i] & other.0[i] == other.0[i])
    }

    pub fn union(&self, other: &ActionSet) -> ActionSet {
        ActionSet([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
        ])
    }

    /// Actions of `self` that are not in `other`.
    pub fn minus(&self, other: &ActionSet) -> ActionSet {
        ActionSet([
            self.0[0] & !other.0[0],
            self.0[1] & !other.0[1],
            self.0[2] & !other.0[2],
        ])
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 3]
    }

    pub fn iter(&self) -> impl Iterator<Item = Action> + '_ {
        (0..actions::COUNT as u8)
            .map(Action)
            .filter(|a| self.contains(*a))
    }
}

impl fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What a role grants on: every resource shape mongod accepts in a privilege document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourcePattern {
    /// `{anyResource: true}`: everything, system collections, `local` and `config` included.
    AnyResource,
    /// `{cluster: true}`.
    Cluster,
    /// `{db: "", collection: ""}`: every normal resource outside `local` and `config`.
    AnyNormal,
    /// `{db: "X", collection: ""}`: database X and its normal collections.
    Database(String),
    /// `{db: "", collection: "Y"}`: a collection named Y in every database.
    CollectionInAnyDb(String),
    /// `{db: "X", collection: "Y"}`: exactly X.Y.
    Namespace { db: String, coll: String },
    /// `{db: X|"", system_buckets: Y|""}`: time-series bucket collections; `None` = wildcard.
    SystemBuckets {
        db: Option<String>,
        coll: Option<String>,
    },
}

/// A concrete resource a command needs. Names borrow from the command document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource<'a> {
    Cluster,
    /// A database resource (`{db: X, collection: ""}` as a requirement).
    Database(&'a str),
    /// A namespace `db.coll`.
    Namespace {
        db: &'a str,
        coll: &'a str,
    },
    /// Requirements that mongod states on `{db:"", collection:""}` itself.
    AnyNormal,
    /// Requirements that mongod states on `{anyResource: true}` itself.
    AnyResource,
}

impl fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Cluster => f.write_str("cluster"),
            Resource::Database(db) => f.write_str(db),
            Resource::Namespace { db, coll } => write!(f, "{db}.{coll}"),
            Resource::AnyNormal => f.write_str("any normal resource"),
            Resource::AnyResource => f.write_str("any resource"),
        }
    }
}

/// A granted privilege: actions on a resource pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Privilege {
    pub resource: ResourcePattern,
    pub actions: ActionSet,
}

/// One required (resource, actions) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement<'a> {
    pub resource: Resource<'a>,
    pub actions: ActionSet,
}

/// What a command needs, as a formula over requirements. Most commands are a plain
/// conjunction; `create` (createCollection OR insert), `currentOp` (`$ownOps`) and
/// `renameCollection` (fast path OR general rule, with a "NOT find on target" clause)
/// need the other shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Formula<'a> {
    /// Needs nothing beyond being authenticated.
    Authenticated,
    /// All of these must hold.
    All(Vec<Requirement<'a>>),
    /// All sub-formulas must hold.
    And(Vec<Formula<'a>>),
    /// Any one sub-formula suffices (tried in order; the first branch's gaps are reported).
    Or(Vec<Formula<'a>>),
    /// Holds when the user does NOT hold this requirement (renameCollection's guard).
    Lacks(Requirement<'a>),
    /// Nobody may run this (internal commands, admin-only sent elsewhere).
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_cannot_index_past_its_name_table() {
        assert_eq!(Action::from_index(actions::COUNT), None);
        assert_eq!(Action::from_index(usize::MAX), None);
        let last = Action::from_index(actions::COUNT - 1).expect("the last action");
        assert_eq!(last.name(), actions::NAMES[actions::COUNT - 1]);
        assert_eq!(Action::from_index(0).map(Action::name), Some("find"));
    }
}
