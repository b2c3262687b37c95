"""Which database a read goes to: the dashboards' heavy aggregates may go to a PostgreSQL read replica.

Why one helper that a few dashboard reads call, and not a database router for every read: a replica lags the
primary (streaming replication, usually well under a second, more under load), and the review flow reads what it
has just written: a claim's lease, a submitted annotation's version, the queue figures pushed after a change,
the drift policy an admin has just saved. Routed to a replica, those reads could see the state before the write
(a lease not yet taken, a version not yet there). The dashboards can be seconds behind without harm, so only
they ask for `reporting_db()`; everything else stays on the primary, the default alias, as if no replica were
configured.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"  # DATABASE_REPLICA_URL (config/settings.py)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def reporting_db() -> str:
    """The alias for a dashboard's read-only aggregate: the replica when one is configured, else the primary."""
    return REPLICA if replica_configured() else DEFAULT_DB_ALIAS
