//! Network gate: the project IP access list (modelled on MongoDB Atlas).
//!
//! A connection is refused unless its client address matches an entry. Entries are
//! addresses or CIDR blocks, optionally temporary (`delete_after`). The list starts
//! closed: an empty list refuses everyone.
//!
//! Lookup is a binary search in per-family tables of disjoint ranges (see `table`),
//! so its cost does not depend on the list size in practice. Permanent and temporary
//! entries live in separate tables: permanent matches win, and temporary segments
//! carry the latest expiry of the blocks covering them, so expiry needs no rebuild.

mod config;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

pub use config::{
    cidr_reason, AccessEntryConfig, AccessListError, AccessWarning, BuildOptions, Strictness,
    DEFAULT_MAX_TEMPORARY_SECS, SECS_PER_DAY,
};
use table::{Block, RangeTable};

/// Position of an entry in the configured `access_list` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(u32);

impl EntryId {
    /// Index of the entry in the configuration array.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "access_list[{}]", self.0)
    }
}

/// A validated entry, kept for logs and for [`AccessList::entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    /// Normalised block (host bits clear; IPv4-mapped IPv6 blocks stored as IPv4).
    pub net: IpNet,
    /// The `cidr` text as configured.
    pub cidr: String,
    pub comment: Option<String>,
    /// Unix seconds; the entry matches while `now < delete_after`.
    pub delete_after: Option<i64>,
}

/// Outcome of [`AccessList::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow { entry: EntryId },
    Deny(DenyReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// No entry, live or expired, covers the address.
    NoMatchingEntry,
    /// Only temporary entries whose `delete_after` has passed cover the address.
    OnlyExpiredEntry,
    /// The list has no entries at all (Atlas starts closed).
    EmptyList,
}

/// Label of a temporary segment: the covering entry that stays valid the longest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Temporary {
    expires: i64,
    entry: EntryId,
}

/// Tables of one address family.
#[derive(Clone, Debug)]
struct Family {
    permanent: RangeTable<EntryId>,
    temporary: RangeTable<Temporary>,
}

/// Immutable once built; share it through an `Arc` and swap it on reload.
#[derive(Clone, Debug)]
pub struct AccessList {
    entries: Vec<Entry>,
    v4: Family,
    v6: Family,
    /// Distinct `delete_after` values, ascending, for [`AccessList::next_expiry`].
    expiries: Vec<i64>,
}

impl AccessList {
    /// Validates `entries` and builds the lookup tables. `now` is unix seconds.
    pub fn build(
        entries: &[AccessEntryConfig],
        opts: &BuildOptions,
        now: i64,
    ) -> Result<(AccessList, Vec<AccessWarning>), AccessListError> {
        let mut warnings = Vec::new();
        let validated = config::validate_all(entries, opts, now, &mut warnings)?;
        Ok((Self::from_entries(validated), warnings))
    }

    /// Builds the tables from validated, duplicate-free entries.
    fn from_entries(entries: Vec<Entry>) -> Self {
        let mut blocks = [Blocks::default(), Blocks::default()];
        for entry in &entries {
            let (start, end, family) = bounds(entry.net);
            let Some(target) = blocks.get_mut(family) else {
                continue;
            };
            match entry.delete_after {
                None => target.permanent.push(Block {
                    start,
                    end,
                    label: entry.id,
                }),
                Some(expires) => target.temporary.push(Block {
                    start,
                    end,
                    label: Temporary {
                        expires,
                        entry: entry.id,
                    },
                }),
            }
        }
        let [v4, v6] = blocks;
        let mut expiries: Vec<i64> = entries.iter().filter_map(|e| e.delete_after).collect();
        expiries.sort_unstable();
        expiries.dedup();
        Self {
            entries,
            v4: v4.into_family(),
            v6: v6.into_family(),
            expiries,
        }
    }

    /// Decides whether `ip` may connect at `now`. Hot path: two binary searches at
    /// most, no allocation.
    pub fn check(&self, ip: IpAddr, now: i64) -> Decision {
        if self.entries.is_empty() {
            return Decision::Deny(DenyReason::EmptyList);
        }
        let (family, key) = match canonical(ip) {
            IpAddr::V4(v4) => (&self.v4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (&self.v6, u128::from(v6)),
        };
        if let Some(entry) = family.permanent.lookup(key) {
            return Decision::Allow { entry };
        }
        match family.temporary.lookup(key) {
            Some(t) if now < t.expires => Decision::Allow { entry: t.entry },
            Some(_) => Decision::Deny(DenyReason::OnlyExpiredEntry),
            None => Decision::Deny(DenyReason::NoMatchingEntry),
        }
    }

    /// Whether a connection from `ip` admitted earlier would still be admitted at
    /// `now`; used to sweep connections whose temporary entry has run out.
    pub fn still_admits(&self, ip: IpAddr, now: i64) -> bool {
        matches!(self.check(ip, now), Decision::Allow { .. })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Temporary entries whose `delete_after` has passed at `now` (ignored; counted in
    /// the metrics).
    pub fn expired_count(&self, now: i64) -> usize {
        self.entries
            .iter()
            .filter(|e| e.delete_after.is_some_and(|at| at <= now))
            .count()
    }

    /// Earliest `delete_after` strictly after `now`: when the next sweep is due.
    pub fn next_expiry(&self, now: i64) -> Option<i64> {
        let passed = self.expiries.partition_point(|at| *at <= now);
        self.expiries.get(passed).copied()
    }

    pub fn entry(&self, id: EntryId) -> Option<&Entry> {
        self.entries.get(id.index())
    }

    /// All entries in configuration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, dual-stack sockets) are IPv4 clients.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Blocks of one family before they are cut into tables.
#[derive(Default)]
struct Blocks {
    permanent: Vec<Block<EntryId>>,
    temporary: Vec<Block<Temporary>>,
}

impl Blocks {
    fn into_family(self) -> Family {
        Family {
            // The innermost (most specific) permanent entry is the one reported.
            permanent: RangeTable::build(self.permanent, |_, inner| inner),
            // A segment stays open as long as its longest-lived covering entry;
            // on equal expiry the more specific entry is reported.
            temporary: RangeTable::build(self.temporary, |outer, inner| {
                if inner.expires >= outer.expires {
                    inner
                } else {
                    outer
                }
            }),
        }
    }
}

/// First and last address of `net` as table keys, and the family slot (0 = v4).
fn bounds(net: IpNet) -> (u128, u128, usize) {
    match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
            0,
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast()), 1),
    }
}
