#!/bin/bash
# Container healthcheck of a NATS node: its monitoring /healthz answers 200
# once the server is up and JetStream has joined the cluster's meta group.
# Uses bash's /dev/tcp, so the image needs no HTTP client.
host="${NATS_HOST:-127.0.0.1}"
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
exec 3<>"/dev/tcp/$host/${NATS_HTTP_PORT:-8222}" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
IFS= read -r -t 3 status <&3 || exit 1
case "$status" in
  *" 200 "*) exit 0 ;;
  *) echo "nats /healthz: $status" >&2; exit 1 ;;
esac
