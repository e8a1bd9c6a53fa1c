//! Unit tests for the access list: configuration, validation, matching, expiry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::*;

/// 2026-05-28T20:26:40Z, an arbitrary "now".
pub(super) const NOW: i64 = 1_780_000_000;

pub(super) fn permanent(cidr: &str) -> AccessEntryConfig {
    AccessEntryConfig {
        cidr: cidr.to_owned(),
        comment: None,
        delete_after: None,
    }
}

pub(super) fn rfc3339(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(super) fn temporary(cidr: &str, at: i64) -> AccessEntryConfig {
    AccessEntryConfig {
        delete_after: Some(rfc3339(at)),
        ..permanent(cidr)
    }
}

fn build(entries: &[AccessEntryConfig]) -> AccessList {
    match AccessList::build(entries, &BuildOptions::default(), NOW) {
        Ok((list, _)) => list,
        Err(e) => panic!("build failed: {e}"),
    }
}

fn build_err(entries: &[AccessEntryConfig]) -> AccessListError {
    match AccessList::build(entries, &BuildOptions::default(), NOW) {
        Ok(_) => panic!("build unexpectedly succeeded"),
        Err(e) => e,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn allow(index: u32) -> Decision {
    Decision::Allow {
        entry: EntryId(index),
    }
}

const NO_MATCH: Decision = Decision::Deny(DenyReason::NoMatchingEntry);
const EXPIRED: Decision = Decision::Deny(DenyReason::OnlyExpiredEntry);

#[test]
fn config_shape_parses_from_toml_and_refuses_unknown_keys() {
    #[derive(serde::Deserialize)]
    struct File {
        access_list: Vec<AccessEntryConfig>,
    }
    let text = r#"
        [[access_list]]
        cidr = "10.20.0.0/16"
        comment = "private network"
        [[access_list]]
        cidr = "203.0.113.10/32"
        comment = "contractor, temporary"
        delete_after = "2026-12-01T00:00:00Z"
    "#;
    let file: File = toml::from_str(text).unwrap_or(File {
        access_list: Vec::new(),
    });
    assert_eq!(file.access_list.len(), 2);
    assert_eq!(
        file.access_list[0].comment.as_deref(),
        Some("private network")
    );
    assert_eq!(
        file.access_list[1].delete_after.as_deref(),
        Some("2026-12-01T00:00:00Z")
    );
    let typo = "[[access_list]]\ncidr = \"10.0.0.0/8\"\ndelete_afer = \"x\"\n";
    assert!(toml::from_str::<File>(typo).is_err());
}

#[test]
fn empty_list_refuses_everyone() {
    let list = build(&[]);
    assert!(list.is_empty());
    assert_eq!(
        list.check(ip("127.0.0.1"), NOW),
        Decision::Deny(DenyReason::EmptyList)
    );
    assert!(!list.still_admits(ip("::1"), NOW));
    assert_eq!(list.next_expiry(NOW), None);
}

#[test]
fn matches_v4_v6_bare_addresses_and_mapped_peers() {
    let list = build(&[
        permanent("10.20.0.0/16"),
        permanent("203.0.113.10"),
        permanent("2001:db8::/32"),
        permanent("2001:db9::1"),
    ]);
    assert_eq!(list.len(), 4);
    assert_eq!(list.check(ip("10.20.255.255"), NOW), allow(0));
    assert_eq!(list.check(ip("10.21.0.0"), NOW), NO_MATCH);
    assert_eq!(list.check(ip("203.0.113.10"), NOW), allow(1));
    assert_eq!(list.check(ip("203.0.113.11"), NOW), NO_MATCH);
    assert_eq!(list.check(ip("2001:db8:ffff::1"), NOW), allow(2));
    assert_eq!(list.check(ip("2001:db9::1"), NOW), allow(3));
    assert_eq!(list.check(ip("2001:db9::2"), NOW), NO_MATCH);
    // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d.
    assert_eq!(list.check(ip("::ffff:10.20.1.2"), NOW), allow(0));
    assert_eq!(list.check(ip("::ffff:10.21.1.2"), NOW), NO_MATCH);
    // An IPv4 address does not match IPv6 entries with the same bits.
    let v4_bits = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(Ipv4Addr::new(
        10, 20, 0, 1,
    )))));
    assert_eq!(list.check(v4_bits, NOW), NO_MATCH);
    let entry = list
        .entry(EntryId(1))
        .map(|e| (e.cidr.clone(), e.net.to_string()));
    assert_eq!(
        entry,
        Some(("203.0.113.10".to_owned(), "203.0.113.10/32".to_owned()))
    );
    assert!(list.entry(EntryId(4)).is_none());
}

