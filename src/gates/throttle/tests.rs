use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

fn fail_n(t: &mut Throttle, user: &str, ip: IpAddr, n: u32, now: u64) {
    for _ in 0..n {
        t.record_failure(user, ip, now);
    }
}

#[test]
fn defaults_are_documented_values() {
    let c = ThrottleConfig::default();
    assert_eq!(
        (c.free_failures, c.base_delay_ms, c.max_delay_ms),
        (3, 250, 5_000)
    );
    assert_eq!(
        (
            c.source_max_failures,
            c.source_window_ms,
            c.source_refuse_ms
        ),
        (20, 60_000, 300_000)
    );
    assert_eq!(
        (c.pair_forget_ms, c.max_entries, c.ipv6_prefix_len),
        (900_000, 65_536, 64)
    );
    assert_eq!((c.pair_max_failures, c.source_max_concurrent), (10, 128));
}

#[test]
fn config_serde_defaults_overrides_and_unknown_fields() {
    let empty: Result<ThrottleConfig, _> = toml::from_str("");
    assert_eq!(empty.ok(), Some(ThrottleConfig::default()));
    let partial: Result<ThrottleConfig, _> = toml::from_str("max_delay_ms = 9000");
    assert_eq!(
        partial.map(|c| (c.max_delay_ms, c.free_failures)).ok(),
        Some((9_000, 3))
    );
    assert!(toml::from_str::<ThrottleConfig>("max_delay = 1").is_err());
}

#[test]
fn pair_delay_grows_then_caps() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let mut seen = Vec::new();
    for _ in 0..9 {
        seen.push(t.check("alice", A, 1_000));
        t.record_failure("alice", A, 1_000);
    }
    seen.push(t.check("alice", A, 1_000));
    use Verdict::{Allow, Delay};
    let expected = [
        Allow,
        Allow,
        Allow,
        Delay(250),
        Delay(500),
        Delay(1000),
        Delay(2000),
        Delay(4000),
        Delay(5000),
        Delay(5000),
    ];
    assert_eq!(seen, expected);
}

#[test]
fn failures_from_elsewhere_do_not_slow_the_real_user() {
    let mut t = Throttle::new(ThrottleConfig::default());
    fail_n(&mut t, "alice", A, 9, 0);
    assert_eq!(t.check("alice", A, 0), Verdict::Delay(5_000));
    assert_eq!(t.check("alice", B, 0), Verdict::Allow);
}

#[test]
fn source_is_refused_after_many_failures_across_users_then_released() {
    let mut t = Throttle::new(ThrottleConfig::default());
    for i in 0..19 {
        t.record_failure(&format!("user{i}"), A, 1_000);
    }
    assert_eq!(t.check("fresh", A, 1_000), Verdict::Allow);
    t.record_failure("user19", A, 2_000);
    assert_eq!(
        t.check("fresh", A, 2_000),
        Verdict::Refuse {
            retry_after_ms: 300_000,
            reason: Refusal::SourceCooldown
        }
    );
    assert_eq!(
        t.check("fresh", A, 102_000),
        Verdict::Refuse {
            retry_after_ms: 200_000,
            reason: Refusal::SourceCooldown
        }
    );
    assert_eq!(t.check("fresh", B, 2_000), Verdict::Allow);
    assert_eq!(t.check("fresh", A, 302_000), Verdict::Allow);
    // The counter restarted: one more failure does not refuse again.
    t.record_failure("user20", A, 302_000);
    assert_eq!(t.check("fresh", A, 302_000), Verdict::Allow);
}

#[test]
fn failures_spread_over_windows_are_not_refused() {
    let mut t = Throttle::new(ThrottleConfig::default());
    for i in 0..100u64 {
        t.record_failure(&format!("user{i}"), A, i * 10_000);
    }
    assert_eq!(t.check("fresh", A, 1_000_000), Verdict::Allow);
}

#[test]
fn success_resets_pair_but_not_source() {
    let mut t = Throttle::new(ThrottleConfig::default());
    fail_n(&mut t, "alice", A, 5, 0);
    fail_n(&mut t, "bob", A, 14, 0);
    t.record_success("alice", A, 0);
    assert_eq!(t.check("alice", A, 0), Verdict::Allow);
    t.record_failure("carol", A, 0);
    assert!(matches!(t.check("alice", A, 0), Verdict::Refuse { .. }));
}

