#!/usr/bin/env python3
"""Summarises benches/compare.sh results (one JSON line per loadgen run) as a text table:
per-repetition figures for each variant, mongoward/HAProxy ratios, their medians, and the
issue-8 goals. Reports only; never fails on numbers."""
import argparse
import json
import statistics
from collections import defaultdict


def load(path):
    ops, idle, setup = defaultdict(dict), defaultdict(list), {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            parts = r.get("label", "").split("/")
            if r.get("mode") == "ops":
                v, c, rep = parts
                ops[(int(c), int(rep))][v] = r
            elif r.get("mode") == "idle":
                idle[parts[0]].append(r)
            elif r.get("mode") == "setup":
                setup[parts[0]] = r
    return ops, idle, setup


def cpu(r, name):
    x = r.get("cpu", {}).get(name, {})
    return x.get("cpu_us_per_op")


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt(x, spec="{:.2f}"):
    return "n/a" if x is None else spec.format(x)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ops_tables(ops):
    goals = {}
    for c in sorted({c for c, _ in ops}):
        print(f"\n== find-by-_id, {c} client(s): ops/s, p50/p99 µs, proxy CPU µs/op ==")
        print(f"{'rep':>3} | {'direct':>22} | {'haproxy':>29} | {'mongoward':>29} | "
              f"{'mw/ha ops':>9} {'mw/ha cpu':>9} {'mw/ha +p50':>10} {'mw/ha +p99':>10}")
        cols = defaultdict(list)
        for (cc, rep) in sorted(k for k in ops if k[0] == c):
            row = ops[(cc, rep)]
            d, h, m = row.get("direct"), row.get("haproxy"), row.get("mongoward")

            def cell(r, with_cpu):
                if r is None:
                    return "missing"
                s = f"{r['ops_per_sec']:>8.0f} {r['p50_us']:>5}/{r['p99_us']:<5}"
                if r.get("errors"):
                    s += f" E{r['errors']}"
                return s + (f" {fmt(cpu(r, 'proxy'), '{:5.1f}')}µs" if with_cpu else "")

            r_ops = ratio(m and m["ops_per_sec"], h and h["ops_per_sec"])
            r_cpu = ratio(m and cpu(m, "proxy"), h and cpu(h, "proxy"))
            add = lambda r, q: (r[q] - d[q]) if (r and d) else None
            r_p50 = ratio(add(m, "p50_us"), add(h, "p50_us"))
            r_p99 = ratio(add(m, "p99_us"), add(h, "p99_us"))
            for k, v in (("ops", r_ops), ("cpu", r_cpu), ("p50", r_p50), ("p99", r_p99)):
                cols[k].append(v)
            for k, r in (("d", d), ("h", h), ("m", m)):
                cols[k + "ops"].append(r and r["ops_per_sec"])
                cols[k + "p50"].append(r and r["p50_us"])
                cols[k + "p99"].append(r and r["p99_us"])
                cols[k + "cpu"].append(r and cpu(r, "proxy"))
            print(f"{rep:>3} | {cell(d, False):>22} | {cell(h, True):>29} | {cell(m, True):>29} | "
                  f"{fmt(r_ops):>9} {fmt(r_cpu):>9} {fmt(r_p50):>10} {fmt(r_p99):>10}")
        mcell = lambda k, with_cpu: (
            f"{fmt(med(cols[k + 'ops']), '{:>8.0f}')} {fmt(med(cols[k + 'p50']), '{:>5.0f}')}/"
            f"{fmt(med(cols[k + 'p99']), '{:<5.0f}')}"
            + (f" {fmt(med(cols[k + 'cpu']), '{:5.1f}')}µs" if with_cpu else ""))
        print(f"{'med':>3} | {mcell('d', False):>22} | {mcell('h', True):>29} | {mcell('m', True):>29} | "
              f"{fmt(med(cols['ops'])):>9} {fmt(med(cols['cpu'])):>9} {fmt(med(cols['p50'])):>10} "
              f"{fmt(med(cols['p99'])):>10}")
        goals[c] = {k: med(cols[k]) for k in ("ops", "cpu", "p50", "p99")}
        goals[c]["ha_direct"] = ratio(med(cols["hops"]), med(cols["dops"]))
    return goals


def idle_table(idle):
    out = {}
    print("\n== idle TLS connections (hello + find once; fresh proxy process per size): proxy VmRSS ==")
    print("  per-conn = (RSS with N open - RSS before) / N on first open; reopen = the same after "
          "closing all and opening N again (freed memory is reused, so ~0 is expected); "
          "growth = RSS after the 2nd close - RSS after the 1st close (a leak shows here)")
    for v in ("haproxy", "mongoward"):
        for r in idle.get(v, []):
            rounds = r["rounds"]
            proxy = [x["rss"].get("proxy", {}) for x in rounds]
            per = [p.get("per_conn_kib") for p in proxy]
            closed = [p.get("closed_kib") for p in proxy]
            growth = (closed[-1] - closed[0]) if len(closed) > 1 and None not in closed else None
            fails = sum(x["failed"] for x in rounds)
            err = next((x["first_error"] for x in rounds if x.get("first_error")), None)
            print(f"{v:>10} {r['conns']:>6} conns: per-conn {fmt(per[0], '{:.1f}')} KiB, reopen "
                  f"{fmt(per[-1], '{:.1f}')} KiB; before {proxy[0].get('before_kib')} KiB, open "
                  f"{proxy[0].get('open_kib')} KiB; growth {fmt(growth, '{:+d}')} KiB"
                  + (f"; {fails} failed ({err})" if fails else ""))
            out[(v, r["conns"])] = per[0]
    for (v, n), per in sorted(out.items()):
        if v == "mongoward" and ("haproxy", n) in out:
            print(f"  ratio mongoward/haproxy per connection at {n}: "
                  f"{fmt(ratio(per, out[('haproxy', n)]))} (goal <= 1.20)")
    return out


def setup_table(setup):
    print("\n== connection set-up (TCP+TLS+hello[+SCRAM]), 4 concurrent clients ==")
    per_cpu = {}
    for v in ("haproxy", "mongoward"):
        r = setup.get(v)
        if not r:
            print(f"{v:>10}: missing")
            continue
        us = cpu(r, "proxy")
        per_cpu[v] = 1e6 / us if us else None
        print(f"{v:>10}: {r['ops_per_sec']:.0f} set-ups/s, proxy {fmt(us, '{:.0f}')} µs CPU each = "
              f"{fmt(per_cpu[v], '{:.0f}')} per proxy CPU-second"
              + (f", {r['errors']} errors ({r.get('first_error')})" if r.get("errors") else ""))
    print(f"  ratio mongoward/haproxy: {fmt(ratio(per_cpu.get('mongoward'), per_cpu.get('haproxy')))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--auth", default="0")
    ap.add_argument("--cpus", default="")
    ap.add_argument("--settings", default="")
    a = ap.parse_args()
    ops, idle, setup = load(a.results)
    gates = "TLS + 10,000-entry access list" + (" + SCRAM user with 10 roles" if a.auth == "1"
                                                  else " (SCRAM/authorization not switched on)")
    print(f"mongoward vs HAProxy 2.6 (mode tcp, ssl crt, nbthread 1) vs direct; {a.settings}; "
          f"pinning {a.cpus}; mongoward gates: {gates}")
    goals = ops_tables(ops)
    idle_table(idle)
    setup_table(setup)
    print("\n== goals (medians; ratios are mongoward/HAProxy) ==")
    for c, g in sorted(goals.items()):
        print(f"{c:>3} clients: throughput {fmt(g['ops'])} (goal >= 0.95), proxy CPU/op {fmt(g['cpu'])} "
              f"(goal <= 1.00), added p50 {fmt(g['p50'])} / p99 {fmt(g['p99'])} (goal <= 1.10); "
              f"HAProxy/direct throughput {fmt(g['ha_direct'])}")


if __name__ == "__main__":
    main()
