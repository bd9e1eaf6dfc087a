"""The committed Superset bundle is what ``infra/superset/make_bundle.py`` generates, and it hangs together:
every chart's dataset, metrics and columns exist, and every dashboard filter targets a real column."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "superset"))
import make_bundle  # noqa: E402  (infra/superset/make_bundle.py)


def load(folder: Path) -> dict[str, dict]:
    return {str(p.relative_to(folder)): yaml.safe_load(p.read_text()) for p in sorted(folder.rglob("*.yaml"))}


def test_committed_bundle_is_the_generated_one(tmp_path: Path) -> None:
    make_bundle.build(tmp_path / "bundle")
    assert load(tmp_path / "bundle") == load(make_bundle.BUNDLE), "run python infra/superset/make_bundle.py"


def test_charts_use_what_their_datasets_define() -> None:
    files = load(make_bundle.BUNDLE)
    datasets = {d["uuid"]: d for name, d in files.items() if name.startswith("datasets/")}
    charts = {c["uuid"]: c for name, c in files.items() if name.startswith("charts/")}
    assert len(charts) >= 25 and len({c["slice_name"] for c in charts.values()}) == len(charts)
    for chart in charts.values():
        ds = datasets[chart["dataset_uuid"]]
        metrics = {m["metric_name"] for m in ds["metrics"]}
        columns = {c["column_name"] for c in ds["columns"]}
        params = chart["params"]
        used = list(params.get("metrics") or []) + ([params["metric"]] if "metric" in params else [])
        assert set(used) <= metrics, (chart["slice_name"], set(used) - metrics)
        assert not metrics & columns, f"{ds['table_name']}: a metric named like a column is read as its alias"
        for key in ("groupby", "all_columns"):
            assert set(params.get(key) or []) <= columns, (chart["slice_name"], key)
    dashboards = [d for name, d in files.items() if name.startswith("dashboards/")]
    assert {d["dashboard_title"] for d in dashboards} == {"LLM Engineering", "LLM Spend", "LLM Alerts", "LLM Safety",
                                                         "LLM Quality & UX"}  # fmt: skip
    for dash in dashboards:
        nodes = [v for v in dash["position"].values() if isinstance(v, dict)]
        in_layout = {v["meta"]["uuid"] for v in nodes if v.get("type") == "CHART"}
        assert in_layout <= set(charts)
        filters = dash["metadata"]["native_filter_configuration"]
        assert filters[0]["filterType"] == "filter_time" and len(filters) >= 3
        for f in filters[1:]:
            target = f["targets"][0]
            assert target["column"]["name"] in {c["column_name"] for c in datasets[target["datasetUuid"]]["columns"]}
    assert "XXXXXXXXXX" in files["databases/llmpulse.yaml"]["sqlalchemy_uri"]  # no password in the repository
