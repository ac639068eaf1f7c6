#!/usr/bin/env bash
# restic for the `restic:` repository backend and its tests, from Debian
# (bookworm ships 0.14: no --stdin-from-command, which holdfast does not need:
# it ends restic's stdin only after the dump tool exited 0, and kills restic
# otherwise, so a failed dump never becomes a restic snapshot).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=apt.sh
. "$here/apt.sh"

apt_install restic
restic version >&2
