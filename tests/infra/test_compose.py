"""The compose stacks validate with a real compose implementation, and their parts agree with each other.

No Docker engine here: ``docker-compose`` 1.29.2 (the Python implementation, PyPI) validates a file against
the compose schema and prints the resolved configuration without a daemon (``config``). It needs PyYAML<6,
which builds on Python 3.11 only with Cython<3, so it lives in its own venv (``.llmpulse/tools``), installed
on first use from PyPI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SINGLE = ROOT / "docker-compose.yml"
CLUSTER = ROOT / "infra" / "cluster" / "docker-compose.yml"
TOOLS = ROOT / ".llmpulse" / "tools"
COMPOSE_VERSION = "1.29.2"


def compose_venv() -> Path:
    """A venv holding docker-compose, made once (under a lock; a half-made one is never used)."""
    import fcntl

    venv = TOOLS / f"compose-{COMPOSE_VERSION}"
    done = venv / "installed"
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / "compose.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        constraints = venv / "constraints.txt"
        constraints.write_text("cython<3\n")  # PyYAML 5.4.1 (docker-compose's pin) does not build with Cython 3
        env = {**os.environ, "PIP_CONSTRAINT": str(constraints), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"docker-compose=={COMPOSE_VERSION}"]
        pip = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert pip.returncode == 0, f"installing docker-compose failed:\n{pip.stderr[-3000:]}"
        done.write_text(COMPOSE_VERSION)
    return venv


@pytest.fixture(scope="module")
def compose() -> Path:
    return compose_venv()


def run_config(venv: Path, file: Path, env_file: Path = ROOT / ".env.example") -> subprocess.CompletedProcess[str]:
    cmd = [str(venv / "bin" / "docker-compose"), "-f", str(file), "--env-file", str(env_file), "config"]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMPULSE_", "SUPERSET_", "DOCKER_"))}
    return subprocess.run(cmd, capture_output=True, text=True, env=clean_env, timeout=120)


def resolved(venv: Path, file: Path) -> dict[str, Any]:
    result = run_config(venv, file)
    assert result.returncode == 0, result.stderr
    as_json = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
                             input=result.stdout, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(as_json.stdout)


def check_stack(config: dict[str, Any], file: Path) -> None:
    services = config["services"]
    for name, service in services.items():
        image = service.get("image", "")
        assert re.match(r"^[\w./-]+:\d[\w.-]*$", image), f"{name}: image {image!r} is not pinned to a version"
        if "build" not in service:
            assert "healthcheck" in service, f"{name}: no healthcheck"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("/"):  # a bind mount: it must be a file or folder of this repository
                assert Path(source).exists(), f"{name}: {source} does not exist"
                assert Path(source).resolve().is_relative_to(ROOT), source
        for dep, cond in service.get("depends_on", {}).items():
            assert dep in services
            want = "service_completed_successfully" if dep == "migrate" else "service_healthy"
            assert cond == {"condition": want}, (name, dep, cond)
    assert services["migrate"]["restart"] == "no" and services["migrate"]["command"] == ["llmpulse", "migrate"]
    # least privilege: migrations as the admin, workers as the writer, BI as the reader
    assert "llmpulse_admin:" in services["migrate"]["environment"]["LLMPULSE_CLICKHOUSE_URL"]
    workers = [s for n, s in services.items() if n.startswith("worker")]
    assert workers and all("llmpulse_writer:" in w["environment"]["LLMPULSE_CLICKHOUSE_URL"] for w in workers)
    assert "llmpulse_reader:" in services["superset"]["environment"]["LLMPULSE_SUPERSET_DATABASE_URI"]
    superset = services["superset"]
    infra = [v.split(":")[0] for v in superset["volumes"] if v.endswith(":/llmpulse-infra:ro")]
    assert infra == [str(ROOT / "infra")] and superset["environment"]["LLMPULSE_SUPERSET_BUNDLE"].startswith(
        "/llmpulse-infra/superset")
    assert "bridge" in services


def test_single_node_stack_validates(compose: Path) -> None:
    config = resolved(compose, SINGLE)
    check_stack(config, SINGLE)
    services = config["services"]
    assert {"kafka", "clickhouse", "migrate", "worker", "bridge", "superset"} <= set(services)
    assert "LLMPULSE_CLICKHOUSE_CLUSTER" not in services["migrate"]["environment"]


def test_cluster_stack_validates_and_matches_its_configs(compose: Path) -> None:
    config = resolved(compose, CLUSTER)
    check_stack(config, CLUSTER)
    services = config["services"]
    brokers = sorted(n for n in services if n.startswith("kafka-"))
    keepers = sorted(n for n in services if n.startswith("keeper-"))
    nodes = sorted(n for n in services if n.startswith("ch-"))
    assert brokers == ["kafka-1", "kafka-2", "kafka-3"] and keepers == ["keeper-1", "keeper-2", "keeper-3"]
    assert len(nodes) == 4
    # Kafka: KRaft, every broker a voter, one cluster id, replicated internal topics
    voters = {services[b]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in brokers}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert len({services[b]["environment"]["CLUSTER_ID"] for b in brokers}) == 1
    assert sorted(str(services[b]["environment"]["KAFKA_NODE_ID"]) for b in brokers) == ["1", "2", "3"]
    assert all(str(services[b]["environment"]["KAFKA_MIN_INSYNC_REPLICAS"]) == "2" for b in brokers)
    # ClickHouse: the nodes' macros are the (shard, replica) pairs remote_servers lists, all distinct
    xml = ET.parse(ROOT / "infra" / "cluster" / "clickhouse" / "cluster.xml").getroot()
    cluster = xml.find("remote_servers/llmpulse")
    assert cluster is not None and cluster.find("secret") is not None
    listed = {(f"{i:02d}", r.findtext("host")) for i, shard in enumerate(cluster.findall("shard"), 1)
              for r in shard.findall("replica")}  # fmt: skip
    macros = {(services[n]["environment"]["CH_SHARD"], services[n]["environment"]["CH_REPLICA"]) for n in nodes}
    assert listed == macros and len(listed) == 4 and len({s for s, _ in listed}) == 2
    assert all(services[n]["hostname"] == services[n]["environment"]["CH_REPLICA"] for n in nodes)
    assert sorted(n.findtext("host") for n in xml.findall("zookeeper/node")) == keepers
    assert all(set(services[n]["depends_on"]) == set(keepers) for n in nodes)
    # Keeper: one raft member per keeper service, ids from the environment
    raft = ET.parse(ROOT / "infra" / "cluster" / "keeper" / "keeper.xml").getroot()
    servers = raft.findall("keeper_server/raft_configuration/server")
    members = {(s.findtext("id"), s.findtext("hostname")) for s in servers}
    assert members == {(str(services[k]["environment"]["KEEPER_ID"]), k) for k in keepers}
    # workers and migrations use the cluster; workers are spread over the shards
    assert services["migrate"]["environment"]["LLMPULSE_CLICKHOUSE_CLUSTER"] == "llmpulse"
    workers = [services[n] for n in services if n.startswith("worker")]
    assert all(w["environment"]["LLMPULSE_CLICKHOUSE_CLUSTER"] == "llmpulse" for w in workers)
    urls = [w["environment"]["LLMPULSE_CLICKHOUSE_URL"] for w in workers]
    assert {re.sub(r"^.*@(ch-s\d)-r\d:8123/llmpulse$", r"\1", url) for url in urls} == {"ch-s1", "ch-s2"}


def test_the_validator_rejects_a_broken_file(compose: Path, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(SINGLE.read_text().replace("healthcheck:\n      test:", "healthcheck:\n      tset:", 1))
    result = run_config(compose, broken)
    assert result.returncode != 0 and "tset" in result.stderr
    (tmp_path / "empty.env").write_text("")
    missing_secret = run_config(compose, SINGLE, env_file=tmp_path / "empty.env")
    assert missing_secret.returncode != 0 and "set it in .env" in missing_secret.stderr
