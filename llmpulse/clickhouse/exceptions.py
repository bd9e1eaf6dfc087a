"""Errors raised by the ClickHouse layer."""


class StoreError(RuntimeError):
    """ClickHouse rejected a statement or could not be reached."""


class StoreUnavailable(StoreError):
    """The ClickHouse server cannot be reached (or the embedded data directory cannot be opened)."""


class MigrationError(StoreError):
    """A migration file failed to apply."""
