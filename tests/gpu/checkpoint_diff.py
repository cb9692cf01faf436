#!/usr/bin/env python3
"""tests/gpu/checkpoint_diff.py: compares two dlcm checkpoints (engine/train/checkpoint.h) part by
part: exit 0 when parameters, AdamW m and v, the trainer's counters and the config text are
byte-identical; only the wall-clock train_seconds and the checksums that cover it may differ.
--ignore-config: the config text may differ too (runs trained in different directories at once).
Usage: checkpoint_diff.py [--ignore-config] A B"""
import struct
import sys

HEADER = 96
STATE_FIELDS = ["step", "loader_position", "config_hash", "seed", "initial_loss",
                "flops_launched", "tokens_done", "concepts_done", "window_loss", "window_aux",
                "window_steps", "window_tokens", "window_concepts", "train_seconds",
                "last_train_loss", "reserved"]
WALL_CLOCK = {"train_seconds"}


def parts(path):
    data = open(path, "rb").read()
    if data[:8] != b"DLCMCKPT":
        sys.exit(f"{path}: not a dlcm checkpoint")
    n_params, = struct.unpack_from("<Q", data, 16)
    out = {"header (version, sizes, config hash, steps)": data[8:40], "payload length": data[40:48]}
    off = HEADER
    for name in STATE_FIELDS:
        out["state." + name] = data[off:off + 8]
        off += 8
    text_len, = struct.unpack_from("<Q", data, off)
    off += 8
    out["config text"] = data[off:off + text_len]
    off += text_len
    for name in ("params", "adam m", "adam v"):
        out[name] = data[off:off + 4 * n_params]
        off += 4 * n_params
    if off != len(data):
        sys.exit(f"{path}: {len(data)} bytes, layout says {off}")
    return out, n_params


def main():
    args = sys.argv[1:]
    ignore = {"config text", "payload length"} if args[:1] == ["--ignore-config"] else set()
    args = args[1:] if ignore else args
    if len(args) != 2:
        sys.exit(__doc__)
    a, na = parts(args[0])
    b, nb = parts(args[1])
    if na != nb:
        print(f"parameter counts differ: {na} vs {nb}")
        return 1
    differ = 0
    for key in a:
        if key.replace("state.", "") in WALL_CLOCK or key in ignore or a[key] == b[key]:
            continue
        differ += 1
        if key in ("params", "adam m", "adam v"):
            fa = struct.unpack(f"<{na}f", a[key])
            fb = struct.unpack(f"<{na}f", b[key])
            n_diff = sum(1 for x, y in zip(fa, fb) if x != y)
            worst = max(abs(x - y) for x, y in zip(fa, fb))
            print(f"  {key}: {n_diff} of {na} values differ (largest difference {worst:.3g})")
        elif key.startswith("state."):
            print(f"  {key}: {a[key].hex()} vs {b[key].hex()}")
        else:
            print(f"  {key} differs")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
