"""Errors raised by the schemas package."""


class SchemaError(ValueError):
    """An event does not satisfy its contract."""


class UnknownSchemaVersion(SchemaError):
    """An event declares a schema_version this build does not understand."""
