#!/usr/bin/env bash
# Set up .venv (idempotent), lint, and run the whole test suite, slow end-to-end tests included.
#   bash scripts/test.sh                 everything (what CI runs)
#   bash scripts/test.sh -m "not slow"   the fast unit tests only; other pytest args pass through
#   bash scripts/test.sh -m gpu          on a GPU node: the CUDA tests (skipped without CUDA)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
# ruff (configured in pyproject.toml): lint and format, before any test
"$REPO/.venv/bin/ruff" check .
"$REPO/.venv/bin/ruff" format --check .
exec "$REPO/.venv/bin/python" -m pytest tests "$@"