#[test]
fn mapped_ipv6_entry_is_stored_as_ipv4_with_a_warning() {
    let entries = [permanent("::ffff:10.0.0.0/104")];
    let built = AccessList::build(&entries, &BuildOptions::default(), NOW);
    let Ok((list, warnings)) = built else {
        panic!("build failed")
    };
    assert_eq!(list.check(ip("10.1.2.3"), NOW), allow(0));
    assert_eq!(list.check(ip("::ffff:10.1.2.3"), NOW), allow(0));
    assert_eq!(list.check(ip("11.0.0.0"), NOW), NO_MATCH);
    assert!(matches!(
        warnings.as_slice(),
        [AccessWarning::MappedAsIpv4 { ipv4, .. }] if ipv4 == "10.0.0.0/8"
    ));
    // Same network written both ways is a duplicate.
    let dup = build_err(&[permanent("10.0.0.0/8"), permanent("::ffff:10.0.0.0/104")]);
    assert!(matches!(
        dup,
        AccessListError::DuplicateCidr {
            index: 1,
            first_index: 0,
            ..
        }
    ));
}

/// First/last address of every IPv4 prefix length are in; one outside each end is out.
#[test]
fn ipv4_block_boundaries_for_every_prefix_length() {
    let base: u32 = 0xC6_33_64_00; // 198.51.100.0
    for len in 0..=32u8 {
        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(base), len)
            .map(|n| n.trunc())
            .unwrap_or_default();
        let list = build(&[permanent(&net.to_string())]);
        let first = u32::from(net.network());
        let last = u32::from(net.broadcast());
        let at = |a: u32| list.check(IpAddr::V4(Ipv4Addr::from(a)), NOW);
        assert_eq!(at(first), allow(0), "/{len} first");
        assert_eq!(at(last), allow(0), "/{len} last");
        if let Some(before) = first.checked_sub(1) {
            assert_eq!(at(before), NO_MATCH, "/{len} before");
        }
        if let Some(after) = last.checked_add(1) {
            assert_eq!(at(after), NO_MATCH, "/{len} after");
        }
    }
}

#[test]
fn ipv6_block_boundaries_for_every_prefix_length() {
    let base: u128 = 0x2001_0db8_85a3_0000_0000_8a2e_0370_7334;
    for len in 0..=128u8 {
        let net = ipnet::Ipv6Net::new(Ipv6Addr::from(base), len)
            .map(|n| n.trunc())
            .unwrap_or_default();
        let list = build(&[permanent(&net.to_string())]);
        let first = u128::from(net.network());
        let last = u128::from(net.broadcast());
        let at = |a: u128| list.check(IpAddr::V6(Ipv6Addr::from(a)), NOW);
        assert_eq!(at(first), allow(0), "/{len} first");
        assert_eq!(at(last), allow(0), "/{len} last");
        if let Some(before) = first.checked_sub(1) {
            // ::ffff:0:0/96 peers are IPv4 clients; skip that one corner.
            if Ipv6Addr::from(before).to_ipv4_mapped().is_none() {
                assert_eq!(at(before), NO_MATCH, "/{len} before");
            }
        }
        if let Some(after) = last.checked_add(1) {
            assert_eq!(at(after), NO_MATCH, "/{len} after");
        }
    }
}

#[test]
fn temporary_entry_matches_until_delete_after() {
    let expires = NOW + 3600;
    let list = build(&[temporary("203.0.113.0/24", expires)]);
    let peer = ip("203.0.113.7");
    assert_eq!(list.check(peer, NOW), allow(0));
    assert_eq!(list.check(peer, expires - 1), allow(0));
    assert_eq!(list.check(peer, expires), EXPIRED);
    assert_eq!(list.check(peer, expires + 86_400), EXPIRED);
    assert_eq!(list.check(ip("203.0.114.7"), NOW), NO_MATCH);
    assert!(list.still_admits(peer, expires - 1));
    assert!(!list.still_admits(peer, expires));
    assert_eq!(
        list.entry(EntryId(0)).and_then(|e| e.delete_after),
        Some(expires)
    );
}

