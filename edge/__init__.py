"""Loupe's edge client: what a device (or the field simulator) runs to push events and fetch models.

Framework-free on purpose (no Django, nothing of the server): a device needs the standard library, httpx and
the wire format (`loupe_wire`, msgspec); edge/pyproject.toml builds it alone as `loupe-edge`. The pieces:
`outbox` (durable SQLite queue of events), `spool` (content-addressed media with a disk budget),
`tempfolder` (temporary files several processes share), `client` (the uploader) and `backoff` (its retry
policy, docs/edge.md), `heartbeat`, `models` (over-the-air model updates) and `cli` (`loupe-edge`).
"""

__version__ = "0.1.0"
