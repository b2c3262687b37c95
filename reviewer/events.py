"""The review workflow's events go through Loupe's one vocabulary of domain events (annotations.events)."""

from annotations.events import emit, subscribe

__all__ = ["emit", "subscribe"]
