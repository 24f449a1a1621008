"""Bundled data (weights, sample RAW, icons), installed as the package ``darkroom_resources``."""
