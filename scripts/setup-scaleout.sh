#!/usr/bin/env bash
# The scale-out twin's Python environment (scaleout/README.md): a virtual environment in
# .setup/scaleout-venv holding the pinned packages of scaleout/requirements.txt (torch's CPU
# wheel among them), installed with --require-hashes. Vitrine itself never needs it; `make test`
# does, for the twin's tests. Idempotent: a stamp with the requirements' hash makes a second run
# a file comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.setup/scaleout-venv
req=scaleout/requirements.txt
stamp="$venv/.vitrine-requirements.sha256"
# The stamp covers the requirements and where the repository is (the venv points at scaleout/).
want=$( (sha256sum "$req"; pwd) | sha256sum | cut -c1-64)
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "setup-scaleout: python3 cannot make virtual environments; install python3-venv (apt-get install python3-venv)" >&2
  exit 1
fi
echo "setup-scaleout: making $venv (torch 2.13.0+cpu and numpy; about a minute, once)" >&2
rm -rf "$venv"
mkdir -p .setup
python3 -m venv "$venv"
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r "$req"; then
  echo "setup-scaleout: pip could not install $req into $venv." >&2
  echo "setup-scaleout: torch==2.13.0+cpu comes from a local wheel (pip's find-links) or https://download.pytorch.org/whl/cpu;" >&2
  echo "setup-scaleout: the others come from PyPI. Check that pip can reach them, then run make test again." >&2
  rm -rf "$venv"
  exit 1
fi
# The package itself is this repository's scaleout/ folder, found through a .pth file (no copy,
# no build step): edits take effect at once.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$PWD/scaleout" > "$site/vitrine-scaleout.pth"
echo "$want" > "$stamp"
