#!/usr/bin/env python3
"""What kroll observed while a slow gate waited (BENCHMARKS.md, "What the slow gates waited for").

Usage: slow_gates.py LOG OUT [THRESHOLD_MS]

LOG: the coordinator's log that `kroll-bench upgrade --log LOG` keeps (with `--log` it carries a
debug line per gate and rejoin-watch observation and its verdict); OUT: that benchmark run's
stdout (its per-step table). For every broker step whose gate latency is at least THRESHOLD_MS
(default 150), prints every observation kroll made of that broker from 0.3 s before the
independent observer saw it back to the gate's pass: its time relative to the observer's "back",
the verdict, and how many of its partitions had it in the ISR; plus the ZooKeeper read times
of the observations in that window. Last, over the whole run: how many Kafka observations kroll
made, their ZooKeeper read times, and the intervals between the rejoin watch's observations.
"""

import re
import sys
from datetime import datetime, timezone

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def stamp(ts):
    return datetime.strptime(ts[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def main():
    log, out = sys.argv[1], sys.argv[2]
    threshold = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    steps = []
    for line in open(out, encoding="utf-8"):
        m = re.match(r"(roll-brokers|bump-ibp)/\S+-kafka-(\d+)\s+(-?\d+) ms\s+(-?\d+) ms", line)
        if m:
            steps.append((m.group(1), int(m.group(2)), int(m.group(4))))
    per_broker, zk_reads, watch_times = {}, [], []
    for line in open(log, encoding="utf-8", errors="replace"):
        m = re.match(r"(\S+Z) DEBUG kroll::upgrade::(\w+): (.*)", ANSI.sub("", line))
        if not m:
            continue
        ts, _, rest = m.groups()
        if "observed Kafka" in rest:
            zk_reads.append((stamp(ts), int(re.search(r"zookeeper_ms=(\d+)", rest).group(1))))
            continue
        b = re.search(r"rejoin watch observed broker=(\d+) ", rest) or re.search(
            r'gate observed what="broker (\d+) back in service"', rest
        )
        if not b:
            continue
        if "rejoin watch observed" in rest:
            watch_times.append(stamp(ts))
        d = re.search(r"on (\d+/\d+) of its partitions", rest)
        state = d.group(1) if d else ("not registered" if "not registered" in rest else "")
        per_broker.setdefault(int(b.group(1)), []).append(
            (stamp(ts), "verdict=passed" in rest, "back=true" in rest, state)
        )
    nth = {}
    for phase, broker, latency in steps:
        k = nth.get(broker, 0)
        nth[broker] = k + 1
        # One episode per restart of the broker: its observations, split at gaps over 20 s.
        episodes, current = [], []
        for o in per_broker.get(broker, []):
            if current and o[0] - current[-1][0] > 20:
                episodes.append(current)
                current = []
            current.append(o)
        episodes.append(current)
        if latency < threshold or k >= len(episodes) or not episodes[k]:
            continue
        ep = episodes[k]
        passed_at = next((o[0] for o in ep if o[2]), ep[-1][0])
        back = passed_at - latency / 1000
        window = [o for o in ep if o[0] >= back - 0.3]
        waits = sum(1 for o in window if not o[1])
        reads = sorted(z for t, z in zk_reads if back - 0.3 <= t <= passed_at)
        read_p50 = reads[len(reads) // 2] if reads else "-"
        read_max = reads[-1] if reads else "-"
        print(
            f"{phase} kafka-{broker:02d}: gate latency {latency} ms; {len(window)} observations, "
            f"{waits} not passing; ZooKeeper read p50 {read_p50} ms, max {read_max} ms"
        )
        for t, ok, _, state in window:
            when = datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
            print(f"   {when} {t - back:+7.3f}s {'pass' if ok else 'WAIT'} {state}")
    reads = sorted(z for _, z in zk_reads)
    gaps = sorted((b - a) * 1000 for a, b in zip(watch_times, watch_times[1:]) if b - a < 1)

    def pct(v, p):
        return round(v[int((len(v) - 1) * p)]) if v else "-"

    print(
        f"whole run: {len(reads)} Kafka observations; ZooKeeper read ms p50 {pct(reads, .5)}, "
        f"p90 {pct(reads, .9)}, p99 {pct(reads, .99)}, max {reads[-1] if reads else '-'}; "
        f"rejoin watch every {pct(gaps, .5)} ms at p50, {pct(gaps, .9)} at p90, {pct(gaps, .99)} at p99"
    )


if __name__ == "__main__":
    main()
