# sweep/sweep.mk: (placeholder until the part lands)
