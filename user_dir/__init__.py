"""ALIGN-MLM and its baselines as a fairseq plugin: `fairseq-train --user-dir user_dir ...`.

fairseq's --user-dir imports `tasks/` and `models/` by itself; `tasks/__init__.py` brings in the
criterions and the checkpoint allow-list. This file stays light on purpose, so that the pure
modules (user_dir.data.*, user_dir.alignment) import without fairseq. From Python, call
`register()` (or use `user_dir.checkpoint.load_checkpoint`) before building tasks or models.
"""
import importlib


def register() -> None:
    """Import every task, model and criterion of the plugin so fairseq knows their names."""
    for sub in ("tasks", "models", "criterions"):
        importlib.import_module(f"{__name__}.{sub}")
