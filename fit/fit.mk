# fit/fit.mk: (placeholder until the part lands)
