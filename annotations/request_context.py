"""The id of the HTTP request being served (set by config.request_id's middleware), for the audit log."""

from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("loupe_request_id", default="")
