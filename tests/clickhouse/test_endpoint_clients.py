"""Real clients against the embedded store's ClickHouse HTTP interface: clickhouse-connect (rows, Arrow,
pandas, inserts), its SQLAlchemy dialect (reflection) and curl (formats, headers, errors, compression)."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from tests.clickhouse.endpoint_helpers import CALLS, READER, WRITER, Served, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = serve(tmp_path_factory.mktemp("endpoint") / "data")
    yield s
    s.close()


def curl(served: Served, *args: str, user: str = READER) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("curl")
    assert exe, "curl is needed for these tests: apt-get install curl"
    return subprocess.run([exe, "-s", "-S", "-i", "-u", f"{user}:{served.password(user)}", *args],
                          capture_output=True, timeout=60, check=True)  # fmt: skip


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_clickhouse_connect_reads_rows_arrow_and_pandas(served: Served) -> None:
    client = served.client(READER)
    assert client.server_version.count(".") >= 2
    assert client.query("SELECT count() FROM llm_calls").result_rows == [(CALLS,)]
    rows = client.query("SELECT event_id, latency_ms FROM llm_calls WHERE model = {m:String} ORDER BY latency_ms",
                        parameters={"m": "gpt-4o"}).result_rows  # fmt: skip
    assert rows[0] == ("e0", 100.0) and len(rows) == CALLS
    odd = "it's a \"quote\"\nand a \\ backslash\t!"
    assert client.query("SELECT {s:String} AS s", parameters={"s": odd}).result_rows == [(odd,)]
    table = client.query_arrow("SELECT event_id, ts, output_tokens FROM llm_calls ORDER BY event_id")
    assert isinstance(table, pa.Table) and table.num_rows == CALLS and table.column("output_tokens")[0].as_py() == 10
    frame = client.query_df("SELECT model, sum(output_tokens) AS out FROM llm_calls GROUP BY model")
    assert frame.to_dict("records") == [{"model": "gpt-4o", "out": 10 * CALLS}]
    assert client.command("SELECT currentDatabase()") == "llmpulse"
    client.close()


def test_writer_inserts_reader_cannot(served: Served) -> None:
    writer = served.client(WRITER)
    before = writer.query("SELECT count() FROM llm_dead_letters").result_rows[0][0]
    now = datetime.now(UTC)  # (rows older than 30 days expire by the table's TTL)
    rows = [[now, "t", 0, 7, 0, "validation", "detail", "id-1", "{}", 2]]
    columns = ["received_at", "topic", "kafka_partition", "kafka_offset", "item_index", "reason", "detail",
               "event_id", "payload", "payload_bytes"]  # fmt: skip
    summary = writer.insert("llm_dead_letters", rows, column_names=columns)  # Native, lz4-compressed body
    assert summary.written_rows == 1
    arrow = pa.table({"received_at": pa.array([now], pa.timestamp("ms", tz="UTC")), "topic": ["t"],
                      "reason": ["validation"], "event_id": ["id-2"], "payload": ["{}"]})  # fmt: skip
    for _ in range(3):  # one deduplication token: stored once
        writer.insert_arrow("llm_dead_letters", arrow, settings={"insert_deduplication_token": "tok-1"})
    assert writer.query("SELECT count() FROM llm_dead_letters").result_rows[0][0] == before + 2
    frame = writer.query_df("SELECT now64(3) AS received_at, 't' AS topic, 'id-3' AS event_id")
    writer.insert_df("llm_dead_letters", frame)
    assert writer.query("SELECT count() FROM llm_dead_letters").result_rows[0][0] == before + 3

    reader = served.client(READER)
    with pytest.raises(Exception) as refused:
        reader.raw_insert("llm_dead_letters", ["topic"], insert_block=b"x\n", fmt="TabSeparated")
    assert getattr(refused.value, "code", None) == 164  # READONLY, from the readonly session
    with pytest.raises(Exception) as denied:  # the writer inserts into the llmpulse tables only
        writer.raw_insert("system.one", ["dummy"], insert_block=b"1\n", fmt="TabSeparated")
    assert getattr(denied.value, "code", None) == 497
    assert reader.query("SELECT count() FROM llm_dead_letters").result_rows[0][0] == before + 3
    reader.close()
    writer.close()


def test_sqlalchemy_dialect_reflects_databases_tables_columns(served: Served) -> None:
    import sqlalchemy as sa

    url = f"clickhousedb://{READER}:{served.password(READER)}@127.0.0.1:{served.port}/llmpulse"
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    assert "llmpulse" in inspector.get_schema_names()
    tables = set(inspector.get_table_names(schema="llmpulse"))
    assert {"llm_calls", "llm_call_rollups_1m", "llm_dead_letters", "llm_alerts"} <= tables
    columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("llm_calls", schema="llmpulse")}
    assert {"event_id", "ts", "latency_ms", "model", "team", "cost_usd"} <= set(columns)
    assert "llm_rollups_1m_v" in set(inspector.get_view_names(schema="llmpulse")) | tables
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count() FROM llm_calls")).scalar() == CALLS
    engine.dispose()


@pytest.mark.parametrize(("fmt", "check"), [
    ("TabSeparatedWithNames", lambda b: b.splitlines()[0] == b"model\tn" and b.splitlines()[1] == b"gpt-4o\t5"),
    ("CSV", lambda b: b == b'"gpt-4o",5\n'),
    ("JSONEachRow", lambda b: orjson.loads(b) in ({"model": "gpt-4o", "n": 5}, {"model": "gpt-4o", "n": "5"})),
    ("JSONCompact", lambda b: orjson.loads(b)["data"] in ([["gpt-4o", 5]], [["gpt-4o", "5"]])),
    ("ArrowStream",
     lambda b: pa.ipc.open_stream(io.BytesIO(b)).read_all().to_pylist() == [{"model": "gpt-4o", "n": 5}]),
    ("RowBinaryWithNamesAndTypes",
     lambda b: b.startswith(b"\x02\x05model\x01n") and b.endswith(b"\x05\x00\x00\x00\x00\x00\x00\x00")),
    ("Native", lambda b: b.startswith(b"\x02\x01\x05model")),
])  # fmt: skip
def test_curl_formats_and_headers(served: Served, fmt: str, check: object) -> None:
    sql = "SELECT model, count() AS n FROM llm_calls GROUP BY model"
    for args in ([f"http://127.0.0.1:{served.port}/?default_format={fmt}", "--data-binary", sql],
                 [f"http://127.0.0.1:{served.port}/", "--data-binary", f"{sql} FORMAT {fmt}"]):  # fmt: skip
        status, headers, body = split_response(curl(served, *args).stdout)
        assert status == 200, body
        assert headers["x-clickhouse-format"] == fmt and headers["x-clickhouse-timezone"]
        assert headers["x-clickhouse-query-id"]
        assert int(orjson.loads(headers["x-clickhouse-summary"])["read_rows"]) >= 1
        assert callable(check) and check(body), body[:200]


def test_curl_get_ping_errors_and_compression(served: Served, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{served.port}"
    assert split_response(curl(served, f"{base}/ping").stdout)[2] == b"Ok.\n"
    status, _, body = split_response(curl(served, "-G", base, "--data-urlencode", "query=SELECT 1+1").stdout)
    assert (status, body) == (200, b"2\n")
    status, headers, body = split_response(curl(served, base, "--data-binary", "SELEC 1").stdout)
    assert status == 400 and headers["x-clickhouse-exception-code"] == "62"
    assert body.startswith(b"Code: 62. DB::Exception: ") and b"(SYNTAX_ERROR) (version " in body
    status, headers, body = split_response(curl(served, base, "--data-binary", "SELECT * FROM nope").stdout)
    assert status == 404 and headers["x-clickhouse-exception-code"] == "60" and b"(UNKNOWN_TABLE)" in body
    big = "SELECT repeat('x', 1000) FROM numbers(200) FORMAT TSV"
    for encoding in ("gzip", "zstd", "br", "lz4"):
        out = curl(served, f"{base}/?enable_http_compression=1", "-H", f"Accept-Encoding: {encoding}",
                   "--data-binary", big, "-o", str(tmp_path / encoding), "-D", "-").stdout  # fmt: skip
        headers = split_response(out + b"\r\n\r\n")[1]
        assert headers.get("content-encoding") == encoding
        assert (tmp_path / encoding).stat().st_size < 200 * 1000 / 10
    decoded = curl(served, f"{base}/?enable_http_compression=1", "--compressed", "--data-binary", big).stdout
    assert split_response(decoded)[2] == ("x" * 1000 + "\n").encode() * 200
    status, headers, body = split_response(curl(served, f"{base}/?compress=1", "--data-binary", "SELECT 1").stdout)
    assert status == 403 and b"compress=false" in body  # ClickHouse's block framing: not spoken, said so


def test_authentication(served: Served) -> None:
    exe = shutil.which("curl")
    assert exe
    base = f"http://127.0.0.1:{served.port}/?query=SELECT%201"

    def status_of(*args: str) -> tuple[int, dict[str, str], bytes]:
        return split_response(subprocess.run([exe, "-s", "-i", *args], capture_output=True, check=True).stdout)

    status, headers, _ = status_of(base)
    assert status == 401 and headers["x-clickhouse-exception-code"] == "194"
    status, headers, _ = status_of("-u", f"{READER}:wrong", base)
    assert status == 403 and headers["x-clickhouse-exception-code"] == "516"
    status, _, _ = status_of("-u", f"admin:{served.password(READER)}", base)
    assert status == 403
    status, _, _ = status_of("-u", f"{WRITER}:{served.password(READER)}", base)
    assert status == 403
    key = served.password(READER)
    status, _, body = status_of("-H", f"X-ClickHouse-User: {READER}", "-H", f"X-ClickHouse-Key: {key}", base)
    assert (status, body) == (200, b"1\n")
    status, _, body = status_of(f"{base}&user={READER}&password={served.password(READER)}")
    assert (status, body) == (200, b"1\n")
