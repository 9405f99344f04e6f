"""Kept so that `--user-dir user_dir` and checkpoints saved before the plugin became the
`alignmlm` package (their config names this directory) still load: it registers `alignmlm`."""

import alignmlm

alignmlm.register()
