"""Measuring: the community's metrics (LVE, MVE, FDD) and ours, coupling, the phonetic probe, reports."""
