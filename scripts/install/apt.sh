# Sourced by the install scripts: apt_install PKG... installs what is missing,
# refreshing the package lists once when they are absent or the install fails,
# and keeps packages from starting system services (tests start their own).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "holdfast: need to install ${missing[*]} (Debian packages); run this script as root or install them yourself" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
  fi
  echo "holdfast: installing ${missing[*]}" >&2
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | head -n1)" ]; then
    apt-get update -qq
  fi
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}
