"""The router: window features, weighting, voting and per-series selection (issue 7)."""
