#!/usr/bin/env python3
"""Medians per (peer, protocol, logn) from bench/psi_compare.sh output, as a Markdown table."""
import json
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)
for line in open(sys.argv[1] if len(sys.argv) > 1 else "bench/out/psi.jsonl"):
    line = line.strip()
    if not line:
        continue
    d = json.loads(line)
    rows[(d["peer"], d["protocol"], d["logn"])].append(d)

print("| implementation | protocol | items/side | wall s (median) | wall incl. process start s | CPU s (both parties) | bytes | max RSS MiB | correct | runs |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (peer, proto, logn), rs in sorted(rows.items(), key=lambda k: (k[0][2], k[0][1], k[0][0])):
    ok = [r for r in rs if r.get("wall_s") is not None]
    wall = statistics.median(r["wall_s"] for r in ok) if ok else None
    cpu = statistics.median(r["cpu_s"] for r in ok if r.get("cpu_s") is not None) if ok else None
    comm = [r.get("comm_bytes") for r in ok if r.get("comm_bytes")]
    comm_s = f"{statistics.median(comm) / 2**20:.1f} MiB" if comm else "n/a"
    rss = [max(r["max_rss_mib"]) for r in ok if r.get("max_rss_mib")]
    rss_s = f"{max(rss):.0f}" if rss else "n/a"
    correct = all(r.get("correct") for r in rs)
    pw = [r.get("proc_wall_s") or r["wall_s"] for r in ok]
    pwall = statistics.median(pw) if pw else None
    fmt = lambda v: f"{v:.2f}" if v is not None else "failed"
    print(f"| {peer} | {proto} | 2^{logn} | {fmt(wall)} | {fmt(pwall)} | {fmt(cpu)} | {comm_s} | {rss_s} | {correct} | {len(rs)} |")
