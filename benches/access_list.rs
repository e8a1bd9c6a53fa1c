//! Lookups per second against a 10,000-entry access list (mixed IPv4/IPv6, hits and
//! misses). Registered by the main crate as `[[bench]] name = "access_list"`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mongoward::gates::access_list::{AccessEntryConfig, AccessList, BuildOptions};

const NOW: i64 = 1_780_000_000;
const ENTRIES: u32 = 10_000;
const PROBES: usize = 4_096;

/// Deterministic xorshift so the bench needs no RNG seeding.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Half IPv4 /24../32 blocks in 10.0.0.0/8, half IPv6 /48../128 in 2001:db8::/32,
/// one in eight temporary.
fn entries(rng: &mut XorShift) -> Vec<AccessEntryConfig> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    while out.len() < ENTRIES as usize {
        let r = rng.next();
        let cidr = if r & 1 == 0 {
            let len = 24 + (r >> 8) % 9;
            let net = ipnet::Ipv4Net::new(
                Ipv4Addr::from(0x0A00_0000 | (r >> 16) as u32 & 0x00ff_ffff),
                len as u8,
            );
            net.map(|n| n.trunc().to_string())
        } else {
            let len = 48 + (r >> 8) % 81;
            let addr = (0x2001_0db8_u128 << 96)
                | u128::from(rng.next() >> 32) << 64
                | u128::from(rng.next());
            let net = ipnet::Ipv6Net::new(Ipv6Addr::from(addr), len as u8);
            net.map(|n| n.trunc().to_string())
        };
        let Ok(cidr) = cidr else { continue };
        if !seen.insert(cidr.clone()) {
            continue;
        }
        let delete_after = (r % 8 == 0).then(|| "2026-06-01T00:00:00Z".to_owned());
        out.push(AccessEntryConfig {
            cidr,
            comment: None,
            delete_after,
        });
    }
    out
}

/// Half hits (network addresses of random entries, so mixed v4/v6), half misses.
fn probes(rng: &mut XorShift, list: &AccessList) -> Vec<IpAddr> {
    let entries = list.entries();
    (0..PROBES)
        .map(|i| {
            let r = rng.next();
            let hit = entries
                .get(r as usize % entries.len().max(1))
                .map(|e| e.net.network());
            match (i % 4, hit) {
                (0 | 1, Some(ip)) => ip,
                (2, _) => IpAddr::V4(Ipv4Addr::from(r as u32 | 0x8000_0000)),
                _ => IpAddr::V6(Ipv6Addr::from(u128::from(r) << 64 | 0x2a00 << 112)),
            }
        })
        .collect()
}

fn lookups(c: &mut Criterion) {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let built = AccessList::build(&entries(&mut rng), &BuildOptions::default(), NOW);
    let Ok((list, _)) = built else {
        panic!("bench access list does not build: {built:?}")
    };
    let probes = probes(&mut rng, &list);
    let mut group = c.benchmark_group("access_list");
    group.throughput(Throughput::Elements(probes.len() as u64));
    group.bench_function("check_10k_entries_mixed", |b| {
        b.iter(|| {
            for ip in &probes {
                black_box(list.check(black_box(*ip), NOW));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
