"""bench/step_times.py: what dlcm-bench --per-step 1 printed (its STEP lines), summarized: mean step
time by window from the first step, the bands of 64 concept rows seen, and the cost of a step whose
concept count falls in a band not seen before. Usage: python3 bench/step_times.py FILE..."""
import sys


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def summarize(path):
    rows = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in open(path) if l.startswith("STEP ")]
    if not rows:
        return "%s: no STEP lines" % path
    ms = [float(r["ms"]) for r in rows]
    bands = [int(float(r["concepts"])) // 64 for r in rows]
    seen, new_ms, old_ms = {bands[0]}, [], []
    for band, t in zip(bands[1:], ms[1:]):  # step 0 also allocates and plans everything: left out
        (old_ms if band in seen else new_ms).append(t)
        seen.add(band)
    return ("%s: steps 0-9 %.1f ms, 10-19 %.1f ms, 20-39 %.1f ms, 40-69 %.1f ms; concept bands of 64 seen: %d, "
            "new after step 10: %d; steps in a new band %.1f ms (%d), in a band seen before %.1f ms (%d), extra per "
            "new band %.1f ms"
            % (path, mean(ms[:10]), mean(ms[10:20]), mean(ms[20:40]), mean(ms[40:70]), len(set(bands)),
               len(set(bands[10:]) - set(bands[:10])), mean(new_ms), len(new_ms), mean(old_ms), len(old_ms),
               mean(new_ms) - mean(old_ms)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        print(summarize(path))
