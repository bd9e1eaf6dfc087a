"""Superset's configuration for llmpulse's dashboards (SUPERSET_CONFIG_PATH points here).

Metadata in SQLite under ``SUPERSET_HOME`` (``.llmpulse/superset/home`` for ``make dashboards``); the secret key
from ``SUPERSET_SECRET_KEY``, else one generated once into that directory.
"""

import os
import secrets
from pathlib import Path

_home = Path(os.environ.get("SUPERSET_HOME", ".llmpulse/superset/home")).resolve()
_home.mkdir(parents=True, exist_ok=True)
_key_file = _home / "secret_key"
if not os.environ.get("SUPERSET_SECRET_KEY") and not _key_file.exists():
    _key_file.write_text(secrets.token_urlsafe(42))
    _key_file.chmod(0o600)

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or _key_file.read_text().strip()
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URI", f"sqlite:///{_home / 'superset.db'}")
DATA_DIR = str(_home)
TALISMAN_ENABLED = False  # served on plain HTTP on this machine; put a TLS proxy in front to expose it
WTF_CSRF_ENABLED = True
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True, "DASHBOARD_CROSS_FILTERS": True, "DASHBOARD_VIRTUALIZATION": False}
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
# no outside calls from a local install
SHOW_STACKTRACE = False
MAPBOX_API_KEY = ""