#[test]
fn permanent_entry_wins_over_temporary_in_both_nestings() {
    let expires = NOW + 60;
    let list = build(&[
        permanent("10.0.0.0/16"),
        temporary("10.0.1.0/24", expires),
        temporary("172.16.0.0/12", expires),
        permanent("172.16.5.0/24"),
    ]);
    // Temporary inside permanent: the permanent entry is reported, before and after.
    assert_eq!(list.check(ip("10.0.1.1"), NOW), allow(0));
    assert_eq!(list.check(ip("10.0.1.1"), expires), allow(0));
    // Permanent inside temporary.
    assert_eq!(list.check(ip("172.16.5.9"), NOW), allow(3));
    assert_eq!(list.check(ip("172.16.5.9"), expires + 1), allow(3));
    assert_eq!(list.check(ip("172.16.6.9"), NOW), allow(2));
    assert_eq!(list.check(ip("172.16.6.9"), expires), EXPIRED);
}

#[test]
fn nested_temporary_entries_use_the_longest_lived() {
    let short = NOW + 100;
    let long = NOW + 1000;
    let list = build(&[
        temporary("192.0.2.0/24", long),
        temporary("192.0.2.128/25", short),
        temporary("198.51.100.0/24", short),
        temporary("198.51.100.0/28", long),
    ]);
    assert_eq!(list.check(ip("192.0.2.200"), NOW), allow(0));
    assert_eq!(list.check(ip("192.0.2.200"), short), allow(0));
    assert_eq!(list.check(ip("192.0.2.200"), long), EXPIRED);
    assert_eq!(list.check(ip("198.51.100.1"), short), allow(3));
    assert_eq!(list.check(ip("198.51.100.99"), short), EXPIRED);
    assert_eq!(list.next_expiry(NOW), Some(short));
    assert_eq!(list.next_expiry(short), Some(long));
    assert_eq!(list.next_expiry(long), None);
}

#[test]
fn invalid_cidr_and_host_bits_are_precise_errors() {
    let err = build_err(&[permanent("10.0.0.0/8"), permanent("10.0.0.300")]);
    assert!(
        matches!(&err, AccessListError::InvalidCidr { index: 1, cidr, .. } if cidr == "10.0.0.300")
    );
    for bad in [
        "10.0.0.0/33",
        "2001:db8::/129",
        "",
        "10.0.0.0/",
        " 10.0.0.1",
        "fe80::1%eth0",
    ] {
        let err = build_err(&[permanent(bad)]);
        assert!(
            matches!(err, AccessListError::InvalidCidr { index: 0, .. }),
            "{bad:?}"
        );
    }
    let err = build_err(&[permanent("10.0.0.1/8")]);
    assert_eq!(
        err,
        AccessListError::HostBitsSet {
            index: 0,
            cidr: "10.0.0.1/8".to_owned(),
            suggested: "10.0.0.0/8".to_owned(),
            address: "10.0.0.1/32".to_owned(),
        }
    );
    assert!(err
        .to_string()
        .contains("did you mean the network 10.0.0.0/8"));
    let err = build_err(&[permanent("2001:db8::1/32")]);
    assert!(
        matches!(err, AccessListError::HostBitsSet { suggested, .. } if suggested == "2001:db8::/32")
    );
}

#[test]
fn delete_after_errors() {
    let mut bad = permanent("10.0.0.0/8");
    bad.delete_after = Some("2026-12-01 00:00:00".to_owned());
    assert!(matches!(
        build_err(&[permanent("10.1.0.0/16"), bad]),
        AccessListError::InvalidDeleteAfter { index: 1, .. }
    ));
    let week = DEFAULT_MAX_TEMPORARY_SECS;
    assert!(AccessList::build(
        &[temporary("10.0.0.0/8", NOW + week)],
        &BuildOptions::default(),
        NOW
    )
    .is_ok());
    let err = build_err(&[temporary("10.0.0.0/8", NOW + week + 1)]);
    assert!(matches!(err, AccessListError::DeleteAfterTooFar { max_secs, .. } if max_secs == week));
    assert!(err.to_string().contains("7 days"));
    let opts = BuildOptions::with_max_temporary_days(30);
    assert!(AccessList::build(
        &[temporary("10.0.0.0/8", NOW + 29 * SECS_PER_DAY)],
        &opts,
        NOW
    )
    .is_ok());
}

