#!/usr/bin/env bash
# Start the web server (127.0.0.1:8000), the django-q2 worker (schedules,
# retry cycle) and the long-running sender from the Procfile, supervised by
# scripts/supervise.py: a program that exits is restarted with backoff; one
# that keeps crashing (5 exits within 300 s) stops everything, loudly.
# Ctrl-C (or SIGTERM to this script) stops them all, with their child processes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export BIND="${BIND:-127.0.0.1:8000}"
echo "Retry Admin: http://$BIND/  (Ctrl-C stops the web server, the worker and the sender)"
exec python scripts/supervise.py Procfile ${SUPERVISE_ARGS:-}
