#!/bin/bash
# Superset for llmpulse: metadata DB, admin user, the llmpulse dashboards (the bundle in infra/superset/,
# mounted read-only), the ClickHouse connection as the read-only user, then the web server.
set -euo pipefail
: "${SUPERSET_ADMIN_PASSWORD:?set SUPERSET_ADMIN_PASSWORD}"
: "${LLMPULSE_SUPERSET_DATABASE_URI:?set LLMPULSE_SUPERSET_DATABASE_URI}"
src="${LLMPULSE_SUPERSET_BUNDLE:-/llmpulse-infra/superset}"

superset db upgrade
superset fab create-admin --username admin --firstname llmpulse --lastname admin \
    --email admin@localhost --password "$SUPERSET_ADMIN_PASSWORD" || true   # already there after a restart
superset init

# the bundle as a ZIP, its database URI (the reader's password) from the environment, never in the bundle
bundle="$(mktemp -d)/llmpulse-dashboards.zip"
rc=0
python "$(dirname "$0")/bundle_zip.py" "$src" "$bundle" || rc=$?
if [ "$rc" = 0 ]; then
    superset import-dashboards -p "$bundle" -u admin
elif [ "$rc" = 3 ]; then
    echo "superset: no dashboard bundle under $src; starting without the llmpulse dashboards" >&2
else
    exit "$rc"
fi
rm -f "$bundle"
superset set-database-uri --database_name llmpulse --uri "$LLMPULSE_SUPERSET_DATABASE_URI"

exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
