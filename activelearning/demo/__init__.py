"""The demo: the committed people detector and the whole loop on synthetic data."""
