"""Hostile queries against the endpoint: what the reader (and the writer) must not be able to do.

Each must be refused with a ClickHouse error, return no data, and leave no trace: the local listener that
url()/s3()/remote()/mysql() point at sees no connection, no file is written, the tables keep their rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.clickhouse.endpoint_helpers import CALLS, READER, WRITER, Listener, Served, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = serve(tmp_path_factory.mktemp("hostile") / "data")
    yield s
    s.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    ear = Listener()
    yield ear
    ear.close()


def post(served: Served, sql: str, user: str = READER, params: dict[str, str] | None = None,
         password: str | None = None) -> httpx.Response:  # fmt: skip
    auth = (user, served.password(user) if password is None else password)
    return httpx.post(f"http://127.0.0.1:{served.port}/", params=params, content=sql.encode(), auth=auth, timeout=60)


HOSTILE_READS = [
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "sElEcT * fRoM FiLe('/etc/passwd', 'LineAsString')",
    "SELECT * FROM /* a comment */ file(\n'/etc/passwd', -- another\n'LineAsString')",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM llm_calls WHERE event_id = file('/etc/passwd')",
    "WITH (SELECT file('/etc/passwd')) AS x SELECT x",
    "SELECT * FROM view(SELECT file('/etc/passwd'))",
    "SELECT * FROM llm_calls WHERE event_id IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    "SELECT * FROM url('http://127.0.0.1:{port}/x', 'CSV', 'a String')",
    "SELECT * FROM url('http://127.0.0.1:{port}/x', 'CSV')",
    "SELECT * FROM s3('http://127.0.0.1:{port}/bucket/key.csv', 'CSV', 'a String')",
    "SELECT * FROM remote('127.0.0.1:{port}', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1:{port}', system.one)",
    "SELECT * FROM mysql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:{port}', 'db', 't', 'u', 'p')",
    "SELECT * FROM executable('id', 'TSV', 'a String')",
    "SELECT * FROM merge('system', '^processes$')",
    "SELECT * FROM system.processes",
    "SELECT * FROM `system`.`processes`",
    "SELECT * FROM system.users",
    "SELECT * FROM llm_calls WHERE event_id IN system.processes",
    "SELECT dictGet('d', 'a', 1)",
    "SELECT 1 INTO OUTFILE '{outfile}'",
    "SET readonly = 0",
    "SET max_result_rows = 0",
    "USE system",
    "SELECT * FROM numbers(10) SETTINGS readonly = 0",
    "SELECT * FROM numbers(10) SETTINGS max_result_rows = 0",
    "SELECT * FROM numbers(10) SETTINGS max_execution_time = 100000",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE llm_calls",
    "SELECT 1;DROP TABLE llm_calls",
    "DROP TABLE llm_calls",
    "TRUNCATE TABLE llm_calls",
    "ALTER TABLE llm_calls DELETE WHERE 1",
    "CREATE TABLE evil (a String) ENGINE = File(CSV, '/tmp/evil.csv')",
    "INSERT INTO llm_calls (event_id) VALUES ('x')",
    "INSERT INTO llm_calls SELECT * FROM llm_calls",
    "INSERT INTO FUNCTION file('{outfile}', 'CSV') SELECT 1",
    "SYSTEM SHUTDOWN",
    "KILL QUERY WHERE 1",
    "SELECT * FROM system.numbers",  # unbounded: stopped by the result limits
]


@pytest.mark.parametrize("sql", HOSTILE_READS)
def test_reader_refused(served: Served, listener: Listener, tmp_path: Path, sql: str) -> None:
    outfile = tmp_path / "out.txt"
    response = post(served, sql.format(port=listener.port, outfile=outfile))
    assert response.status_code != 200, response.text[:300]
    code = response.headers.get("X-ClickHouse-Exception-Code")
    assert code and response.text.startswith(f"Code: {code}. DB::Exception: "), response.text[:300]
    assert "root:" not in response.text
    assert not outfile.exists()
    assert listener.connections == 0


@pytest.mark.parametrize("sql", [
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT 1 INTO OUTFILE '{outfile}'",
    "SELECT * FROM url('http://127.0.0.1:{port}/x', 'CSV', 'a String')",
    "INSERT INTO FUNCTION file('{outfile}', 'CSV') SELECT 1",
    "INSERT INTO llm_calls SELECT * FROM llm_calls",
    "INSERT INTO system.one VALUES (1)",
    "CREATE TABLE evil (a String) ENGINE = Memory",
    "DROP TABLE llm_calls",
    "SET readonly = 0",
    "SELECT 1; DROP TABLE llm_calls",
])  # fmt: skip
def test_writer_refused(served: Served, listener: Listener, tmp_path: Path, sql: str) -> None:
    outfile = tmp_path / "out.txt"
    response = post(served, sql.format(port=listener.port, outfile=outfile), user=WRITER)
    assert response.status_code != 200, response.text[:300]
    assert response.headers.get("X-ClickHouse-Exception-Code")
    assert not outfile.exists() and listener.connections == 0


def test_url_setting_overrides_are_refused_by_clickhouse(served: Served) -> None:
    for name, value in (("readonly", "0"), ("max_result_rows", "0"), ("max_execution_time", "0"),
                        ("max_memory_usage", "0")):  # fmt: skip
        response = post(served, "SELECT 1", params={name: value})
        assert response.status_code == 403 and response.headers["X-ClickHouse-Exception-Code"] == "164", name
    assert post(served, "SELECT 1", params={"database": "system"}).status_code == 403
    assert post(served, "SELECT 1", params={"no_such_setting": "1"}).headers["X-ClickHouse-Exception-Code"] == "115"
    # the same value as the session's is no change, as in ClickHouse
    assert post(served, "SELECT 1", params={"readonly": "1"}).text == "1\n"


def test_wrong_and_missing_passwords(served: Served) -> None:
    assert post(served, "SELECT 1", password="").status_code in (401, 403)
    assert post(served, "SELECT 1", password="wrong").status_code == 403
    assert post(served, "SELECT 1", password=served.password(WRITER)).status_code == 403  # the writer's, as reader
    response = httpx.post(f"http://127.0.0.1:{served.port}/", content=b"SELECT 1")
    assert response.status_code == 401 and response.headers["X-ClickHouse-Exception-Code"] == "194"


def test_the_store_is_intact_and_still_answers(served: Served) -> None:
    response = post(served, "SELECT count() FROM llm_calls")
    assert response.status_code == 200 and response.text == f"{CALLS}\n"
    tables = post(served, "SELECT count() FROM system.tables WHERE database = 'llmpulse'").text
    assert int(tables) >= 8
