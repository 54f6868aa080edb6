#!/usr/bin/env bash
# Start the web server (127.0.0.1:8000) and the django-q2 worker; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping..."
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
.venv/bin/gunicorn config.wsgi:application --bind "${BIND:-127.0.0.1:8000}" \
  --workers "${WEB_WORKERS:-2}" --threads 4 --access-logfile - &
pids+=($!)
$PY manage.py qcluster &
pids+=($!)
echo "Retry Admin: http://${BIND:-127.0.0.1:8000}/  (Ctrl-C stops the web server and the worker)"
wait -n "${pids[@]}"
