#!/usr/bin/env python3
"""bench/ncu_summary.py: the kernels of an `ncu --metrics gpu__time_duration.sum --csv --page raw`
log grouped by name, with total time, share and count, largest first (a profile of where a
training step spends its GPU time)."""
import csv
import sys
from collections import defaultdict


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    lines = [l for l in open(path, errors="replace") if l.startswith('"')]
    rows = list(csv.reader(lines))
    head = rows[0]
    name_col = head.index("Kernel Name")
    time_col = head.index("gpu__time_duration.sum")
    unit = rows[1][time_col] if len(rows) > 1 else ""
    scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(unit, 1.0)
    total = defaultdict(float)
    count = defaultdict(int)
    for r in rows[1:]:
        try:
            t = float(r[time_col].replace(",", "")) * scale
        except ValueError:
            continue
        name = r[name_col].split("(")[0][:70]
        total[name] += t
        count[name] += 1
    grand = sum(total.values())
    print("total GPU time %.1f ms over %d kernels" % (grand / 1e3, sum(count.values())))
    for name, t in sorted(total.items(), key=lambda x: -x[1])[:top]:
        print("%8.2f ms %5.1f%% %5d  %s" % (t / 1e3, 100 * t / grand, count[name], name))


if __name__ == "__main__":
    main()
