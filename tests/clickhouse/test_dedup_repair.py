"""A process killed mid-insert must not make the embedded store drop the replayed block as a duplicate.

ClickHouse records a block's deduplication entry just before it commits the block's part; a kill in between
leaves the entry without the part. These tests run the real engine in child processes (the owner of a data
directory is one process), lose a part the way a kill does, and check that the replay stores it.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmpulse.clickhouse.dedup_repair import highest_block, repair_store

pytestmark = pytest.mark.integration

ROWS = 500
SCRIPT = """
import json, sys
import pyarrow as pa
from llmpulse.clickhouse.chdb_store import ChdbStore

data_dir, mode, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = ChdbStore(data_dir)
store.command("CREATE TABLE IF NOT EXISTS t (k UInt64, j UInt64) ENGINE = MergeTree ORDER BY (k, j) "
              "SETTINGS non_replicated_deduplication_window = 1000")
if mode == "quiet":
    store.command("SYSTEM STOP MERGES t")
if mode in ("insert", "quiet"):
    for k in range(first, last + 1):
        print("begin", k, flush=True)
        store.insert("t", pa.table({"k": pa.array([k] * ROWS, pa.uint64()),
                                    "j": pa.array(range(ROWS), pa.uint64())}), f"tok-{k}")
        print("done", k, flush=True)
print(json.dumps(dict(store.query("SELECT k, count() FROM t GROUP BY k").rows)), flush=True)
store.close()
""".replace("ROWS", str(ROWS))


def run(data_dir: Path, mode: str, first: int, last: int) -> dict[int, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(data_dir), mode, str(first), str(last)],
                         capture_output=True, text=True, timeout=120, check=True).stdout  # fmt: skip
    return {int(k): int(v) for k, v in json.loads(out.splitlines()[-1]).items()}


def table_dir(data_dir: Path) -> Path:
    (logs,) = list((data_dir / "store").glob("*/*/deduplication_logs"))
    return logs.parent


def lose_newest_part(data_dir: Path) -> None:
    """What a kill between the deduplication entry and the commit leaves: the entry, and no part."""
    parts = table_dir(data_dir)
    newest = highest_block(parts)
    (doomed,) = [p for p in parts.iterdir() if p.is_dir() and p.name.endswith(f"_{newest}_{newest}_0")]
    shutil.rmtree(doomed)


def test_the_engine_drops_a_lost_block_unless_the_store_repairs_its_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "quiet", 0, 3) == {k: ROWS for k in range(4)}
    lose_newest_part(data)

    # the engine alone: the replay of block 3 is dropped as a duplicate, and its rows are lost
    child = subprocess.run([sys.executable, "-c", (
        "import sys\nfrom chdb import session\ns = session.Session(sys.argv[1])\n"
        "s.query(\"INSERT INTO llmpulse.t SETTINGS insert_deduplication_token = 'tok-3' "
        "SELECT 3, number FROM numbers(500)\", 'CSV')\n"
        "print(s.query('SELECT count() FROM llmpulse.t WHERE k = 3', 'CSV').bytes().decode().strip())"
    ), str(data)], capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert child.stdout.strip().splitlines()[-1] == "0"

    # the store repairs the log when it opens the directory: the replay writes the block
    assert run(data, "insert", 3, 3) == {k: ROWS for k in range(4)}
    assert repair_store(data) == []  # nothing left to repair


def test_kill_minus_nine_mid_insert_loses_no_replayed_block(tmp_path: Path) -> None:
    """Kill a process inserting in a loop, again and again; replay from the first insert it did not finish."""
    rng = random.Random(7)
    data = tmp_path / "data"
    done = -1
    for _ in range(12):
        child = subprocess.Popen([sys.executable, "-c", SCRIPT, str(data), "insert", str(done + 1), str(10**6)],
                                 stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert child.stdout is not None
        started = time.monotonic()
        while child.stdout.readline().split()[:1] != ["done"]:  # killed once it is inserting
            assert time.monotonic() - started < 60
        time.sleep(rng.uniform(0.0, 1.0))
        child.send_signal(signal.SIGKILL)
        lines = child.stdout.read().splitlines()
        child.wait()
        finished = [int(line.split()[1]) for line in lines if line.startswith("done")]
        done = max([done, *finished])
        # as the sink does: a block whose insert may have been cut short is written again with its token
        counts = run(data, "insert", done + 1, done + 1)
        done += 1
    assert counts == {k: ROWS for k in range(done + 1)}
