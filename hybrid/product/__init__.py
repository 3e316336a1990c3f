"""The product floor: what a user meets. The fused forecaster (`fused`), evaluation (the
comparison table), per-series selection (`select`), plots and the command line (`cli`)."""
