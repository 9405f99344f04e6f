# fairseq imports this package for --user-dir; criterions and the checkpoint allow-list come
# along so that training and resuming find them.
from .. import checkpoint, criterions  # noqa: F401
from ..errors import install_excepthook
from . import bilingual_dictionary, dict_mlm, multilingual_mlm, ner, nli, pos_tagging, xlm  # noqa: F401

# a bad input found inside fairseq-train ends in one `error:` line, not a 30-line traceback
install_excepthook()
