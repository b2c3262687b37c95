"""Device ingest: the event batch, media uploads and their checks, heartbeats."""
