"""ClickHouse server files of the stacks: well-formed XML, users' SQL that ClickHouse parses, least privilege."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INIT_USERS = ROOT / "infra" / "clickhouse" / "init-users.sh"


def users_sql() -> list[str]:
    script = INIT_USERS.read_text()
    body = script.split("<<SQL\n", 1)[1].split("\nSQL\n", 1)[0]
    body = re.sub(r"\$\{(\w+)\}", "secret", body)
    return [s.strip() for s in body.split(";") if s.strip()]


def test_every_infra_xml_is_well_formed() -> None:
    files = sorted((ROOT / "infra").rglob("*.xml"))
    assert len(files) >= 3
    for path in files:
        ET.parse(path)  # ClickHouse refuses a config that is not well-formed XML


def test_users_sql_parses_and_its_settings_exist() -> None:
    import chdb

    statements = users_sql()
    assert len(statements) >= 10
    for statement in statements:
        escaped = statement.replace("\\", "\\\\").replace("\n", "\\n")
        chdb.query("SELECT formatQuery({q:String})", "TSV", params={"q": escaped})  # raises on a syntax error
    names = set()
    for statement in statements:
        if statement.startswith("CREATE SETTINGS PROFILE"):
            names |= set(re.findall(r"(\w+)\s*=", statement.split(" SETTINGS ", 1)[1]))
    assert {"readonly", "insert_distributed_sync", "load_balancing"} <= names
    known = str(chdb.query("SELECT name FROM system.settings", "TSV")).split()
    assert names <= set(known), names - set(known)


def test_least_privilege_grants() -> None:
    grants: dict[str, set[str]] = {}
    for statement in users_sql():
        if m := re.match(r"GRANT (.+) ON (\S+) TO (\w+)$", statement, re.DOTALL):
            privileges = {p.strip() for p in m.group(1).split(",")}
            grants.setdefault(m.group(3), set()).update(f"{p} ON {m.group(2)}" for p in privileges)
    assert grants["llmpulse_writer"] == {"SELECT ON llmpulse.*", "INSERT ON llmpulse.*"}
    assert grants["llmpulse_reader"] == {"SELECT ON llmpulse.*"}
    assert "CLUSTER ON *.*" in grants["llmpulse_admin"] and "ALTER ON llmpulse.*" in grants["llmpulse_admin"]
    reader = next(s for s in users_sql() if s.startswith("CREATE USER IF NOT EXISTS llmpulse_reader"))
    assert "SETTINGS PROFILE llmpulse_bi" in reader
    # `default` answers on localhost only
    default = ET.parse(ROOT / "infra" / "clickhouse" / "llmpulse.xml").getroot().find("users/default/networks")
    assert default is not None and {ip.text for ip in default.findall("ip")} == {"::1", "127.0.0.1"}


def test_shell_scripts_parse() -> None:
    import subprocess

    scripts = [INIT_USERS, ROOT / "infra" / "superset-compose" / "entrypoint.sh"]
    for script in scripts:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"
