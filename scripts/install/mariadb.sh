#!/usr/bin/env bash
# Install MariaDB server, client and mariadb-backup (Debian packages) for the
# throwaway test instances started by test/servers/mariadb.ts.
#
# Idempotent: does nothing when the binaries are already present.
# The Debian package starts and enables a system service (mariadb.service)
# on install; tests start their own instances, so it is stopped and disabled.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-backup >/dev/null 2>&1 || need+=(mariadb-backup)
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists when they are missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    $SUDO apt-get update -qq
  fi
  # Keep the package from starting its service where a policy-rc.d is honoured
  # (containers without systemd); removed again right after.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  trap '[ "$policy_created" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  if ! $SUDO apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client mariadb-backup; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client mariadb-backup
  fi
fi

# Never leave the Debian system service running or enabled.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now mariadb.service >/dev/null 2>&1 || true
  $SUDO systemctl disable --now mysql.service >/dev/null 2>&1 || true
else
  # No systemd: stop via the init script, then make sure no system mariadbd
  # (the one using the Debian default datadir) is left behind.
  if [ -x /etc/init.d/mariadb ]; then $SUDO /etc/init.d/mariadb stop >/dev/null 2>&1 || true; fi
  if [ -x /usr/sbin/update-rc.d ]; then $SUDO update-rc.d mariadb disable >/dev/null 2>&1 || true; fi
fi
if [ -f /run/mysqld/mysqld.pid ]; then
  pid="$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then $SUDO kill "$pid" || true; fi
fi

echo "mariadb: $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)"
echo "mariadb-backup: $(mariadb-backup --version 2>&1 | tail -n1)"
