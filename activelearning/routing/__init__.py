"""Routing: the versioned policy that scores and queues each event, and its preview."""
