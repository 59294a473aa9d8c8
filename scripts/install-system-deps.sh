#!/bin/sh
# Install the Debian packages the tests run for real (DESIGN: Prometheus, Alertmanager, MariaDB,
# mysqld_exporter, and what mysqlclient builds against), when missing and when we may. Arguments name more
# packages a target needs besides (make bench: prometheus-blackbox-exporter, the peer it measures against).
set -eu

PACKAGES="prometheus prometheus-alertmanager prometheus-mysqld-exporter mariadb-server libmariadb-dev pkg-config"
PACKAGES="$PACKAGES docker-compose"  # 1.29: validates docker-compose.yml (no Docker engine needed)
PACKAGES="$PACKAGES openssl"  # the TLS step tests make a self-signed certificate with it
PACKAGES="$PACKAGES chromium"  # browser steps and the storefront's end-to-end tests (Playwright drives it)
PACKAGES="$PACKAGES logrotate"  # tests/deploy rotate the shop's JSON log under load with the real binary
# kubectl's kustomize renders deploy/kubernetes; keep a kubectl that is there already (any package of it).
command -v kubectl >/dev/null 2>&1 || PACKAGES="$PACKAGES kubernetes-client"
PACKAGES="$PACKAGES $*"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install these yourself:$missing" >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo"
else
    echo "install-system-deps: missing$missing; run: sudo apt-get install$missing" >&2
    exit 0
fi

echo "install-system-deps: installing$missing"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# The tests start their own servers on free ports; they do not use the system-wide services.
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
