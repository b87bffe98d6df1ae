"""Plumbing shared by every stage: paths, atomic writes, hashing, the on-disk array cache, runtime."""
