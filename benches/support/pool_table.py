#!/usr/bin/env python3
"""benches/pool.sh helper. `annotate`: adds to one loadgen JSON line the fast upstream's
connection counts, the most sockets `ss` saw to the upstream, and the deltas of the proxy's
mongoward_pool_* metrics (wait-time quantiles from the histogram buckets). `table`: prints the
throughput, idle-client and contention tables with medians over repetitions. Reports only;
never fails on numbers."""
import argparse
import json
import re
import statistics
import sys
from collections import defaultdict

SAMPLE = re.compile(r'^(\w+)(?:\{([^}]*)\})?\s+(\S+)$')


def parse_metrics(path):
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or not m.group(1).startswith("mongoward_pool_"):
            continue
        labels = dict(kv.split("=", 1) for kv in (m.group(2) or "").split(",") if "=" in kv)
        labels = {k: v.strip('"') for k, v in labels.items()}
        key = m.group(1) + "".join(f"|{k}={v}" for k, v in sorted(labels.items()) if k != "cluster")
        out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def quantile(buckets, q):
    """buckets: [(upper bound in s, count in this bucket)], the last bound inf."""
    total = sum(c for _, c in buckets)
    if total <= 0:
        return None
    want, seen, lower = q * total, 0.0, 0.0
    for upper, c in buckets:
        if c > 0 and seen + c >= want:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (want - seen) / c
        seen += c
        lower = upper
    return lower


def pool_delta(before, after):
    if not after:
        return None
    d = {k: after[k] - before.get(k, 0.0) for k in after}
    cum = sorted(((float(k.split("le=")[1]), v) for k, v in d.items()
                  if k.startswith("mongoward_pool_wait_seconds_bucket")), key=lambda x: x[0])
    buckets, prev = [], 0.0
    for le, c in cum:
        buckets.append((le, c - prev))
        prev = c
    discards = {k.split("reason=")[1]: v for k, v in d.items()
                if k.startswith("mongoward_pool_discards_total") and v}
    us = lambda s: None if s is None else s * 1e6
    return {
        "size_after": after.get("mongoward_pool_size"),
        "idle_after": after.get("mongoward_pool_idle"),
        "opened": d.get("mongoward_pool_opened_total"),
        "wait_timeouts": d.get("mongoward_pool_wait_timeouts_total"),
        "waits": d.get("mongoward_pool_wait_seconds_count"),
        "wait_mean_us": us(d["mongoward_pool_wait_seconds_sum"] / d["mongoward_pool_wait_seconds_count"])
        if d.get("mongoward_pool_wait_seconds_count") else None,
        "wait_p50_us": us(quantile(buckets, 0.50)),
        "wait_p99_us": us(quantile(buckets, 0.99)),
        "discards": discards,
    }


def annotate(a):
    r = json.loads(sys.stdin.read())
    m = re.search(r"open=(\d+) peak=(\d+) accepted=(\d+)", a.upstream or "")
    r["upstream"] = {"open_after": int(m.group(1)), "peak": int(m.group(2))} if m else None
    try:
        samples = [int(x) for x in open(a.ss).read().split()]
    except (OSError, ValueError):
        samples = []
    r["ss_max"] = max(samples) if samples else None
    r["pool"] = pool_delta(parse_metrics(a.metrics_before), parse_metrics(a.metrics_after))
    print(json.dumps(r))


def fmt(x, spec="{:.2f}"):
    return "n/a" if x is None else spec.format(x)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def get(r, *path):
    for p in path:
        if r is None:
            return None
        r = r.get(p)
    return r


def load(path):
    runs = defaultdict(lambda: defaultdict(dict))
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            s, v, rep = r["label"].split("/")
            runs[s][int(rep)][v] = r
    return runs


def cell(r):
    if r is None:
        return "missing"
    s = f"{r['ops_per_sec']:>7.0f} {r['p50_us']:>6}/{r['p99_us']:<6} up {fmt(get(r, 'upstream', 'peak'), '{}'):>5}"
    return s + (f" E{r['errors']}" if r.get("errors") else "")


