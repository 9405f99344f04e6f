#!/usr/bin/env bash
# The main job on the bundled data, from a fresh clone:
#   1. set up .venv (first time: ~5 min; then seconds),
#   2. derive a synthetic language from the bundled English sample: Trans+Inv (new script,
#      inverted word order), with its joint dictionary and ground-truth bilingual dictionary,
#   3. pretrain the MLM baseline (tiny RoBERTa) for a few hundred updates on the CPU,
#   4. print where data, checkpoints, logs and tensorboard files are.
# Re-running reuses the prepared data and resumes training where it stopped.
#   OUT=runs/quickstart  where everything goes      MAX_UPDATE=300  training updates
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${OUT:-runs/quickstart}"
MAX_UPDATE="${MAX_UPDATE:-300}"
WORKERS="${WORKERS:-$(nproc)}"

bash scripts/setup.sh
PY="$REPO/.venv/bin/python"
start=$SECONDS

echo "== 1/2 data: bundled EN-EWT English -> en + en_trans_inv (Trans+Inv)"
"$PY" -m data_prep.prepare_pair --corpus data/en_ewt/pretrain.txt --transform trans+inv \
  --out "$OUT/data" --workers "$WORKERS"

echo "== 2/2 pretrain MLM baseline (roberta_tiny, $MAX_UPDATE updates, CPU)"
"$PY" scripts/train.py --objective mlm --data "$OUT/data" --save-dir "$OUT/mlm" \
  --max-update "$MAX_UPDATE" > "$OUT/mlm.stdout" 2>&1 \
  || { tail -30 "$OUT/mlm.stdout"; echo "training failed; full output: $OUT/mlm.stdout"; exit 1; }

"$PY" - "$OUT" <<'PY'
import sys
from scripts.fairseq_log import read_records
out = sys.argv[1]
print("\nMLM validation loss (base 2) at the last validation:")
for subset in ("valid", "valid_en", "valid_en_trans_inv"):
    records = read_records(f"{out}/mlm/train.log", subset)
    print(f"  {subset:<22} {float(records[-1][f'{subset}_loss']):.3f}   "
          f"(first validation: {float(records[0][f'{subset}_loss']):.3f})")
PY
cat <<MSG

done in $((SECONDS - start))s
  prepared pair     $OUT/data          (pair.json: settings and statistics)
  fairseq data      $OUT/data/bin
  bilingual dict    $OUT/data/dict/{train,heldout}.txt
  checkpoints       $OUT/mlm/checkpoint_last.pt
  training log      $OUT/mlm/train.log
  tensorboard       .venv/bin/tensorboard --logdir $OUT/mlm/tensorboard
MSG
