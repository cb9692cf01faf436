# engine/train.mk: (placeholder until the part lands)
