"""Inputs of the redaction equivalence test: the training corpus' texts, generated long texts (chat, code, logs,
JSON, prose in en/de/nl/fr/es, with and without PII) and generated identity values. Deterministic (seeded), so
that the recorded outputs of one version of the rules can be compared with another's.

    .venv/bin/python -m tests.privacy.equivalence_inputs --record   # rewrite the fixture from the current code
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "pii_corpus.jsonl"
FIXTURE = HERE / "redact_equivalence.json.gz"
ID_KEY = b"equivalence-test-key-0123456789"

_PROSE = {
    "en": [
        "The quarterly report shows a steady increase in active users across all regions.",
        "Please review the attached draft and let me know if anything needs to change before Friday.",
        "We migrated the ingestion pipeline to the new cluster last week and latency dropped by a third.",
        "Can you explain why the model keeps returning truncated answers when the context is long?",
        "Our team in Berlin will handle the rollout, and the support desk in Madrid takes the escalations.",
        "The contract renews on 1 March 2025 unless either party cancels in writing 30 days before.",
        "Version 3.12.1 fixed the memory leak; build 20240117 is the first nightly with the patch.",
        "Summarise the following customer complaint in two sentences and suggest a polite reply.",
        "Order 4711 was shipped on 2024-03-02 and should arrive within 3 to 5 business days.",
        "Thanks for the quick turnaround, the new dashboard looks great.",
    ],
    "de": [
        "Bitte fasse die folgende Beschwerde kurz zusammen und schlage eine freundliche Antwort vor.",
        "Die Lieferung verzögert sich um zwei Wochen, weil der Hersteller Probleme mit der Produktion hat.",
        "Unser Team in Hamburg übernimmt die Einführung ab dem 15. Mai.",
        "Können Sie mir erklären, warum die Rechnung Nr. 2024-0815 doppelt gebucht wurde?",
        "Vielen Dank für Ihre schnelle Rückmeldung, wir melden uns nächste Woche wieder.",
    ],
    "nl": [
        "Kun je deze klacht samenvatten en een vriendelijk antwoord voorstellen?",
        "De levering is vertraagd omdat de leverancier problemen heeft met de productie.",
        "Ons team in Utrecht neemt de uitrol over vanaf volgende maand.",
        "Bedankt voor je snelle reactie, we nemen volgende week contact op.",
    ],
    "fr": [
        "Pouvez-vous résumer cette réclamation et proposer une réponse polie au client ?",
        "La livraison est retardée de deux semaines à cause d'un problème chez le fabricant.",
        "Notre équipe de Lyon prendra en charge le déploiement à partir du 3 juin.",
        "Merci pour votre retour rapide, nous revenons vers vous la semaine prochaine.",
    ],
    "es": [
        "¿Puedes resumir esta queja y proponer una respuesta amable al cliente?",
        "La entrega se retrasa dos semanas por un problema con el fabricante.",
        "Nuestro equipo de Sevilla se encarga del despliegue a partir del próximo mes.",
        "Gracias por tu respuesta rápida, te escribimos la semana que viene.",
    ],
}
_CODE = [
    "def load_config(path: str) -> dict:\n    with open(path) as handle:\n        return json.load(handle)\n",
    "for i in range(0, 1024, 16):\n    chunk = buffer[i : i + 16]\n    checksum ^= int.from_bytes(chunk, 'big')\n",
    "SELECT user_id, count(*) AS calls FROM llm_calls WHERE ts > now() - INTERVAL 1 DAY GROUP BY user_id;\n",
    "const client = new Client({ host: 'localhost', port: 9092, retries: 5, timeoutMs: 30000 });\n",
    "class Account:\n    def __init__(self, owner, balance=0):\n"
    "        self.owner = owner\n        self.balance = balance\n",
    "if (response.status === 429) { await sleep(2 ** attempt * 100); continue; }\n",
    "export DATABASE_URL=postgres://app@db.internal:5432/app\nexport WORKERS=8\n",
]


def _log_line(rng: random.Random) -> str:
    ts = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:" \
         f"{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"  # fmt: skip
    level = rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
    ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return (
        f"{ts} {level} pid={rng.randint(100, 99999)} req={uuid.UUID(int=rng.getrandbits(128))} "
        f"src={ip} latency_ms={rng.randint(1, 9000)} bytes={rng.randint(0, 10**7)} "
        f"trace=0x{rng.getrandbits(64):016x} status={rng.choice([200, 201, 404, 500, 503])}\n"
    )


def _numbers_line(rng: random.Random) -> str:
    cells = [str(rng.randint(0, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(4, 10))]
    cells.append(f"{rng.random() * 1000:.4f}")
    cells.append(f"SKU-{rng.randint(10000, 99999)}-{rng.randint(10, 99)}")
    return ",".join(cells) + "\n"


def _json_blob(rng: random.Random, pii: list[str]) -> str:
    record: dict[str, Any] = {
        "id": rng.randint(1, 10**9),
        "ts": rng.randint(1_600_000_000, 1_800_000_000),
        "items": [{"sku": f"A{rng.randint(1000, 9999)}", "qty": rng.randint(1, 9)} for _ in range(3)],
        "note": rng.choice(_PROSE["en"]),
    }
    if pii:
        record["message"] = rng.choice(pii)
    return json.dumps(record, ensure_ascii=False) + "\n"


def long_text(rng: random.Random, kind: str, pii: list[str], size: int = 8192) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        if pii and rng.random() < 0.08:
            piece = rng.choice(pii) + "\n"
        elif kind == "code":
            piece = rng.choice(_CODE)
        elif kind == "log":
            piece = _log_line(rng)
        elif kind == "numbers":
            piece = _numbers_line(rng)
        elif kind == "json":
            piece = _json_blob(rng, pii)
        elif kind == "chat":
            speaker = rng.choice(["User", "Assistant"])
            piece = f"{speaker}: {rng.choice(_PROSE[rng.choice(list(_PROSE))])}\n"
        else:  # prose in one language
            piece = rng.choice(_PROSE[kind]) + (" " if rng.random() < 0.8 else "\n\n")
        parts.append(piece)
        length += len(piece)
    return "".join(parts)


def corpus_texts() -> list[str]:
    with CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def texts() -> list[str]:
    """The corpus' texts, then generated long texts of every kind, with and without PII."""
    corpus = corpus_texts()
    rng = random.Random(20261129)
    out = list(corpus)
    kinds = ["en", "de", "nl", "fr", "es", "chat", "code", "log", "numbers", "json"]
    for kind in kinds:
        for with_pii in (False, True):
            for _ in range(3):
                out.append(long_text(rng, kind, rng.sample(corpus, 40) if with_pii else []))
    # concatenations of corpus texts (dense PII, mixed languages and formats)
    for _ in range(20):
        out.append("\n".join(rng.sample(corpus, 30)))
    return out


