"""Baselines the API is measured against, written the way typical code is."""
