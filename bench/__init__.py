"""``make bench``: throughput and peak memory of the dataset validator against a naive baseline.

``python -m bench`` generates the datasets under ``bench/.data/`` (gitignored, reused when present), then measures
each (dataset, implementation) pair in a fresh subprocess so ``ru_maxrss`` is that run's own peak.
"""