#[test]
fn duplicates_are_refused_with_both_indexes() {
    let err = build_err(&[
        permanent("10.0.0.1"),
        permanent("10.0.0.2"),
        temporary("10.0.0.1/32", NOW + 10),
    ]);
    assert_eq!(
        err,
        AccessListError::DuplicateCidr {
            index: 2,
            cidr: "10.0.0.1/32".to_owned(),
            first_index: 0,
            first_cidr: "10.0.0.1".to_owned(),
            net: "10.0.0.1/32".to_owned(),
        }
    );
}

#[test]
fn start_and_reload_keep_expired_entries_as_warnings() {
    // An entry expiring exactly now has passed too (it matches while now < delete_after).
    for at in [NOW - 5, NOW] {
        let entries = [temporary("10.0.0.0/8", at), permanent("192.0.2.0/24")];
        let mut built = Vec::new();
        for strictness in [Strictness::Startup, Strictness::Reload] {
            let opts = BuildOptions {
                strictness,
                ..BuildOptions::default()
            };
            let Ok((list, warnings)) = AccessList::build(&entries, &opts, NOW) else {
                panic!("{strictness:?} build failed")
            };
            assert!(matches!(
                warnings.as_slice(),
                [AccessWarning::Expired { index: 0, .. }]
            ));
            assert_eq!(list.check(ip("10.1.1.1"), NOW), EXPIRED);
            assert_eq!(list.check(ip("192.0.2.1"), NOW), allow(1));
            assert_eq!(list.next_expiry(NOW), None);
            assert_eq!(list.expired_count(NOW), 1);
            built.push((list.entries().to_vec(), warnings));
        }
        assert_eq!(built[0], built[1], "start and reload agree");
    }
}

#[test]
fn open_to_the_internet_warns() {
    for cidr in ["0.0.0.0/0", "::/0", "::ffff:0:0/96"] {
        let Ok((list, warnings)) =
            AccessList::build(&[permanent(cidr)], &BuildOptions::default(), NOW)
        else {
            panic!("build of {cidr} failed")
        };
        let open = warnings
            .iter()
            .find(|w| matches!(w, AccessWarning::OpenToInternet { .. }))
            .map(ToString::to_string);
        assert!(
            open.as_deref()
                .is_some_and(|m| m.contains("the access list is open to the whole internet")),
            "{cidr}: {warnings:?}"
        );
        assert!(list.len() == 1);
    }
    let Ok((_, warnings)) =
        AccessList::build(&[permanent("10.0.0.0/8")], &BuildOptions::default(), NOW)
    else {
        panic!("build failed")
    };
    assert!(warnings.is_empty());
}

#[test]
fn ten_thousand_entries_build_into_compact_tables() {
    let entries: Vec<AccessEntryConfig> = (0..10_000u32)
        .map(|i| permanent(&format!("{}/32", Ipv4Addr::from(0x0A00_0000 + i * 3))))
        .collect();
    let list = build(&entries);
    assert_eq!(list.v4.permanent.segments(), 10_000);
    assert_eq!(
        list.check(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + 9_999 * 3)), NOW),
        allow(9_999)
    );
    assert_eq!(
        list.check(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + 9_999 * 3 + 1)), NOW),
        NO_MATCH
    );
}

#[test]
fn too_long_prefix_says_so() {
    for (cidr, bits) in [("10.0.0.0/33", 32), ("2001:db8::/129", 128)] {
        let err = build_err(&[permanent(cidr)]).to_string();
        assert!(
            err.contains("longer than the address") && err.contains(&format!("({bits} bits)")),
            "{err}"
        );
    }
    let err = build_err(&[permanent("10.0.0.0/x")]).to_string();
    assert!(err.contains("not a number of bits"), "{err}");
    let err = build_err(&[permanent("10.0.0.300/8")]).to_string();
    assert!(err.contains("invalid IP address syntax"), "{err}");
}
