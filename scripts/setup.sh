#!/usr/bin/env bash
# One-time (idempotent) setup: a virtualenv under the repo with torch, fairseq and the pinned
# requirements. A second run checks a stamp and returns in seconds.
#
# Environment knobs:
#   VENV=path                 where the virtualenv lives (default: <repo>/.venv)
#   PYTHON=python3.11         interpreter used to create it (fairseq-fixed needs Python 3.11+)
#   TORCH_SPEC='torch==2.13.0'  what pip installs when no suitable torch is importable; on a
#                             CUDA cluster e.g. TORCH_SPEC='torch==2.13.0' PIP_EXTRA_INDEX_URL=...
#   SYSTEM_SITE_PACKAGES=1    let the venv see the base interpreter's packages, so a torch that a
#                             cluster module already provides is used as it is
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
FAIRSEQ_SPEC="fairseq-fixed==0.12.3.1"
STAMP="$VENV/.align-mlm-setup"

log() { printf '[setup] %s\n' "$*" >&2; }

want_stamp() {
  # Anything that changes what gets installed invalidates the stamp.
  cat "$REPO/requirements.txt" "$REPO/pyproject.toml" "$REPO/scripts/setup.sh" | sha256sum | cut -d' ' -f1
  echo "$TORCH_SPEC ${SYSTEM_SITE_PACKAGES:-0}"
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want_stamp)" ]]; then
  log "environment up to date: $VENV"
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  log "error: $PYTHON is not Python >= 3.11 (fairseq-fixed 0.12.3.1 targets 3.11); set PYTHON=..."
  exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  venv_args=()
  [[ "${SYSTEM_SITE_PACKAGES:-0}" == 1 ]] && venv_args+=(--system-site-packages)
  "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

# 1. torch: keep a suitable one (>= 2.0) if the venv already sees it; never let pip pick a
#    CUDA build implicitly.
if "$PY" -c 'import torch, sys; sys.exit(int(torch.__version__.split(".")[0]) < 2)' 2>/dev/null; then
  log "using existing torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  log "installing $TORCH_SPEC"
  "${PIP[@]}" "$TORCH_SPEC"
fi

# 2. build dependencies of fairseq's C++ extensions, then the requirements (pins).
log "installing requirements.txt"
"${PIP[@]}" -r "$REPO/requirements.txt"

# 3. fairseq against *this* torch: no build isolation (else pip builds against a second torch)
#    and no deps (else it pulls torchaudio, which fails to import beside torch 2.13).
if ! "$PY" -c 'import fairseq' 2>/dev/null; then
  log "building $FAIRSEQ_SPEC (C++ extensions; about 4 minutes)"
  "${PIP[@]}" --no-build-isolation --no-deps "$FAIRSEQ_SPEC"
fi

# 4. the toolkit itself, editable: `import alignmlm`, the `alignmlm` command, and fairseq's
#    --user-dir pointing at alignmlm/ all use this checkout. Dependencies are the pins above.
log "installing the toolkit (pip install -e .)"
"${PIP[@]}" --no-deps -e "$REPO"

"$PY" - <<'PY'
import alignmlm, fairseq, torch
print(f"[setup] ok: torch {torch.__version__}, fairseq {fairseq.__version__}")
PY
want_stamp > "$STAMP"
