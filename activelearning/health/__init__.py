"""Device and camera health: the telemetry samples each heartbeat leaves (for the Devices page's charts, the
rollout gates and the alert rules) and the queries over them (docs/health.md)."""
