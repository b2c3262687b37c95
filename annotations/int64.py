"""The range of a database integer: PostgreSQL's bigint and SQLite's INTEGER are signed 64-bit.

A Python int outside it is an error from the driver (PostgreSQL `NumericValueOutOfRange`, SQLite `OverflowError`),
so every integer the API takes in is bounded by it before it reaches a statement.
"""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
