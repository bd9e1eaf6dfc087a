"""The endpoint's settings (environment, prefix ``LLMPULSE_ENDPOINT_``) and its two users' passwords.

Users: ``reader`` (read-only, for BI tools and ``llmpulse query``) and ``writer`` (further workers: reads,
and inserts into the llmpulse tables). A password not set in the environment is generated once per data
directory and kept in ``<data_dir>/endpoint-credentials.json`` (mode 0600), where local llmpulse processes
of the same user find it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

READER = "reader"
WRITER = "writer"
CREDENTIALS_FILE = "endpoint-credentials.json"
ADDRESS_FILE = "endpoint.json"


class EndpointSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMPULSE_ENDPOINT_", frozen=True, extra="ignore")

    host: str = Field("127.0.0.1", description="listen address of the embedded store's ClickHouse HTTP endpoint")
    port: int = Field(0, ge=0, le=65535, description="its port (0: any free port; `llmpulse serve` uses 8123)")
    reader_password: SecretStr | None = Field(None, description="password of `reader`; unset = generated")
    writer_password: SecretStr | None = Field(None, description="password of `writer`; unset = generated")
    max_concurrent_queries: int = Field(4, ge=1, description="queries run at once; more wait")
    max_execution_time_s: int = Field(60, ge=1, description="a reader's query is stopped after this")
    max_result_rows: int = Field(5_000_000, ge=1, description="a reader's result is refused beyond this")
    max_result_bytes: int = Field(512 * 2**20, ge=1, description="… or beyond this size")
    max_memory_usage: int = Field(4 * 2**30, ge=0, description="memory of one reader query")
    max_body_bytes: int = Field(512 * 2**20, ge=1, description="largest request body (insert data)")


def passwords(data_dir: Path, settings: EndpointSettings) -> dict[str, SecretStr]:
    """The passwords of ``reader`` and ``writer``: from the environment, else from (or generated into) the
    credentials file of ``data_dir``."""
    path = data_dir / CREDENTIALS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = {u for u in (READER, WRITER) if u not in stored}
    if missing:
        stored.update({u: secrets.token_urlsafe(24) for u in missing})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out)
    env = {READER: settings.reader_password, WRITER: settings.writer_password}
    return {u: env[u] or SecretStr(stored[u]) for u in (READER, WRITER)}


def stored_password(data_dir: Path, user: str) -> SecretStr | None:
    """``user``'s password for a client on this machine: the environment's, else the credentials file's."""
    settings = EndpointSettings()
    env = {READER: settings.reader_password, WRITER: settings.writer_password}.get(user)
    if env is not None:
        return env
    try:
        value = json.loads((data_dir / CREDENTIALS_FILE).read_text()).get(user)
    except (OSError, ValueError):
        return None
    return SecretStr(value) if value else None


def endpoint_url(data_dir: Path) -> str | None:
    """The URL (no credentials) of a live endpoint serving ``data_dir``, if any."""
    path = data_dir / ADDRESS_FILE
    try:
        address = json.loads(path.read_text())
        os.kill(int(address["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(address["url"])


def write_address(data_dir: Path, url: str) -> None:
    (data_dir / ADDRESS_FILE).write_text(json.dumps({"url": url, "pid": os.getpid()}))


def remove_address(data_dir: Path) -> None:
    path = data_dir / ADDRESS_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
