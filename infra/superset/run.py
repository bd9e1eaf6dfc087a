"""``make dashboards``: Superset on llmpulse's store, with the dashboards of ``bundle/`` imported.

Run with llmpulse's Python. It finds the store (``LLMPULSE_SUPERSET_DATABASE_URL``; else a server from
``LLMPULSE_CLICKHOUSE_URL`` as the reader ``LLMPULSE_READER_USER`` / ``LLMPULSE_READER_PASSWORD``; else the
ClickHouse HTTP endpoint of the embedded store — the running ``llmpulse up`` worker's, or one this script
starts with ``llmpulse serve`` for the demo's store), prepares Superset in its own virtual environment
(``install.sh``: SQLite metadata, the admin from ``SUPERSET_ADMIN_USER`` / ``SUPERSET_ADMIN_PASSWORD``), imports
the bundle pointed at that store, and serves Superset on ``--port`` (8088) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATE = ROOT / ".llmpulse" / "superset"
VENV = Path(os.environ.get("SUPERSET_VENV", STATE / "venv"))


def log(message: str) -> None:
    print(f"dashboards: {message}", flush=True)


def install() -> None:
    subprocess.run(["sh", str(HERE / "install.sh"), str(VENV)], check=True)


def superset_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SUPERSET_HOME": str(home), "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"),
                "FLASK_APP": "superset", "PYTHONWARNINGS": "ignore"})  # fmt: skip
    return env


def superset(home: Path, *args: str) -> None:
    subprocess.run([str(VENV / "bin" / "superset"), *args], env=superset_env(home), check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def embedded_endpoint(data_dir: Path, port: int) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The URL of the endpoint serving ``data_dir``: a running one, or ``llmpulse serve`` started here."""
    from llmpulse.clickhouse.http import endpoint_url

    url = endpoint_url(data_dir)
    if url is not None:
        log(f"using the running endpoint of {data_dir} at {url}")
        return url, None
    if not data_dir.exists():
        raise SystemExit(f"dashboards: no store at {data_dir}: run `make demo` (or `llmpulse up`) first, "
                         "or set LLMPULSE_CLICKHOUSE_URL")  # fmt: skip
    log(f"serving {data_dir} with `llmpulse serve` on :{port}")
    logfile = open(STATE / "endpoint.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen([sys.executable, "-m", "llmpulse", "serve", "--data-dir", str(data_dir), "--port",
                             str(port)], stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while (url := endpoint_url(data_dir)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"dashboards: `llmpulse serve` did not start; see {STATE / 'endpoint.log'}")
        time.sleep(0.2)
    return url, proc


def database_uri(data_dir: Path, endpoint_port: int) -> tuple[str, subprocess.Popen[bytes] | None]:
    """Superset's URI of the store as a read-only user, and the endpoint process started for it (if any)."""
    explicit = os.environ.get("LLMPULSE_SUPERSET_DATABASE_URL")
    if explicit:
        return explicit, None
    server = os.environ.get("LLMPULSE_CLICKHOUSE_URL")
    if server:
        parts = urlsplit(server)
        user = os.environ.get("LLMPULSE_READER_USER", "llmpulse_reader")
        password = os.environ.get("LLMPULSE_READER_PASSWORD", "")
        query = "?secure=true" if parts.scheme == "https" else ""
        return (f"clickhousedb://{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:"
                f"{parts.port or 8123}{parts.path or '/llmpulse'}{query}"), None  # fmt: skip
    from llmpulse.clickhouse.http import READER, stored_password

    url, proc = embedded_endpoint(data_dir, endpoint_port)
    secret = stored_password(data_dir, READER)
    if secret is None:
        raise SystemExit("dashboards: no reader password: set LLMPULSE_ENDPOINT_READER_PASSWORD")
    parts = urlsplit(url)
    password = quote(secret.get_secret_value(), safe="")
    return f"clickhousedb://{READER}:{password}@{parts.hostname}:{parts.port}/llmpulse", proc


def prepare(home: Path, uri: str, admin: str, password: str) -> None:
    """Superset's metadata, its admin, and the imported dashboards pointed at ``uri``."""
    home.mkdir(parents=True, exist_ok=True)
    log("superset db upgrade (SQLite metadata)")
    superset(home, "db", "upgrade")
    superset(home, "fab", "create-admin", "--username", admin, "--password", password, "--firstname", "llmpulse",
             "--lastname", "admin", "--email", f"{admin}@localhost")  # fmt: skip
    superset(home, "init")
    log("importing the dashboards (infra/superset/bundle)")
    subprocess.run([str(VENV / "bin" / "python"), str(HERE / "import_bundle.py"), str(HERE / "bundle"), "--user",
                    admin], env={**superset_env(home), "LLMPULSE_SUPERSET_DATABASE_URL": uri}, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(VENV / "bin" / "superset"), "run", "-h", "127.0.0.1", "-p", str(port),
                             "--with-threads"], env=superset_env(home), start_new_session=True)  # fmt: skip


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even when started in the background
    signal.signal(signal.SIGTERM, _interrupt)  # stop Superset and the endpoint this started
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the embedded store (default: .llmpulse/data when `llmpulse up` runs, "
                             "else the demo's)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8088, help="Superset's port")
    parser.add_argument("--endpoint-port", type=int, default=8123, help="port for `llmpulse serve`, if started")
    parser.add_argument("--home", type=Path, default=STATE / "home", help="Superset's state (SQLite metadata)")
    args = parser.parse_args()
    from llmpulse.clickhouse.http import endpoint_url

    data_dir = args.data_dir
    if data_dir is None:
        live = ROOT / ".llmpulse" / "data"
        data_dir = live if endpoint_url(live) else ROOT / ".llmpulse" / "demo" / "data"
    STATE.mkdir(parents=True, exist_ok=True)
    install()
    admin = os.environ.get("SUPERSET_ADMIN_USER", "admin")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if not password:
        secret_file = args.home / "admin_password"
        args.home.mkdir(parents=True, exist_ok=True)
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(12))
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip()
        log(f"admin password (set SUPERSET_ADMIN_PASSWORD to choose one) is in {secret_file}")
    if port_open(args.port):
        raise SystemExit(f"dashboards: port {args.port} is taken (another Superset?): use --port")
    endpoint_port = args.endpoint_port if not port_open(args.endpoint_port) else free_port()
    uri, endpoint = database_uri(data_dir.resolve(), endpoint_port)
    try:
        prepare(args.home, uri, admin, password)
        log(f"Superset on http://127.0.0.1:{args.port}/ (user {admin}); dashboards: LLM Engineering, LLM Spend, "
            "LLM Alerts, LLM Safety. Ctrl-C stops.")  # fmt: skip
        web = serve(args.home, args.port)
        try:
            web.wait()
        except KeyboardInterrupt:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(30)
    finally:
        if endpoint is not None:
            os.killpg(endpoint.pid, signal.SIGTERM)
            endpoint.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
