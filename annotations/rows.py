"""Model instances from hand-written SQL, for the few hot paths (claim, submit, token auth).

Compiling an ORM query costs ~0.5 ms of CPU, more than the indexed statement it produces takes in
PostgreSQL; on a path that runs hundreds of times a second that compile is most of the server's work.
These helpers let such a path write its SQL once and still hand back ordinary model instances, with
the same value conversion (JSON, SQLite datetimes) the ORM would apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@cache
def columns(model: type[models.Model], alias: str) -> str:
    """`alias."col", …` for every concrete field of `model`, in field order (what `from_row` expects)."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def width(model: type[models.Model]) -> int:
    """How many values `columns(model, …)` selects."""
    return len(model._meta.concrete_fields)


@cache
def _converters(model: type[models.Model], vendor: str) -> tuple[tuple[int, Any, tuple[Any, ...]], ...]:
    found = []
    for i, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)
        funcs = tuple(connection.ops.get_db_converters(col)) + tuple(col.get_db_converters(connection))
        if funcs:
            found.append((i, col, funcs))
    return tuple(found)


def from_row(model: type[M], values: Sequence[Any]) -> M:
    """A model instance (as if loaded by the ORM) from the values `columns(model, …)` selected."""
    row = list(values)
    if row[0] is None:  # a LEFT JOIN that found nothing
        return None  # type: ignore[return-value]
    for i, col, funcs in _converters(model, connection.vendor):
        for func in funcs:
            row[i] = func(row[i], col, connection)
    return model.from_db(connection.alias, (), row)  # all columns, in order: no names needed
