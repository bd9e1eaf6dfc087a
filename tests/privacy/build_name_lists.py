"""Rebuild llmpulse/privacy/data/{given_names,surnames}.csv from the names-dataset package (dev only).

    pip install names-dataset && python tests/privacy/build_name_lists.py
"""

from __future__ import annotations

import gzip
import pickle
import re
from pathlib import Path

COUNTRIES = frozenset(
    ["US", "GB", "IE", "CA", "AU", "ZA", "IN", "BD", "DE", "AT", "CH", "NL", "BE", "LU", "FR", "ES", "MX", "AR",
     "CO", "CL", "PE", "IT", "PT", "BR", "PL", "TR", "MA", "DZ", "TN", "EG", "SA", "AE", "NG", "GH", "CN", "HK",
     "TW", "SG", "JP", "KR", "PH", "ID", "MY", "RU", "SE", "NO", "DK", "FI", "GR", "HU", "CZ", "IL", "IR", "IQ",
     "SY", "LB", "JO"]
)  # fmt: skip
PER_COUNTRY = 2000
TOKEN = re.compile(r"^[A-Z][a-zà-öø-ÿ'\u2019-]+$|^[A-Z][a-zà-öø-ÿ]+(?:[-'][A-Z][a-zà-öø-ÿ]+)+$")
OUT = Path(__file__).resolve().parents[2] / "llmpulse" / "privacy" / "data"


def best_ranks(kind: str) -> dict[str, int]:
    import names_dataset  # type: ignore[import-not-found]

    with gzip.open(Path(names_dataset.__file__).parent / "v3" / f"{kind}.pkl.gz") as handle:
        data = pickle.load(handle)  # the package's own data file
    best: dict[str, int] = {}
    for name, info in data.items():
        if len(name) < 2 or not TOKEN.match(name):
            continue
        ranks = [r for country, r in (info.get("rank") or {}).items() if country in COUNTRIES and r is not None]
        if ranks and min(ranks) <= PER_COUNTRY:
            best[name] = min(min(ranks), best.get(name, PER_COUNTRY + 1))
    return best


def main() -> None:
    for kind, file in (("first_names", "given_names.csv"), ("last_names", "surnames.csv")):
        best = best_ranks(kind)
        lines = [f"{name},{rank}" for name, rank in sorted(best.items(), key=lambda item: (item[1], item[0]))]
        (OUT / file).write_text("name,best_rank\n" + "\n".join(lines) + "\n", encoding="utf-8")
        print(file, len(lines))


if __name__ == "__main__":
    main()
