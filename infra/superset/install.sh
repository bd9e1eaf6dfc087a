#!/bin/sh
# Apache Superset 6.1 in its own virtual environment (no conflict with llmpulse's), once.
# rich and flask-caching<2.4 are needed by Superset 6.1 itself (2.5 breaks SupersetMetastoreCache), cachetools
# by its ClickHouse engine spec;
# clickhouse-connect is its ClickHouse driver; playwright drives the system's Chromium in the browser test.
set -e
VENV="${1:-.llmpulse/superset/venv}"
STAMP="$VENV/.installed-superset-6.1.0"
[ -f "$STAMP" ] && exit 0
echo "dashboards: installing Apache Superset 6.1.0 into $VENV (a few minutes, once)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "apache-superset==6.1.0" "clickhouse-connect>=0.8" \
    rich "flask-caching<2.4" cachetools "playwright>=1.40"
touch "$STAMP"
