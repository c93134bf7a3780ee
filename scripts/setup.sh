#!/usr/bin/env bash
# Installs, idempotently and from Debian packages only, what building, testing
# and running tusk need. Run as root (or through sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  postgresql-15 postgresql-15-postgis-3 postgresql-server-dev-15 postgresql-contrib
  postgresql-client-15 libpq-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libssl-dev libzstd-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-psycopg2 pgbouncer procps
)

if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi

# tusk manages its own clusters: keep Debian from creating and starting a
# default one on port 5432 when postgresql-15 is installed.
mkdir -p /etc/postgresql-common
if ! grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
  echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all packages present"
