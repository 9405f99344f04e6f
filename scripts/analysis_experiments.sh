#!/usr/bin/env bash
# The CPU-size experiments of docs/analysis.md: the context papers' knobs on the bundled
# EN-EWT Trans+Inv pair (tiny RoBERTa, configs/pretrain.yaml, 800 updates), each cell analysed
# (alignmlm compare --analyze) and fine-tuned for POS (quick recipe):
#   objectives  MLM, ALIGN-MLM, XLM, DICT-MLM: CKA, sentence retrieval and probe by layer
#   anchors     MLM with 10 % and 50 % of the pieces shared by both languages (0 %: objectives)
#   unified     MLM with mOthello's unified output space
#   sharing_K   partial sharing: MLM with language-specific embeddings (K=1), MLM and ALIGN-MLM
#               with language-specific embeddings and layer 1 (K=2; the tiny model has 2 layers)
#   OUT=runs/analysis  SEEDS=1  JOBS=$(nproc)  VOCAB=500 (pieces per language)  ONLY=sharing
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${OUT:-runs/analysis}"
SEEDS="${SEEDS:-1}"
JOBS="${JOBS:-$(nproc)}"
VOCAB="${VOCAB:-500}"
bash scripts/setup.sh
PY="$REPO/.venv/bin/python"
start=$SECONDS

ANCHORS="${ANCHORS:-0 0.1 0.5}"  # ONLY=sharing: the partial-sharing runs alone
[ "${ONLY:-}" = sharing ] && ANCHORS=0
for anchors in $ANCHORS; do
  flags=()
  [ "$anchors" = 0 ] || flags=(--anchor-fraction "$anchors")
  "$PY" -m alignmlm prepare-pair --corpus data/en_ewt/pretrain.conllu --transform trans+inv \
    --vocab-size "$VOCAB" --out "$OUT/data_anchors_$anchors" --workers "$JOBS" "${flags[@]}"
done
"$PY" -m alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+inv --out "$OUT/pos" --overwrite

compare() {  # compare OUT_NAME PAIR OBJECTIVES [more flags]
  "$PY" -m alignmlm compare --pair "$2" --pos "$OUT/pos" --objectives "$3" --seeds "$SEEDS" \
    --jobs "$JOBS" --analyze --out "$OUT/$1" "${@:4}"
}
if [ "${ONLY:-}" != sharing ]; then
  compare objectives "$OUT/data_anchors_0" mlm,align_mlm,xlm,dict_mlm
  compare anchors_0.1 "$OUT/data_anchors_0.1" mlm
  compare anchors_0.5 "$OUT/data_anchors_0.5" mlm
  compare unified "$OUT/data_anchors_0" mlm --unified-output
fi
compare sharing_1 "$OUT/data_anchors_0" mlm --shared-layers-from 1
compare sharing_2 "$OUT/data_anchors_0" mlm,align_mlm --shared-layers-from 2
echo "done in $((SECONDS - start))s: $OUT/{objectives,anchors_0.1,anchors_0.5,unified,sharing_1,sharing_2}/results.md, layers.png"
