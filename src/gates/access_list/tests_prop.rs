//! Property tests: the range tables answer exactly what a naive linear scan answers.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

use super::tests::{permanent, rfc3339, NOW};
use super::*;

/// Reference semantics, written as plainly as possible: most specific permanent
/// entry; else the live temporary entry with the latest expiry (ties: most specific).
fn naive(entries: &[Entry], ip: IpAddr, now: i64) -> Decision {
    if entries.is_empty() {
        return Decision::Deny(DenyReason::EmptyList);
    }
    let ip = canonical(ip);
    let covering: Vec<&Entry> = entries.iter().filter(|e| e.net.contains(&ip)).collect();
    let best_permanent = covering
        .iter()
        .filter(|e| e.delete_after.is_none())
        .max_by_key(|e| e.net.prefix_len());
    if let Some(e) = best_permanent {
        return Decision::Allow { entry: e.id };
    }
    let temporaries: Vec<(i64, u8, EntryId)> = covering
        .iter()
        .filter_map(|e| e.delete_after.map(|at| (at, e.net.prefix_len(), e.id)))
        .collect();
    match temporaries.iter().filter(|t| t.0 > now).max() {
        Some(&(_, _, entry)) => Decision::Allow { entry },
        None if temporaries.is_empty() => Decision::Deny(DenyReason::NoMatchingEntry),
        None => Decision::Deny(DenyReason::OnlyExpiredEntry),
    }
}

/// Addresses clustered in a few regions so that blocks nest and overlap often.
fn v4_addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u16>().prop_map(|low| 0x0A00_0000 | u32::from(low)),
        any::<u16>().prop_map(|low| 0xC0A8_0000 | u32::from(low)),
        any::<u32>(),
    ]
}

fn v6_addr() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u32>().prop_map(|low| 0x2001_0db8_u128 << 96 | u128::from(low)),
        any::<u16>().prop_map(|low| 0xffff_u128 << 32 | u128::from(low)),
        any::<u128>(),
    ]
}

fn v4_net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![1 => 0u8..8, 20 => 8u8..=32];
    (v4_addr(), len).prop_map(|(a, l)| {
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    })
}

fn v6_net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![1 => 0u8..16, 20 => 16u8..=128];
    (v6_addr(), len).prop_map(|(a, l)| {
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    })
}

fn lifetime() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 1 => (1i64..=600).prop_map(Some)]
}

/// (net, optional seconds until expiry).
fn entry() -> impl Strategy<Value = (IpNet, Option<i64>)> {
    (prop_oneof![v4_net(), v6_net()], lifetime())
}

/// Like [`entry`] but spread over wider regions, so that 10,000 draws stay mostly
/// distinct while still nesting inside 10.0.0.0/8 and 2001:db8::/32.
fn wide_entry() -> impl Strategy<Value = (IpNet, Option<i64>)> {
    let v4 = (any::<u32>(), 16u8..=32).prop_map(|(a, l)| {
        let a = 0x0A00_0000 | (a & 0x00ff_ffff);
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    });
    let v6 = (any::<u128>(), 48u8..=128).prop_map(|(a, l)| {
        let a = (0x2001_0db8_u128 << 96) | (a >> 32);
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    });
    (
        prop_oneof![1 => v4_net(), 1 => v6_net(), 3 => v4, 3 => v6],
        lifetime(),
    )
}

fn probe() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4_addr().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        v6_addr().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

/// Builds configs from random nets, dropping repeats (duplicates are a config error,
/// also when one is written as an IPv4-mapped IPv6 block).
fn configs(raw: &[(IpNet, Option<i64>)]) -> Vec<AccessEntryConfig> {
    let mut seen = HashSet::new();
    raw.iter()
        .filter(|(net, _)| seen.insert(config::normalize_mapped(*net)))
        .map(|(net, life)| AccessEntryConfig {
            delete_after: life.map(|secs| rfc3339(NOW + secs)),
            ..permanent(&net.to_string())
        })
        .collect()
}

/// Probes the edges of every block as well as the random addresses.
fn edge_probes(list: &AccessList) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for e in list.entries() {
        match e.net {
            IpNet::V4(n) => {
                let (a, b) = (u32::from(n.network()), u32::from(n.broadcast()));
                for x in [a.checked_sub(1), Some(a), Some(b), b.checked_add(1)]
                    .into_iter()
                    .flatten()
                {
                    out.push(IpAddr::V4(Ipv4Addr::from(x)));
                }
            }
            IpNet::V6(n) => {
                let (a, b) = (u128::from(n.network()), u128::from(n.broadcast()));
                for x in [a.checked_sub(1), Some(a), Some(b), b.checked_add(1)]
                    .into_iter()
                    .flatten()
                {
                    out.push(IpAddr::V6(Ipv6Addr::from(x)));
                }
            }
        }
    }
    out
}

fn assert_same(list: &AccessList, probes: &[IpAddr]) -> Result<(), TestCaseError> {
    let mut nows = vec![NOW];
    nows.extend(list.expiries.iter().flat_map(|&at| [at - 1, at]));
    nows.truncate(8);
    for &now in &nows {
        for &ip in probes {
            prop_assert_eq!(
                list.check(ip, now),
                naive(list.entries(), ip, now),
                "ip {} now {}",
                ip,
                now
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tables_agree_with_linear_scan(
        raw in proptest::collection::vec(entry(), 0..40),
        probes in proptest::collection::vec(probe(), 0..40),
    ) {
        let Ok((list, _)) = AccessList::build(&configs(&raw), &BuildOptions::default(), NOW) else {
            return Err(TestCaseError::fail("build failed"));
        };
        let mut all = probes;
        all.extend(edge_probes(&list));
        assert_same(&list, &all)?;
    }

    #[test]
    fn next_expiry_is_the_earliest_later_delete_after(
        raw in proptest::collection::vec(entry(), 0..30),
        offset in -10i64..700,
    ) {
        let Ok((list, _)) = AccessList::build(&configs(&raw), &BuildOptions::default(), NOW) else {
            return Err(TestCaseError::fail("build failed"));
        };
        let now = NOW + offset;
        let expected = list.entries().iter().filter_map(|e| e.delete_after).filter(|&at| at > now).min();
        prop_assert_eq!(list.next_expiry(now), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn ten_thousand_entries_agree_with_linear_scan(
        raw in proptest::collection::vec(wide_entry(), 12_000),
        probes in proptest::collection::vec(probe(), 300),
    ) {
        let Ok((list, _)) = AccessList::build(&configs(&raw), &BuildOptions::default(), NOW) else {
            return Err(TestCaseError::fail("build failed"));
        };
        prop_assert!(list.len() >= 10_000, "only {} distinct entries", list.len());
        let mut all = probes;
        all.extend(edge_probes(&list).into_iter().step_by(97));
        assert_same(&list, &all)?;
    }
}