def per_variant_table(title, reps, variants, extra=None):
    print(f"\n== {title}: ops/s, p50/p99 µs, upstream connections (peak) ==")
    print("rep | " + " | ".join(f"{v:>30}" for v in variants))
    for rep in sorted(reps):
        print(f"{rep:>3} | " + " | ".join(f"{cell(reps[rep].get(v)):>30}" for v in variants))
    meds = {}
    for v in variants:
        rs = [reps[rep].get(v) for rep in reps]
        meds[v] = {k: med([get(r, *k.split('.')) for r in rs])
                   for k in ("ops_per_sec", "p50_us", "p99_us", "upstream.peak", "ss_max",
                             "pool.wait_p50_us", "pool.wait_p99_us", "pool.wait_mean_us",
                             "pool.opened", "pool.wait_timeouts", "errors")}
    print("med | " + " | ".join(
        f"{fmt(meds[v]['ops_per_sec'], '{:>7.0f}')} {fmt(meds[v]['p50_us'], '{:>6.0f}')}/"
        f"{fmt(meds[v]['p99_us'], '{:<6.0f}')} up {fmt(meds[v]['upstream.peak'], '{:>5.0f}')}".rjust(30)
        for v in variants))
    for v in variants:
        if v.startswith("req"):
            m = meds[v]
            print(f"  {v}: pool wait p50 {fmt(m['pool.wait_p50_us'], '{:.0f}')} µs, p99 "
                  f"{fmt(m['pool.wait_p99_us'], '{:.0f}')} µs, mean {fmt(m['pool.wait_mean_us'], '{:.0f}')} µs "
                  f"(histogram buckets); connections opened {fmt(m['pool.opened'], '{:.0f}')}, wait "
                  f"timeouts {fmt(m['pool.wait_timeouts'], '{:.0f}')}; ss max {fmt(m['ss_max'], '{:.0f}')}")
    return meds


def rep_ratios(reps, a, b):
    return med([ratio(get(reps[r].get(a), "ops_per_sec"), get(reps[r].get(b), "ops_per_sec")) for r in reps])


def tput(reps):
    m = per_variant_table("throughput, 64 clients (pool of 16)", reps, ["direct", "haproxy", "conn", "req16"])
    rc, rh = rep_ratios(reps, "req16", "conn"), rep_ratios(reps, "req16", "haproxy")
    print(f"  median per-repetition ratio request(16)/connection mode: {fmt(rc)} (goal >= 0.95); "
          f"request(16)/HAProxy: {fmt(rh)}; connection mode/HAProxy: {fmt(rep_ratios(reps, 'conn', 'haproxy'))}")
    return {"req_conn": rc, "req_ha": rh, "meds": m}


def idle(reps):
    print("\n== idle authenticated clients held open + 64 active (pool of 32) ==")
    out = defaultdict(list)
    for rep in sorted(reps):
        for v in ("req32", "conn", "direct"):
            r = reps[rep].get(v)
            if r is None:
                continue
            i = r.get("idle", {})
            who = "upstream" if v == "direct" else "proxy"
            per = get(i, "rss", who, "per_conn_kib")
            print(f"{rep:>3} {v:>6}: idle {i.get('opened')}/{i.get('conns')} (opened in "
                  f"{fmt(i.get('open_secs'), '{:.1f}')} s), {who} RSS {fmt(per, '{:.1f}')} KiB per idle client "
                  f"({get(i, 'rss', who, 'before_kib')} -> {get(i, 'rss', who, 'open_kib')} KiB); active: "
                  f"{r['ops_per_sec']:.0f} ops/s p50/p99 {r['p50_us']}/{r['p99_us']} µs"
                  + (f" E{r['errors']}" if r.get("errors") else "")
                  + f"; upstream connections peak {fmt(get(r, 'upstream', 'peak'), '{}')}, ss max "
                  f"{fmt(r.get('ss_max'), '{}')}"
                  + (f", pool opened {fmt(get(r, 'pool', 'opened'), '{:.0f}')}" if v.startswith("req") else ""))
            out[v].append(r)
    return out


def cont(reps):
    m = per_variant_table("contention, 256 clients: pools of 8 and 64 vs connection mode and direct",
                          reps, ["direct", "conn", "req64", "req8"])
    for base in ("conn", "req64", "direct"):
        add50 = med([(reps[r]["req8"]["p50_us"] - reps[r][base]["p50_us"])
                     for r in reps if "req8" in reps[r] and base in reps[r]])
        add99 = med([(reps[r]["req8"]["p99_us"] - reps[r][base]["p99_us"])
                     for r in reps if "req8" in reps[r] and base in reps[r]])
        print(f"  pool of 8 vs {base}: added latency p50 {fmt(add50, '{:+.0f}')} µs, p99 "
              f"{fmt(add99, '{:+.0f}')} µs (median of per-repetition differences); throughput "
              f"{fmt(rep_ratios(reps, 'req8', base))}x")
    return m


def table(a):
    runs = load(a.results)
    print(f"mongoward upstream pooling (issue 15 §4); {a.settings}; mongoward gates: TLS + "
          "10,000-entry access list + SCRAM user with 10 roles; worker_threads = 1")
    if "tput" in runs:
        tput(runs["tput"])
    if "idle" in runs:
        idle(runs["idle"])
    if "cont" in runs:
        cont(runs["cont"])


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    an = sub.add_parser("annotate")
    an.add_argument("--upstream", default="")
    an.add_argument("--ss", default="")
    an.add_argument("--metrics-before", default="")
    an.add_argument("--metrics-after", default="")
    tb = sub.add_parser("table")
    tb.add_argument("results")
    tb.add_argument("--settings", default="")
    a = ap.parse_args()
    annotate(a) if a.cmd == "annotate" else table(a)


if __name__ == "__main__":
    main()
