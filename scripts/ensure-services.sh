#!/usr/bin/env bash
# Start the backing services the integration tests use, if they are not running.
# (On this machine kind they are started before the session; this makes `make test` work anyway.)
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 3306 && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! up 5672 && command -v rabbitmq-server >/dev/null; then
  rabbitmq-server -detached || true
fi
for i in $(seq 1 30); do
  up 5432 && up 3306 && up 5672 && exit 0
  sleep 1
done
echo "ensure-services: some backing services are not reachable (integration tests will say which)" >&2
exit 0