def identity_values() -> list[str]:
    rng = random.Random(7)
    given = ["john", "maria", "jan", "sophie", "ahmed", "lukas", "emma", "pierre", "carmen", "tom", "priya"]
    surnames = ["smith", "garcia", "de.vries", "müller", "dubois", "jansen", "rossi", "kowalski", "brown"]
    domains = ["acme-corp.com", "gmail.com", "example.org", "contoso.co.uk", "web.de"]
    out: list[str] = ["", " ", "growth", "support-bot", "app-for-+44 20 7946 0958", "sess-jane@acme.io-1"]
    for _ in range(60):
        g, s = rng.choice(given), rng.choice(surnames)
        out += [
            str(uuid.UUID(int=rng.getrandbits(128))),
            f"{rng.getrandbits(64):016x}",
            f"{rng.getrandbits(24):06x}",
            f"user-{rng.randint(1, 99999)}",
            f"u_{rng.randint(1, 10**6)}",
            f"s-{rng.randint(1, 9999)}",
            str(rng.randint(1, 10 ** rng.randint(1, 13))),
            f"{g}.{s}",
            f"{g}_{s}{rng.randint(1, 99)}",
            f"{g.capitalize()} {s.capitalize()}",
            f"{g}.{s}@{rng.choice(domains)}",
            f"sess-{g}@{rng.choice(domains)}-{rng.randint(1, 9)}",
            f"+49 151 {rng.randint(1000000, 99999999)}",
            f"+1 (415) 555-{rng.randint(0, 9999):04d}",
            f"415555{rng.randint(0, 9999):04d}",
            f"06{rng.randint(10000000, 99999999)}",
            f"team-{rng.choice(['growth', 'search', 'billing', 'ml'])}",
            f"{rng.choice(['web', 'ios', 'android'])}-{rng.randint(1, 20)}.{rng.randint(0, 9)}",
            f"hmac:{rng.getrandbits(128):032x}",
            f"tenant/{rng.randint(1, 500)}/user/{rng.randint(1, 10**5)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"{rng.randint(1900, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        ]
    return out


def _entities(entities: list[Any]) -> list[list[Any]]:
    return [[e.type, e.start, e.end] for e in entities]


def outputs() -> dict[str, Any]:
    """What the current code makes of every input: detections, redacted text (hashed), counts, id verdicts."""
    from llmpulse.privacy.identity import IdentityCleaner
    from llmpulse.privacy.redact import Redactor

    redactor = Redactor()
    text_rows = []
    for text in texts():
        result = redactor.redact(text)
        redacted_bytes, counts = redactor.redact_bytes(text.encode("utf-8"))
        text_rows.append(
            {
                "input": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "entities": _entities(redactor.detect(text)),
                "redacted": hashlib.sha256(result.text.encode("utf-8")).hexdigest(),
                "counts": result.counts,
                "bytes": [hashlib.sha256(redacted_bytes).hexdigest(), counts],
            }
        )
    plain, keyed, hashed = IdentityCleaner(), IdentityCleaner(ID_KEY), IdentityCleaner(ID_KEY, hash_all=True)
    id_rows = []
    for value in identity_values():
        for field in ("user_id", "team"):
            id_rows.append(
                [field, value, list(plain.clean(field, value)), list(keyed.clean(field, value)),
                 list(hashed.clean(field, value))]
            )  # fmt: skip
    return {"texts": text_rows, "ids": id_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description="record the redaction equivalence fixture")
    parser.add_argument("--record", action="store_true", help=f"write {FIXTURE.name} from the current code")
    args = parser.parse_args()
    if args.record:
        data = json.dumps(outputs(), ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")
        FIXTURE.write_bytes(gzip.compress(data, mtime=0))
        print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
