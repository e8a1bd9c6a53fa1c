//! Connection caps: a global one (`server.max_connections`, by default what the
//! open-file limit allows after a reserve) and one per client address
//! (`server.max_connections_per_source`). Both are checked right after accept, before any
//! TLS work, so a refusal costs an accept and a close.

use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;

use crate::proxy::server::running::Shared;

/// Descriptors kept back from client connections whatever the limit: listeners, the
/// metrics endpoint and its scrapes, the control plane, the audit file, the runtime's own.
const RESERVED_FDS: u64 = 32;

/// Default cap when the open-file limit is unknown or unlimited.
const UNLIMITED_DEFAULT: usize = 1_000_000;

/// The default `max_connections` for an open-file limit (pure). Each client holds its own
/// socket and, once it runs a command, one upstream socket: two descriptors. The reserve
/// is 32 plus 1/256 of the limit, so upstream connects, scrapes and reloads still find a
/// descriptor when every client slot is taken.
pub fn default_max_connections(open_files: Option<u64>) -> usize {
    let Some(n) = open_files else {
        return UNLIMITED_DEFAULT;
    };
    let reserve = RESERVED_FDS + n / 256;
    let slots = n.saturating_sub(reserve) / 2;
    usize::try_from(slots)
        .unwrap_or(UNLIMITED_DEFAULT)
        .clamp(1, UNLIMITED_DEFAULT)
}

/// Descriptors `max` clients can need (the inverse of the default, for a warning).
pub fn descriptors_needed(max: usize) -> u64 {
    let clients = max as u64;
    let n = clients.saturating_mul(2).saturating_add(RESERVED_FDS);
    n.saturating_add(n / 255)
}

/// The soft "Max open files" limit from `/proc/self/limits` text (pure; None when the
/// line is missing or says unlimited).
pub fn parse_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's open-file limit, where the platform tells (Linux).
pub fn open_file_limit() -> Option<u64> {
    parse_open_files(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// Why a connection was refused at a cap (metrics label and log text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapRefusal {
    MaxConnections,
    PerSource,
}

/// Live connections per client address, when `max_connections_per_source` is set.
pub struct PerSource {
    pub cap: usize,
    counts: DashMap<IpAddr, usize>,
}

impl PerSource {
    pub fn new(cap: usize) -> PerSource {
        PerSource {
            cap,
            counts: DashMap::new(),
        }
    }

    /// Connections from `ip` being served now.
    pub fn count(&self, ip: IpAddr) -> usize {
        self.counts.get(&ip).map_or(0, |c| *c)
    }
}

/// One connection counted against its source; released when dropped.
pub struct SourceSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl SourceSlot {
    /// Takes a slot for `ip`: Ok(None) when there is no per-source cap, Err when `ip` is
    /// at it.
    pub fn acquire(shared: &Arc<Shared>, ip: IpAddr) -> Result<Option<SourceSlot>, CapRefusal> {
        let Some(per) = &shared.per_source else {
            return Ok(None);
        };
        let mut count = per.counts.entry(ip).or_insert(0);
        if *count >= per.cap {
            return Err(CapRefusal::PerSource);
        }
        *count += 1;
        Ok(Some(SourceSlot {
            shared: shared.clone(),
            ip,
        }))
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let Some(per) = &self.shared.per_source else {
            return;
        };
        if let Some(mut c) = per.counts.get_mut(&self.ip) {
            *c = c.saturating_sub(1);
        }
        // A map of every address ever seen would grow without bound.
        per.counts.remove_if(&self.ip, |_, c| *c == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_keeps_a_reserve_and_two_descriptors_per_client() {
        assert_eq!(default_max_connections(Some(64)), 16);
        assert_eq!(default_max_connections(Some(1024)), 494);
        // What benches/compare.sh runs with: room for its 9,900 idle connections.
        assert_eq!(default_max_connections(Some(20_000)), 9_945);
        assert_eq!(default_max_connections(Some(1_048_576)), 522_224);
        assert_eq!(default_max_connections(Some(10)), 1, "never zero");
        assert_eq!(default_max_connections(None), UNLIMITED_DEFAULT);
        for n in [64_u64, 1024, 20_000, 65_536, 1_048_576] {
            let max = default_max_connections(Some(n));
            assert!(
                descriptors_needed(max) <= n + 2,
                "the default fits its own limit ({n})"
            );
            assert!(descriptors_needed(max + 10) > n, "and is not far below it");
        }
    }

    #[test]
    fn open_files_come_from_the_soft_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files(unlimited), None);
        assert_eq!(parse_open_files(""), None);
    }
}
