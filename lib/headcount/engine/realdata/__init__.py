"""Loaders for the real data sets: CIFAR-10 (`realdata.cifar`) and MS MARCO passages (`realdata.msmarco`).

Each loader reads the offline copy under `headcount.engine.store.shared_data_dir()` and knows the standard way to
obtain the same data on a machine with internet; decoded arrays are cached under `headcount.engine.store.cache_dir()`.
"""