#[test]
fn pair_failures_are_forgotten() {
    let mut t = Throttle::new(ThrottleConfig::default());
    fail_n(&mut t, "alice", A, 5, 0);
    assert_eq!(t.check("alice", A, 899_999), Verdict::Delay(1_000));
    assert_eq!(t.check("alice", A, 900_000), Verdict::Allow);
    assert_eq!(t.entry_counts().0, 0);
    // A late failure after the forget period starts counting from one.
    fail_n(&mut t, "bob", A, 5, 0);
    t.record_failure("bob", A, 2_000_000);
    assert_eq!(t.check("bob", A, 2_000_000), Verdict::Allow);
}

#[test]
fn ipv6_sources_are_grouped_by_prefix() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let host = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
    fail_n(&mut t, "alice", host(1), 3, 0);
    assert_eq!(t.check("alice", host(2), 0), Verdict::Delay(250));
    let other_net = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
    assert_eq!(t.check("alice", other_net, 0), Verdict::Allow);
}

#[test]
fn ipv4_mapped_ipv6_counts_as_ipv4() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    fail_n(&mut t, "alice", mapped, 3, 0);
    assert_eq!(t.check("alice", A, 0), Verdict::Delay(250));
}

#[test]
fn memory_is_bounded() {
    let config = ThrottleConfig {
        max_entries: 10,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config);
    for i in 0..1_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(i));
        t.record_failure(&format!("user{i}"), ip, u64::from(i));
    }
    assert_eq!(t.entry_counts(), (10, 10));
}

#[test]
fn long_user_names_share_a_bounded_key() {
    let long = "é".repeat(1_000);
    assert!(user_key(&long).len() <= MAX_USER_KEY_BYTES);
    assert_eq!(user_key(&long), user_key(&format!("{long}x")));
    assert_eq!(user_key("short"), "short");
}

#[test]
fn clock_going_backwards_is_harmless() {
    let mut t = Throttle::new(ThrottleConfig::default());
    fail_n(&mut t, "alice", A, 20, 1_000_000);
    assert!(matches!(t.check("alice", A, 0), Verdict::Refuse { .. }));
    t.record_failure("alice", A, 0);
}

