//! Configuration shape, build options, errors and warnings of the access list,
//! and the validation that turns one configured entry into a checked [`Entry`].

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Entry, EntryId};

/// Seconds in a day, for the `max_temporary_days` knob.
pub const SECS_PER_DAY: i64 = 86_400;

/// Atlas caps temporary access-list entries at one week.
pub const DEFAULT_MAX_TEMPORARY_SECS: i64 = 7 * SECS_PER_DAY;

/// One `[[access_list]]` table of the configuration file.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessEntryConfig {
    /// A CIDR block (`10.20.0.0/16`) or a bare address (= /32 or /128).
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// RFC 3339 instant after which the entry stops matching on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after: Option<String>,
}

/// When the list is built. Start and reload treat an already-passed `delete_after` alike
/// (Atlas drops expired entries): a warning, and the entry never matches. Refusing it at
/// start made every deployment with a temporary entry fail its next restart once the entry
/// ran out. The distinction is kept for callers and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Operator is starting the proxy (or checking the file).
    #[default]
    Startup,
    /// The configuration is re-read while running.
    Reload,
}

/// Knobs for [`super::AccessList::build`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Longest allowed distance between `now` and a `delete_after`.
    pub max_temporary_secs: i64,
    pub strictness: Strictness,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            max_temporary_secs: DEFAULT_MAX_TEMPORARY_SECS,
            strictness: Strictness::Startup,
        }
    }
}

impl BuildOptions {
    /// Options for a configured `max_temporary_days` (saturating, so a silly value
    /// cannot overflow).
    pub fn with_max_temporary_days(days: i64) -> Self {
        Self {
            max_temporary_secs: days.saturating_mul(SECS_PER_DAY),
            ..Self::default()
        }
    }
}

/// A configuration mistake; `index` is the position in `access_list` (0-based).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AccessListError {
    #[error("access_list[{index}]: cidr {cidr:?} is not an IP address or CIDR block: {reason}")]
    InvalidCidr {
        index: usize,
        cidr: String,
        reason: String,
    },
    #[error(
        "access_list[{index}]: cidr {cidr:?} has host bits set; did you mean the network \
         {suggested} (or {address} for the single address)?"
    )]
    HostBitsSet {
        index: usize,
        cidr: String,
        suggested: String,
        address: String,
    },
    #[error("access_list[{index}] ({cidr}): delete_after {value:?} is not an RFC 3339 timestamp: {reason}")]
    InvalidDeleteAfter {
        index: usize,
        cidr: String,
        value: String,
        reason: String,
    },
    #[error(
        "access_list[{index}] ({cidr}): delete_after {value} is more than {max_secs} s \
         ({} days) ahead; temporary entries are capped", max_secs / SECS_PER_DAY
    )]
    DeleteAfterTooFar {
        index: usize,
        cidr: String,
        value: String,
        max_secs: i64,
    },
    #[error(
        "access_list[{index}]: cidr {cidr:?} duplicates access_list[{first_index}] \
         ({first_cidr:?}); both mean {net}"
    )]
    DuplicateCidr {
        index: usize,
        cidr: String,
        first_index: usize,
        first_cidr: String,
        net: String,
    },
    #[error("the access list has {count} entries, more than the supported {max}")]
    TooManyEntries { count: usize, max: usize },
}

/// Something legal but worth telling the operator about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessWarning {
    /// `0.0.0.0/0` or `::/0` (possibly written as `::ffff:0:0/96`).
    OpenToInternet { index: usize, cidr: String },
    /// An IPv6 entry inside `::ffff:0:0/96`: peers with such addresses are IPv4 clients
    /// and are matched as IPv4, so the entry is stored as the IPv4 block it denotes.
    MappedAsIpv4 {
        index: usize,
        cidr: String,
        ipv4: String,
    },
    /// The entry's `delete_after` has passed; it is kept (so refusals say why) but never
    /// matches.
    Expired {
        index: usize,
        cidr: String,
        delete_after: String,
    },
}

impl fmt::Display for AccessWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenToInternet { index, cidr } => write!(
                f,
                "access_list[{index}] ({cidr}): the access list is open to the whole internet"
            ),
            Self::MappedAsIpv4 { index, cidr, ipv4 } => write!(
                f,
                "access_list[{index}] ({cidr}): IPv4-mapped IPv6 block, matched as IPv4 {ipv4}"
            ),
            Self::Expired {
                index,
                cidr,
                delete_after,
            } => write!(
                f,
                "access_list[{index}] ({cidr}): delete_after {delete_after} has passed; entry ignored"
            ),
        }
    }
}

