"""Bundled data files (the price snapshot)."""
