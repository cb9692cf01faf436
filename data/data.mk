# data/data.mk: (placeholder until the part lands)
