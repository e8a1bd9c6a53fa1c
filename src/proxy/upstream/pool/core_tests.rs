use super::*;

fn limits(max_size: usize, max_waiters: usize) -> Limits {
    Limits {
        max_size,
        min_idle: 0,
        idle_timeout_ms: Some(1_000),
        wait_timeout_ms: 100,
        max_waiters,
    }
}

/// Checks out and opens a connection, returning its id.
fn open_one(core: &mut PoolCore, now: Millis) -> ConnId {
    match core.checkout(now) {
        Checkout::Open(id) => {
            assert_eq!(core.opened(id, now), Ok(Opened::InUse));
            id
        }
        other => panic!("expected Open, got {other:?}"),
    }
}

#[test]
fn checkout_sequence_table() {
    // max_size 2, one waiter allowed: open, open, wait, full.
    let mut core = PoolCore::new(limits(2, 1));
    let a = open_one(&mut core, 0);
    let b = open_one(&mut core, 0);
    assert_ne!(a, b);
    assert_eq!(
        core.checkout(10),
        Checkout::Wait {
            waiter: 1,
            deadline: 110
        }
    );
    assert_eq!(core.checkout(10), Checkout::Full);
    let s = core.stats();
    assert_eq!((s.size, s.in_use, s.idle, s.waiting), (2, 2, 0, 1));
}

#[test]
fn clean_checkin_goes_to_oldest_waiter_then_idle() {
    let mut core = PoolCore::new(limits(1, 4));
    let a = open_one(&mut core, 0);
    let Checkout::Wait { waiter: w1, .. } = core.checkout(1) else {
        panic!("wait")
    };
    let Checkout::Wait { waiter: w2, .. } = core.checkout(2) else {
        panic!("wait")
    };
    let r = core.checkin(a, Outcome::Clean, 3).unwrap();
    assert_eq!(r.close, None);
    assert_eq!(
        r.grant,
        Some(Grant {
            waiter: w1,
            granted: Granted::Conn(a)
        })
    );
    let r = core.checkin(a, Outcome::Clean, 4).unwrap();
    assert_eq!(r.grant.map(|g| g.waiter), Some(w2));
    assert_eq!(
        core.checkin(a, Outcome::Clean, 5).unwrap(),
        Released::default()
    );
    assert_eq!(core.checkout(6), Checkout::Idle(a));
}

#[test]
fn discard_reasons_table() {
    for reason in DiscardReason::ALL {
        let mut core = PoolCore::new(limits(1, 1));
        let a = open_one(&mut core, 0);
        let r = core.checkin(a, Outcome::Discard(reason), 1).unwrap();
        assert_eq!(r.close, Some(reason), "{}", reason.as_str());
        assert_eq!(core.stats().discards_for(reason), 1);
        assert_eq!(core.stats().size, 0);
        // The slot is free again: the next checkout opens.
        assert!(matches!(core.checkout(2), Checkout::Open(_)));
    }
}

#[test]
fn discard_hands_the_free_slot_to_a_waiter() {
    let mut core = PoolCore::new(limits(1, 1));
    let a = open_one(&mut core, 0);
    let Checkout::Wait { waiter, .. } = core.checkout(1) else {
        panic!("wait")
    };
    let r = core
        .checkin(a, Outcome::Discard(DiscardReason::Error), 2)
        .unwrap();
    let Some(Grant {
        waiter: w,
        granted: Granted::Open(id),
    }) = r.grant
    else {
        panic!("expected an open grant, got {r:?}")
    };
    assert_eq!(w, waiter);
    assert_ne!(id, a);
    assert_eq!(core.opened(id, 3), Ok(Opened::InUse));
}

#[test]
fn open_failure_frees_the_slot() {
    let mut core = PoolCore::new(limits(1, 1));
    let Checkout::Open(id) = core.checkout(0) else {
        panic!("open")
    };
    let Checkout::Wait { waiter, .. } = core.checkout(0) else {
        panic!("wait")
    };
    let grant = core.open_failed(id).unwrap().expect("grant");
    assert_eq!(grant.waiter, waiter);
    assert!(matches!(grant.granted, Granted::Open(_)));
    assert_eq!(core.open_failed(id), Err(CoreError::NotOpening(id)));
}

#[test]
fn waiters_time_out_at_their_deadline() {
    let mut core = PoolCore::new(limits(1, 3));
    let _a = open_one(&mut core, 0);
    let Checkout::Wait { waiter: w1, .. } = core.checkout(0) else {
        panic!("wait")
    };
    let Checkout::Wait { waiter: w2, .. } = core.checkout(50) else {
        panic!("wait")
    };
    assert!(core.tick(99).timed_out.is_empty());
    assert_eq!(core.tick(100).timed_out, vec![w1]);
    assert_eq!(core.tick(150).timed_out, vec![w2]);
    assert_eq!(core.stats().wait_timeouts_total, 2);
    assert_eq!(core.stats().waiting, 0);
}