/// Validates every entry, in order, stopping at the first error.
pub(super) fn validate_all(
    configs: &[AccessEntryConfig],
    opts: &BuildOptions,
    now: i64,
    warnings: &mut Vec<AccessWarning>,
) -> Result<Vec<Entry>, AccessListError> {
    let max = u32::MAX as usize;
    if configs.len() > max {
        return Err(AccessListError::TooManyEntries {
            count: configs.len(),
            max,
        });
    }
    let mut seen: HashMap<IpNet, usize> = HashMap::with_capacity(configs.len());
    let mut entries = Vec::with_capacity(configs.len());
    for (index, config) in configs.iter().enumerate() {
        let entry = validate_one(index, config, opts, now, warnings)?;
        if let Some(&first_index) = seen.get(&entry.net) {
            let first_cidr = configs
                .get(first_index)
                .map(|c| c.cidr.clone())
                .unwrap_or_default();
            return Err(AccessListError::DuplicateCidr {
                index,
                cidr: config.cidr.clone(),
                first_index,
                first_cidr,
                net: entry.net.to_string(),
            });
        }
        seen.insert(entry.net, index);
        entries.push(entry);
    }
    Ok(entries)
}

fn validate_one(
    index: usize,
    config: &AccessEntryConfig,
    opts: &BuildOptions,
    now: i64,
    warnings: &mut Vec<AccessWarning>,
) -> Result<Entry, AccessListError> {
    let written = parse_cidr(index, &config.cidr)?;
    let net = normalize_mapped(written);
    if net != written {
        warnings.push(AccessWarning::MappedAsIpv4 {
            index,
            cidr: config.cidr.clone(),
            ipv4: net.to_string(),
        });
    }
    if net.prefix_len() == 0 {
        warnings.push(AccessWarning::OpenToInternet {
            index,
            cidr: config.cidr.clone(),
        });
    }
    let delete_after = match &config.delete_after {
        None => None,
        Some(value) => Some(check_delete_after(
            index, config, value, opts, now, warnings,
        )?),
    };
    let id = u32::try_from(index).map_err(|_| AccessListError::TooManyEntries {
        count: index,
        max: u32::MAX as usize,
    })?;
    Ok(Entry {
        id: EntryId(id),
        net,
        cidr: config.cidr.clone(),
        comment: config.comment.clone(),
        delete_after,
    })
}

/// Parses `a.b.c.d/len`, `v6/len` or a bare address, refusing host bits so that a
/// typo such as `10.0.0.1/8` is not silently widened to a whole /8.
fn parse_cidr(index: usize, cidr: &str) -> Result<IpNet, AccessListError> {
    let invalid = |reason: String| AccessListError::InvalidCidr {
        index,
        cidr: cidr.to_owned(),
        reason,
    };
    if !cidr.contains('/') {
        return cidr
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|e| invalid(e.to_string()));
    }
    let net: IpNet = cidr
        .parse()
        .map_err(|e: ipnet::AddrParseError| invalid(cidr_reason(cidr, e.to_string())))?;
    if net.trunc() != net {
        return Err(AccessListError::HostBitsSet {
            index,
            cidr: cidr.to_owned(),
            suggested: net.trunc().to_string(),
            address: IpNet::from(net.addr()).to_string(),
        });
    }
    Ok(net)
}

/// Why `text` is not a CIDR block, in words: ipnet says "invalid IP address syntax" for
/// `10.0.0.0/33`, which points at the wrong half.
pub fn cidr_reason(text: &str, parser_says: String) -> String {
    let Some((addr, len)) = text.split_once('/') else {
        return parser_says;
    };
    let bits = match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => 32,
        Ok(IpAddr::V6(_)) => 128,
        Err(_) => return parser_says,
    };
    match len.parse::<u32>() {
        Ok(n) if n > bits => {
            format!("prefix length /{n} is longer than the address ({bits} bits)")
        }
        Ok(_) => parser_says,
        Err(_) => format!("prefix length {len:?} is not a number of bits (0 to {bits})"),
    }
}

/// `::ffff:a.b.c.d/(96+n)` -> `a.b.c.d/n`; peers are canonicalised the same way.
pub(super) fn normalize_mapped(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else { return net };
    let Some(v4) = v6.network().to_ipv4_mapped() else {
        return net;
    };
    match v6.prefix_len().checked_sub(96) {
        Some(len) => Ipv4Net::new(v4, len).map(IpNet::V4).unwrap_or(net),
        None => net,
    }
}

fn check_delete_after(
    index: usize,
    config: &AccessEntryConfig,
    value: &str,
    opts: &BuildOptions,
    now: i64,
    warnings: &mut Vec<AccessWarning>,
) -> Result<i64, AccessListError> {
    let at = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|e| AccessListError::InvalidDeleteAfter {
            index,
            cidr: config.cidr.clone(),
            value: value.to_owned(),
            reason: e.to_string(),
        })?
        .unix_timestamp();
    if at <= now {
        warnings.push(AccessWarning::Expired {
            index,
            cidr: config.cidr.clone(),
            delete_after: value.to_owned(),
        });
        return Ok(at);
    }
    if at.saturating_sub(now) > opts.max_temporary_secs {
        return Err(AccessListError::DeleteAfterTooFar {
            index,
            cidr: config.cidr.clone(),
            value: value.to_owned(),
            max_secs: opts.max_temporary_secs,
        });
    }
    Ok(at)
}
