# bench/bench.mk: (placeholder until the part lands)