#[test]
fn a_wait_expired_by_its_own_timer_counts_once_a_cancelled_one_not_at_all() {
    let mut core = PoolCore::new(limits(1, 3));
    let _a = open_one(&mut core, 0);
    let Checkout::Wait { waiter: w1, .. } = core.checkout(0) else {
        panic!("wait")
    };
    let Checkout::Wait { waiter: w2, .. } = core.checkout(0) else {
        panic!("wait")
    };
    assert!(core.expire_wait(w1));
    assert!(!core.expire_wait(w1), "already gone: not counted twice");
    assert!(core.cancel_wait(w2));
    assert!(core.tick(1_000).timed_out.is_empty());
    assert_eq!(core.stats().wait_timeouts_total, 1);
    assert_eq!(core.stats().waiting, 0);
}

#[test]
fn cancel_wait_reports_whether_still_queued() {
    let mut core = PoolCore::new(limits(1, 2));
    let a = open_one(&mut core, 0);
    let Checkout::Wait { waiter, .. } = core.checkout(0) else {
        panic!("wait")
    };
    assert!(core.cancel_wait(waiter));
    assert!(!core.cancel_wait(waiter));
    // Nobody waits: the connection idles.
    assert_eq!(
        core.checkin(a, Outcome::Clean, 1).unwrap(),
        Released::default()
    );
}

#[test]
fn idle_timeout_closes_oldest_surplus_and_keeps_min_idle() {
    let mut core = PoolCore::new(Limits {
        min_idle: 1,
        ..limits(3, 0)
    });
    let ids: Vec<_> = (0..3).map(|_| open_one(&mut core, 0)).collect();
    for (t, id) in ids.iter().enumerate() {
        core.checkin(*id, Outcome::Clean, t as Millis).unwrap();
    }
    assert_eq!(core.tick(999).close, Vec::<ConnId>::new());
    assert_eq!(core.tick(1_001).close, vec![ids[0], ids[1]]);
    // The last one stays: min_idle.
    assert!(core.tick(10_000).close.is_empty());
    assert_eq!(core.stats().discards_for(DiscardReason::Idle), 2);
    assert_eq!(core.stats().idle, 1);
}

#[test]
fn tick_opens_spares_for_min_idle_and_spares_go_idle() {
    let mut core = PoolCore::new(Limits {
        min_idle: 2,
        ..limits(3, 1)
    });
    let t = core.tick(0);
    assert_eq!(t.open.len(), 2);
    // Asking again while they open does not ask for more.
    assert!(core.tick(1).open.is_empty());
    for id in &t.open {
        assert_eq!(core.opened(*id, 2), Ok(Opened::Idle));
    }
    assert_eq!(core.stats().idle, 2);
    assert_eq!(core.checkout(3), Checkout::Idle(t.open[1]));
}

#[test]
fn bump_generation_closes_idle_and_discards_old_in_use() {
    let mut core = PoolCore::new(limits(3, 0));
    let a = open_one(&mut core, 0);
    let b = open_one(&mut core, 0);
    let Checkout::Open(opening) = core.checkout(0) else {
        panic!("open")
    };
    core.checkin(a, Outcome::Clean, 1).unwrap();
    assert_eq!(core.bump_generation(), vec![a]);
    let r = core.checkin(b, Outcome::Clean, 2).unwrap();
    assert_eq!(r.close, Some(DiscardReason::StaleGeneration));
    // Opened under the old generation: never handed out.
    assert!(matches!(core.opened(opening, 3), Ok(Opened::Stale(_))));
    assert_eq!(core.stats().discards_for(DiscardReason::StaleGeneration), 3);
    assert_eq!(core.stats().size, 0);
    let c = open_one(&mut core, 4);
    assert_eq!(core.generation_of(c), Some(1));
}

#[test]
fn drain_refuses_fails_waiters_and_closes_returns() {
    let mut core = PoolCore::new(limits(2, 2));
    let a = open_one(&mut core, 0);
    let b = open_one(&mut core, 0);
    core.checkin(a, Outcome::Clean, 1).unwrap();
    let _ = core.checkout(1); // takes a back
    let Checkout::Wait { waiter, .. } = core.checkout(1) else {
        panic!("wait")
    };
    let (waiters, idle) = core.drain();
    assert_eq!(waiters, vec![waiter]);
    assert!(idle.is_empty());
    assert_eq!(core.checkout(2), Checkout::Closed);
    for id in [a, b] {
        let r = core.checkin(id, Outcome::Clean, 3).unwrap();
        assert_eq!(
            r,
            Released {
                close: Some(DiscardReason::Drain),
                grant: None
            }
        );
    }
    assert_eq!(core.stats().size, 0);
    assert!(core.tick(10_000).open.is_empty());
}

#[test]
fn unknown_ids_are_errors_not_panics() {
    let mut core = PoolCore::new(limits(1, 1));
    assert_eq!(
        core.checkin(42, Outcome::Clean, 0),
        Err(CoreError::NotInUse(42))
    );
    assert_eq!(core.opened(42, 0), Err(CoreError::NotOpening(42)));
    let a = open_one(&mut core, 0);
    core.checkin(a, Outcome::Clean, 0).unwrap();
    assert_eq!(
        core.checkin(a, Outcome::Clean, 0),
        Err(CoreError::NotInUse(a))
    );
}

#[test]
fn limits_are_normalized() {
    let core = PoolCore::new(Limits {
        max_size: 0,
        min_idle: 5,
        ..limits(0, 0)
    });
    assert_eq!(core.limits().max_size, 1);
    assert_eq!(core.limits().min_idle, 1);
}
