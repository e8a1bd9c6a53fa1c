//! Property tests: random sequences of pool calls against a model of what the callers hold.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Op {
    Checkout,
    Opened(usize),
    OpenFailed(usize),
    Checkin(usize, u8),
    Cancel(usize),
    Advance(u64),
    Bump,
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Checkout),
        4 => any::<usize>().prop_map(Op::Opened),
        1 => any::<usize>().prop_map(Op::OpenFailed),
        5 => (any::<usize>(), 0u8..10).prop_map(|(i, o)| Op::Checkin(i, o)),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => (0u64..150).prop_map(Op::Advance),
        1 => Just(Op::Bump),
        1 => prop::bool::weighted(0.05).prop_map(|d| if d { Op::Drain } else { Op::Checkout }),
    ]
}

/// What the callers hold, mirrored independently of the core.
#[derive(Default)]
struct Model {
    now: Millis,
    generation: u64,
    draining: bool,
    held: Vec<ConnId>,
    opening: Vec<ConnId>,
    waiting: Vec<(WaiterId, Millis)>,
    gen_of: HashMap<ConnId, u64>,
}

impl Model {
    fn hand_out(&mut self, id: ConnId) {
        assert!(!self.held.contains(&id), "connection {id} handed out twice");
        assert_eq!(
            self.gen_of.get(&id),
            Some(&self.generation),
            "stale handout"
        );
        self.held.push(id);
    }

    fn reserved(&mut self, id: ConnId) {
        self.gen_of.insert(id, self.generation);
        self.opening.push(id);
    }

    fn grant(&mut self, grant: Option<Grant>) {
        let Some(g) = grant else { return };
        let pos = self.waiting.iter().position(|(w, _)| *w == g.waiter);
        let pos = pos.expect("grant to a waiter that is not waiting");
        self.waiting.remove(pos);
        match g.granted {
            Granted::Conn(id) => self.hand_out(id),
            Granted::Open(id) => self.reserved(id),
        }
    }
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

fn outcome(code: u8) -> Outcome {
    match code as usize {
        c if c < DiscardReason::ALL.len() => Outcome::Discard(DiscardReason::ALL[c]),
        _ => Outcome::Clean,
    }
}

fn apply(core: &mut PoolCore, m: &mut Model, op: Op) {
    match op {
        Op::Checkout => match core.checkout(m.now) {
            Checkout::Idle(id) => m.hand_out(id),
            Checkout::Open(id) => m.reserved(id),
            Checkout::Wait { waiter, deadline } => m.waiting.push((waiter, deadline)),
            Checkout::Full => assert_eq!(m.waiting.len(), core.limits().max_waiters),
            Checkout::Closed => assert!(m.draining),
        },
        Op::Opened(i) => {
            let Some(id) = pick(&m.opening, i) else {
                return;
            };
            m.opening.retain(|x| *x != id);
            match core.opened(id, m.now).expect("opening") {
                Opened::InUse => m.hand_out(id),
                Opened::Idle => {}
                Opened::Handoff(g) => m.grant(Some(g)),
                Opened::Stale(r) => {
                    assert!(m.draining || m.gen_of[&id] != m.generation);
                    m.grant(r.grant);
                }
            }
        }
        Op::OpenFailed(i) => {
            let Some(id) = pick(&m.opening, i) else {
                return;
            };
            m.opening.retain(|x| *x != id);
            let grant = core.open_failed(id).expect("opening");
            m.grant(grant);
        }
        Op::Checkin(i, code) => {
            let Some(id) = pick(&m.held, i) else { return };
            m.held.retain(|x| *x != id);
            let r = core.checkin(id, outcome(code), m.now).expect("in use");
            m.grant(r.grant);
        }
        Op::Cancel(i) => {
            let Some((w, _)) = pick(&m.waiting, i) else {
                return;
            };
            assert!(core.cancel_wait(w));
            m.waiting.retain(|(x, _)| *x != w);
        }
        Op::Advance(ms) => {
            m.now += ms;
            let t = core.tick(m.now);
            for w in &t.timed_out {
                let pos = m.waiting.iter().position(|(x, _)| x == w).expect("waiting");
                assert!(m.waiting[pos].1 <= m.now, "timed out before its deadline");
                m.waiting.remove(pos);
            }
            assert!(
                m.waiting.iter().all(|(_, d)| *d > m.now),
                "a waiter outlived its deadline"
            );
            for id in &t.close {
                assert!(!m.held.contains(id), "closing a connection in use");
            }
            for id in t.open {
                m.reserved(id);
            }
        }
        Op::Bump => {
            m.generation += 1;
            for id in core.bump_generation() {
                assert!(!m.held.contains(&id), "closing a connection in use");
            }
        }
        Op::Drain => {
            m.draining = true;
            let (waiters, _idle) = core.drain();
            assert_eq!(waiters.len(), m.waiting.len());
            m.waiting.clear();
        }
    }
}

fn check_invariants(core: &PoolCore, m: &Model) {
    let l = core.limits();
    let s = core.stats();
    assert!(
        s.in_use + s.idle + s.opening <= l.max_size,
        "over capacity: {s:?}"
    );
    assert!(s.waiting <= l.max_waiters, "queue over its bound");
    assert_eq!(s.waiting, m.waiting.len());
    assert_eq!(s.in_use, m.held.len());
    assert_eq!(s.opening, m.opening.len());
    if s.waiting > 0 {
        // Nobody waits while a connection idles or a slot is free.
        assert_eq!(s.idle, 0, "idle connection while requests wait");
        assert_eq!(s.size, l.max_size, "free slot while requests wait");
    }
}

fn limits() -> impl Strategy<Value = Limits> {
    (1usize..6, 0usize..4, 0usize..6, 1u64..200).prop_map(|(max, min_idle, waiters, wait)| Limits {
        max_size: max,
        min_idle: min_idle.min(max),
        idle_timeout_ms: Some(300),
        wait_timeout_ms: wait,
        max_waiters: waiters,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pool_invariants_hold(limits in limits(), ops in prop::collection::vec(op(), 1..200)) {
        let mut core = PoolCore::new(limits);
        let mut model = Model::default();
        for op in ops {
            apply(&mut core, &mut model, op);
            check_invariants(&core, &model);
        }
        // Everything still waiting is served or timed out by its deadline.
        let last = model.waiting.iter().map(|(_, d)| *d).max().unwrap_or(model.now);
        let rest = last.saturating_sub(model.now);
        apply(&mut core, &mut model, Op::Advance(rest));
        prop_assert!(model.waiting.is_empty());
        check_invariants(&core, &model);
    }
}
