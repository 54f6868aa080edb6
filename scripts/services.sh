#!/usr/bin/env bash
# Start the local services the tests need if they are not running
# (the commands this machine kind documents). Usage: services.sh postgres [redis ...]
set -euo pipefail
for service in "$@"; do
  case "$service" in
    postgres)
      if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
      fi
      pg_isready -h 127.0.0.1 -p 5432
      ;;
    redis)
      if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
        echo "starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
          --dir /var/lib/redis --logfile /var/log/redis/ci.log
        sleep 1
      fi
      redis-cli -h 127.0.0.1 ping
      ;;
    rabbitmq)
      if ! (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null; then
        echo "starting RabbitMQ"
        rabbitmq-server -detached
        for _ in $(seq 60); do (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
      fi
      (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null && echo "RabbitMQ accepting connections on 5672"
      ;;
    *) echo "unknown service: $service" >&2; exit 2 ;;
  esac
done