#[test]
fn parallel_proofs_never_exceed_the_failure_budget() {
    // The issue-13 attack: many conversations begun before any proof fails.
    let config = ThrottleConfig {
        source_max_concurrent: 0,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(config);
    let mut tickets: Vec<Ticket> = (0..500)
        .filter_map(|_| t.begin("alice", A, 1_000).1)
        .collect();
    assert_eq!(tickets.len(), 500, "no concurrency cap configured");
    // Every proof arrives at once: places are taken before any verdict is known.
    let mut verifying = Vec::new();
    for mut ticket in tickets.drain(..) {
        match t.reserve(&mut ticket, "alice", 1_500) {
            Verdict::Allow => verifying.push(ticket),
            Verdict::Refuse { reason, .. } => {
                assert_eq!(reason, Refusal::WindowFull);
                t.abandon(ticket);
            }
            Verdict::Delay(_) => panic!("no failure yet, no delay"),
        }
    }
    assert_eq!(verifying.len(), 20, "the source's failure budget");
    for ticket in verifying {
        t.finish(ticket, "alice", false, 1_600);
    }
    assert!(matches!(
        t.check("alice", A, 1_600),
        Verdict::Refuse {
            reason: Refusal::SourceCooldown,
            ..
        }
    ));
}

#[test]
fn a_conversation_begun_before_the_refusal_fails_after_it() {
    let mut t = Throttle::new(ThrottleConfig::default());
    let (_, early) = t.begin("alice", A, 0);
    let mut early = early.expect("admitted");
    fail_n(&mut t, "mallory", A, 20, 10);
    assert!(matches!(
        t.reserve(&mut early, "alice", 20),
        Verdict::Refuse {
            reason: Refusal::SourceCooldown,
            ..
        }
    ));
    t.abandon(early);
}

#[test]
fn successes_release_their_place_and_concurrency_is_capped() {
    let mut t = Throttle::new(ThrottleConfig::default());
    // Far more logins than the budget, all at once, all good: none is refused.
    let open: Vec<Ticket> = (0..100).filter_map(|_| t.begin("app", A, 0).1).collect();
    assert_eq!(open.len(), 100);
    for mut ticket in open {
        // The proxy verifies right after reserving, with no wait in between.
        assert_eq!(t.reserve(&mut ticket, "app", 0), Verdict::Allow);
        t.finish(ticket, "app", true, 0);
    }
    // The cap on unfinished conversations.
    let held: Vec<Ticket> = (0..128).filter_map(|_| t.begin("app", A, 0).1).collect();
    assert_eq!(held.len(), 128);
    let (v, ticket) = t.begin("app", A, 0);
    assert!(ticket.is_none());
    assert!(matches!(
        v,
        Verdict::Refuse {
            reason: Refusal::TooManyConcurrent,
            ..
        }
    ));
    assert_eq!(
        t.begin("app", B, 0).0,
        Verdict::Allow,
        "other sources unaffected"
    );
    for ticket in held {
        t.abandon(ticket);
    }
    assert!(
        t.begin("app", A, 0).1.is_some(),
        "abandoned tickets free their slot"
    );
}

#[test]
fn a_pair_is_locked_after_its_maximum_failures() {
    let mut t = Throttle::new(ThrottleConfig::default());
    // A patient guesser: one failure a minute never trips the source window.
    for i in 0..10u64 {
        assert!(!matches!(
            t.check("alice", A, i * 60_000),
            Verdict::Refuse { .. }
        ));
        t.record_failure("alice", A, i * 60_000);
    }
    let last = 9 * 60_000;
    assert_eq!(
        t.check("alice", A, last + 1_000),
        Verdict::Refuse {
            retry_after_ms: 899_000,
            reason: Refusal::PairLocked
        }
    );
    assert_eq!(
        t.check("alice", B, last),
        Verdict::Allow,
        "only from that source"
    );
    assert_eq!(
        t.check("bob", A, last),
        Verdict::Allow,
        "only for that user"
    );
    assert_eq!(t.check("alice", A, last + 900_000), Verdict::Allow);
}

proptest! {
    #[test]
    fn random_operations_respect_bounds(ops in proptest::collection::vec((0u8..3, 0u8..6, 0u8..4, 0u64..2_000_000), 1..200)) {
        let config = ThrottleConfig { max_entries: 8, ..ThrottleConfig::default() };
        let max_delay = config.max_delay_ms;
        let refuse = config.source_refuse_ms;
        let mut t = Throttle::new(config);
        for (op, user, ip, now) in ops {
            let user = format!("u{user}");
            let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, ip));
            match op {
                0 => t.record_failure(&user, ip, now),
                1 => t.record_success(&user, ip, now),
                _ => match t.check(&user, ip, now) {
                    Verdict::Allow => {}
                    Verdict::Delay(ms) => prop_assert!(ms > 0 && ms <= max_delay),
                    Verdict::Refuse { retry_after_ms, .. } => prop_assert!(retry_after_ms > 0 && retry_after_ms <= refuse),
                },
            }
            let (pairs, sources) = t.entry_counts();
            prop_assert!(pairs <= 8 && sources <= 8);
        }
    }
}

#[test]
fn a_conversation_waits_out_one_delay_only() {
    let mut t = Throttle::new(ThrottleConfig::default());
    fail_n(&mut t, "alice", A, 3, 0);
    let mut ticket = t.begin("alice", A, 0).1.expect("admitted");
    assert_eq!(t.reserve(&mut ticket, "alice", 0), Verdict::Delay(250));
    // Parallel failures meanwhile raise the pair's delay; this attempt has waited.
    fail_n(&mut t, "alice", A, 2, 100);
    assert_eq!(t.reserve(&mut ticket, "alice", 300), Verdict::Allow);
    t.finish(ticket, "alice", false, 300);
}
