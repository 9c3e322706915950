"""Architecture as data and the arithmetic on it: the catalogue, the trace (shapes, parameters, multiply-adds,
receptive fields) and the counting tables. Pure Python: nothing here imports torch."""
