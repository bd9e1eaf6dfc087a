"""Opens llmpulse's dashboards in a real headless Chromium and checks that every chart got data.

Run with the Superset venv's Python (it has Playwright; the browser is the system's Chromium):

    SUPERSET_ADMIN_PASSWORD=… python browser_check.py --url http://127.0.0.1:8088 --user admin --out DIR

The password is read from ``SUPERSET_ADMIN_PASSWORD`` so it stays out of the process list (``--password`` also works;
write ``--password=VALUE`` when the value starts with ``-``).

Logs in through the login page, opens each dashboard, records every ``/api/v1/chart/data`` response,
and prints one JSON line: per dashboard, per chart, the HTTP status and row count. Exits 1 when a chart's
data request failed, returned no rows, or never came. Saves ``DIR/<slug>.png`` of each dashboard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Response, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

SLUGS = ["llmpulse-engineering", "llmpulse-spend", "llmpulse-alerts", "llmpulse-safety", "llmpulse-quality"]


def slice_id(response: Response) -> int | None:
    """The chart a ``/api/v1/chart/data`` call is for (``form_data`` in the URL or the body)."""
    query = parse_qs(urlsplit(response.url).query)
    for raw in query.get("form_data", []):
        value = json.loads(raw).get("slice_id")
        if value:
            return int(value)
    body = response.request.post_data_json or {}
    form = body.get("form_data") or {}
    return int(form["slice_id"]) if form.get("slice_id") else None


def rows_of(payload: dict[str, Any]) -> tuple[int, str | None]:
    results = payload.get("result") or []
    errors = [r.get("error") for r in results if r.get("error")]
    return sum(int(r.get("rowcount") or len(r.get("data") or [])) for r in results), (errors[0] if errors else None)


def login(page: Page, url: str, user: str, password: str, timeout_s: float) -> None:
    """Through the login form; again if the page was not ready for it (a busy machine renders it slowly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(f"{url}/login/")
        page.wait_for_load_state("networkidle")
        page.locator("input#username, input[name=username]").first.fill(user)
        page.locator("input#password, input[name=password]").first.fill(password)
        page.keyboard.press("Enter")
        try:
            page.wait_for_url(lambda u: "/login" not in u, timeout=30_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise


def check(url: str, user: str, password: str, out: Path, chromium: str | None, timeout_s: float) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1600, "height": 2400})
        login(page, url, user, password, timeout_s)
        for slug in SLUGS:
            charts = page.request.get(f"{url}/api/v1/dashboard/{slug}/charts").json()["result"]
            expected = {int(c["id"]): c["slice_name"] for c in charts}
            seen: dict[int, dict[str, Any]] = {}

            def on_response(response: Response, seen: dict[int, dict[str, Any]] = seen) -> None:
                if "/api/v1/chart/data" not in response.url:
                    return
                sid = slice_id(response)
                if sid is None:
                    return
                try:
                    payload = response.json()
                except Exception:  # a non-JSON answer is a failure to report
                    payload = {"result": [{"error": response.text()[:300]}]}
                rows, error = rows_of(payload)
                seen[sid] = {"status": response.status, "rows": rows, "error": error}

            page.on("response", on_response)
            page.goto(f"{url}/superset/dashboard/{slug}/?standalone=0")
            deadline = time.monotonic() + timeout_s
            while set(expected) - set(seen) and time.monotonic() < deadline:
                page.mouse.wheel(0, 800)
                page.wait_for_timeout(500)
            page.wait_for_load_state("networkidle")
            page.evaluate("window.scrollTo(0, 0)")
            # on a loaded machine the grid can still be empty here although every chart's data came back:
            # wait until each chart's holder is on the page before the screenshot
            page.wait_for_function(
                "n => document.querySelectorAll('[data-test=\"dashboard-component-chart-holder\"]').length >= n",
                arg=len(expected), timeout=timeout_s * 1000,
            )
            page.wait_for_timeout(2500)  # let the charts draw (ECharts animates)
            page.screenshot(path=str(out / f"{slug}.png"), full_page=True)
            page.remove_listener("response", on_response)
            report[slug] = {name: seen.get(cid, {"status": None, "rows": 0, "error": "no data request"})
                            for cid, name in expected.items()}  # fmt: skip
        browser.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default=os.environ.get("SUPERSET_ADMIN_PASSWORD"),
                        help="the admin password (default: $SUPERSET_ADMIN_PASSWORD)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--chromium", default=None, help="the browser executable (default: Playwright's own)")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    if not args.password:
        parser.error("no password: set SUPERSET_ADMIN_PASSWORD or pass --password=VALUE")
    report = check(args.url, args.user, args.password, args.out, args.chromium, args.timeout)
    print(json.dumps(report))
    bad = [(d, c) for d, charts in report.items() for c, r in charts.items() if r["status"] != 200 or not r["rows"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
