"""ALIGN-MLM and its baselines as a fairseq plugin: `fairseq-train --user-dir user_dir ...`.

fairseq imports only `tasks/` and `models/` of a user dir by itself; everything is imported
here so that criterions register too, and checkpoints load under torch's weights_only loader.
"""
from . import checkpoint  # noqa: F401  (allow-lists fairseq's checkpoint classes first)
from . import criterions, models, tasks  # noqa: F401
