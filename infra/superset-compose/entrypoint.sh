#!/bin/bash
# Superset for llmpulse: metadata DB, admin user, the llmpulse dashboards (the bundle in infra/superset/,
# mounted read-only; see its README), the ClickHouse connection as the read-only user, then the web server.
set -euo pipefail
: "${SUPERSET_ADMIN_PASSWORD:?set SUPERSET_ADMIN_PASSWORD}"
: "${LLMPULSE_SUPERSET_DATABASE_URI:?set LLMPULSE_SUPERSET_DATABASE_URI}"

superset db upgrade
superset fab create-admin --username admin --firstname llmpulse --lastname admin \
    --email admin@localhost --password "$SUPERSET_ADMIN_PASSWORD" || true   # already there after a restart
superset init
src="${LLMPULSE_SUPERSET_BUNDLE:-/llmpulse-infra/superset}"

# The bundle: a ZIP export in $src, or an unzipped export (a folder holding metadata.yaml), zipped here.
bundle=$(find "$src" -maxdepth 2 -name '*.zip' -print -quit 2>/dev/null || true)
if [ -z "$bundle" ]; then
    meta=$(find "$src" -maxdepth 3 -name metadata.yaml -print -quit 2>/dev/null || true)
    if [ -n "$meta" ]; then
        bundle=/tmp/llmpulse-dashboards.zip
        python - "$(dirname "$meta")" "$bundle" <<'PY'
import pathlib, sys, zipfile
src, out = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(out, "w") as zf:
    for path in sorted(src.rglob("*")):
        if path.is_file():
            zf.write(path, pathlib.Path("llmpulse_dashboards") / path.relative_to(src))
PY
    fi
fi
if [ -n "$bundle" ]; then
    superset import-dashboards -p "$bundle" -u admin
else
    echo "superset: no dashboard bundle under $src; starting without the llmpulse dashboards" >&2
fi
# the connection the dashboards use, with the reader's password from the environment (never in the bundle)
superset set-database-uri --database_name llmpulse --uri "$LLMPULSE_SUPERSET_DATABASE_URI"

exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
