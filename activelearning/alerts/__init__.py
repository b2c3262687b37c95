"""Alerts: per-project rules over device health, drift and rollouts, swept every minute (docs/alerts.md)."""
