"""ALIGN-MLM and its baselines as a fairseq plugin: `fairseq-train --user-dir alignmlm ...`.

fairseq's --user-dir imports `tasks/` and `models/` by itself; `tasks/__init__.py` brings in the
criterions and the checkpoint allow-list. This file stays light on purpose, so that the pure
modules (alignmlm.data.*, alignmlm.alignment) import without fairseq. From Python, call
`register()` (or use `alignmlm.checkpoint.load_checkpoint`) before building tasks or models.
"""

import importlib
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent  # what fairseq's --user-dir points at
# The hydra configs of the checkout the package is installed from (`pip install -e .`).
CONFIG_DIR = PLUGIN_DIR.parent / "configs"


def register() -> None:
    """Import every task, model and criterion of the plugin so fairseq knows their names."""
    for sub in ("tasks", "models", "criterions"):
        importlib.import_module(f"{__name__}.{sub}")
