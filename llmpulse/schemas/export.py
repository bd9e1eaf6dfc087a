"""JSON Schema export of the event contracts (``llmpulse schema export DIR``)."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from llmpulse.schemas.kinds import KINDS
from llmpulse.schemas.rollup import RollupRow

#: one schema per registered event kind (``llm_<kind>_event``), and the rollup row
CONTRACTS: dict[str, type[BaseModel]] = {
    **{f"llm_{kind.name}_event": kind.model for kind in KINDS.values()},
    "rollup_row": RollupRow,
}


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one ``<name>.schema.json`` per contract; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in CONTRACTS.items():
        path = directory / f"{name}.schema.json"
        path.write_bytes(orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2))
        written.append(path)
    return written
