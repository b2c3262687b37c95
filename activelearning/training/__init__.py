"""Training: the retrain threshold and requests, runs and trainers, the callback, the promotion gate."""
