#!/usr/bin/env bash
# The main job on the bundled data, from a fresh clone:
#   PAIR=synthetic (default)  English and a language derived from it (the paper's setting);
#   PAIR=en-tr                English and Turkish, a natural pair (see below).
#   1. set up .venv (first time: ~5 min; then seconds);
#   2. derive a synthetic language from the bundled English sample (the EN-EWT treebank's words,
#      tokenized as the POS data is): Trans+Inv (new script, inverted word order), with its joint
#      and ground-truth bilingual dictionaries;
#   3. the same transform on the bundled UPOS data (original and derived splits);
#   4. pretrain MLM, ALIGN-MLM, XLM and DICT-MLM (tiny RoBERTa, same settings) with each seed,
#      two cells side by side, evaluate alignment and POS zero-shot transfer, print the table
#      (mean ± std over seeds, correlation with its interval) and the plot's path.
# PAIR=en-tr: the bundled English (EN-EWT) and Turkish (TR-BOUN) treebank text, the FreeDict
# en-tr dictionary (its pairs whose words both corpora show, --dict-min-count 1), the EN/TR ATIS
# translations as XLM's parallel text; POS B_Z = fine-tune on English, test on Turkish, B_S =
# fine-tune and test on Turkish. Objectives: mlm, align_mlm_contrastive (ALIGN-MLM with the
# contrastive alignment loss, the form that works on a natural dictionary; docs/natural_pairs.md),
# xlm, dict_mlm; OUT defaults to runs/quickstart_en_tr and VOCAB to 4000 (joint).
# Re-running reuses what is done (data, finished cells with the same settings). Pretraining and
# fine-tuning follow configs/pretrain.yaml and `alignmlm finetune`'s quick recipe; knobs:
#   OUT=runs/quickstart  where everything goes        OBJECTIVES=mlm,align_mlm,xlm,dict_mlm
#   SEEDS=1,2            seeds per cell               VOCAB=500         pieces per language
#   JOBS=$(nproc)        cells side by side           MAX_UPDATE, LR, FINETUNE_UPDATES: overrides
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PAIR="${PAIR:-synthetic}"
case "$PAIR" in
  synthetic)
    OUT="${OUT:-runs/quickstart}"
    OBJECTIVES="${OBJECTIVES:-mlm,align_mlm,xlm,dict_mlm}"
    VOCAB="${VOCAB:-500}" ;;
  en-tr)
    OUT="${OUT:-runs/quickstart_en_tr}"
    OBJECTIVES="${OBJECTIVES:-mlm,align_mlm_contrastive,xlm,dict_mlm}"
    VOCAB="${VOCAB:-4000}" ;;
  *) echo "error: PAIR=$PAIR: expected synthetic or en-tr" >&2; exit 2 ;;
esac
SEEDS="${SEEDS:-1,2}"
WORKERS="${WORKERS:-$(nproc)}"
JOBS="${JOBS:-$(nproc)}"

bash scripts/setup.sh
PY="$REPO/.venv/bin/python"
start=$SECONDS

if [ "$PAIR" = synthetic ]; then
  echo "== 1/3 data: bundled EN-EWT English -> en + en_trans_inv (Trans+Inv)"
  "$PY" -m alignmlm prepare-pair --corpus data/en_ewt/pretrain.conllu --transform trans+inv \
    --vocab-size "$VOCAB" --out "$OUT/data" --workers "$WORKERS"

  echo "== 2/3 POS data: bundled EN-EWT UPOS, original and Trans+Inv"
  "$PY" -m alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+inv \
    --out "$OUT/pos" --overwrite
else
  echo "== 1/3 data: bundled EN-EWT English + TR-BOUN Turkish, FreeDict en-tr, ATIS en/tr parallel"
  "$PY" -m alignmlm prepare-pair --corpus data/en_ewt/pretrain.conllu --lang1 en \
    --corpus2 data/tr_boun/pretrain.txt --lang2 tr --dictionary data/en_tr/dictionary.txt \
    --dict-min-count 1 --parallel data/en_tr/atis.en data/en_tr/atis.tr \
    --vocab-size "$VOCAB" --out "$OUT/data" --workers "$WORKERS"

  echo "== 2/3 POS data: bundled EN-EWT UPOS (English) and TR-BOUN UPOS (Turkish)"
  "$PY" -m alignmlm prepare-pos --conllu-dir data/en_ewt/pos --target-conllu-dir data/tr_boun/pos \
    --lang1 en --lang2 tr --out "$OUT/pos" --overwrite
fi

overrides=()
[ -z "${MAX_UPDATE:-}" ] || overrides+=(--max-update "$MAX_UPDATE")
[ -z "${LR:-}" ] || overrides+=(--lr "$LR")
[ -z "${FINETUNE_UPDATES:-}" ] || overrides+=(--finetune-updates "$FINETUNE_UPDATES")
echo "== 3/3 pretrain $OBJECTIVES x seeds $SEEDS, alignment, POS B_S / B_Z"
"$PY" -m alignmlm compare --pair "$OUT/data" --pos "$OUT/pos" --objectives "$OBJECTIVES" \
  --seeds "$SEEDS" --jobs "$JOBS" --out "$OUT/compare" "${overrides[@]}"

cat <<MSG

done in $((SECONDS - start))s
  prepared pair     $OUT/data          (pair.json: settings and statistics)
  results           $OUT/compare/results.md, results.csv, alignment_vs_transfer.png
  per cell          $OUT/compare/OBJECTIVE__PAIR__seedS/ (settings, checkpoints, logs, tensorboard)
  tensorboard       .venv/bin/tensorboard --logdir $OUT/compare
MSG
