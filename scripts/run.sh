#!/usr/bin/env bash
# Start the web server (127.0.0.1:8000) and the django-q2 worker; Ctrl-C (or
# SIGTERM to this script) stops both, with their child processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
BIND="${BIND:-127.0.0.1:8000}"
pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT
# Each in its own process group, so stopping reaches every worker process.
setsid .venv/bin/gunicorn config.wsgi:application --bind "$BIND" \
  --workers "${WEB_WORKERS:-2}" --threads 4 --access-logfile - &
pids+=($!)
setsid $PY manage.py qcluster &
pids+=($!)
echo "Retry Admin: http://$BIND/  (Ctrl-C stops the web server and the worker)"
wait -n "${pids[@]}" || true
