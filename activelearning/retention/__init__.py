"""Retention: how long a project keeps media, predictions and audit events; legal holds; the prune job."""
