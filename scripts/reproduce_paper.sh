#!/usr/bin/env bash
# The ALIGN-MLM paper's matrix (docs/design.md §2): 4 objectives x {Trans, Trans+Inv, Trans+Syn}
# x {POS, NER, NLI} x seeds, ending with the table in the paper's shape, the paper's own figures
# beside each cell, and Spearman rho of alignment with delta per task over all cells.
#
#   bash scripts/reproduce_paper.sh                 SIZE=cpu: bundled data, tiny model, this machine
#   SIZE=paper CORPUS=... bash scripts/reproduce_paper.sh    the paper's size, one SLURM job per cell
#
# SIZE=cpu (default): the bundled EN-EWT treebank (its words and trees) as the pretraining corpus,
#   Syn towards the bundled Turkish TR-BOUN order (head-final; a stand-in for the paper's French,
#   which cannot be had offline: SYN_TREEBANK=fr_gsd-ud-train.conllu to use it), the bundled UPOS
#   data, and the hand-made NER and NLI sets of tests/data (which only show that the pipeline runs:
#   they are not WikiANN or XNLI). NER and NLI have no trees, so their Trans+Syn cells are empty.
#   Two cells side by side; a progress line per finished cell.
# SIZE=paper: the paper's model, block length, batch (16 x 512 tokens x UPDATE_FREQ 8 = its 128
#   blocks per update on one GPU per cell), 500k updates, lr 1e-4, 10k warm-up, AdamW (0.9, 0.999);
#   fine-tuning lr 2e-5, batch 32, POS / NER 10 epochs, NLI 5, the final model scored on the
#   derived dev set. Every cell is a SLURM job (compare --slurm); run the script again to collect.
#   Give the data:
#     CORPUS        English Wikipedia as CoNLL-U with trees (parse it with Stanza or UDPipe)
#     SYN_TREEBANK  the target order's UD treebank (the paper: French, fr_gsd-ud-train.conllu)
#     POS_DIR       UD English EWT {train,dev,test}.conllu (as data/en_ewt/pos)
#     NER_DIR       WikiANN English {train,valid,test}.txt (alignmlm prepare-ner --help: download)
#     NLI_DIR       XNLI/MNLI {train,valid,test}.tsv (NLI_EXT=jsonl for JSONL; prepare-nli --help)
#     SLURM_ARGS    sbatch options of each cell's job, e.g. "--partition=gpu --gpus=1 --time=72:00:00"
# Knobs: OUT, SEEDS, OBJECTIVES, VOCAB, JOBS, MAX_UPDATE, FINETUNE_UPDATES (cpu), RUN, PRECISION,
#   UPDATE_FREQ (paper). Re-running reuses every finished step with the same settings.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
SIZE="${SIZE:-cpu}"
OBJECTIVES="${OBJECTIVES:-mlm,xlm,dict_mlm,align_mlm}"
SYN_TREEBANK="${SYN_TREEBANK:-data/tr_boun/train.conllu}"
case "$SIZE" in
  cpu)
    OUT="${OUT:-runs/reproduce_cpu}"
    CORPUS="${CORPUS:-data/en_ewt/pretrain.conllu}"
    POS_DIR="${POS_DIR:-data/en_ewt/pos}"
    NER_DIR="${NER_DIR:-tests/data/ner}"; NER_EXT=txt
    NLI_DIR="${NLI_DIR:-tests/data/nli}"; NLI_EXT=jsonl
    SEEDS="${SEEDS:-1,2}"
    VOCAB="${VOCAB:-500}"
    JOBS="${JOBS:-$(nproc)}"
    run_args=(--jobs "$JOBS" --max-update "${MAX_UPDATE:-800}" --finetune-updates "${FINETUNE_UPDATES:-200}")
    ;;
  paper)
    OUT="${OUT:-runs/reproduce_paper}"
    for var in CORPUS POS_DIR NER_DIR NLI_DIR SLURM_ARGS; do
      if [ -z "${!var:-}" ]; then
        echo "error: SIZE=paper needs $var (see the top of $0)" >&2
        exit 2
      fi
    done
    NER_EXT="${NER_EXT:-txt}"; NLI_EXT="${NLI_EXT:-tsv}"
    SEEDS="${SEEDS:-1,2,3}"
    VOCAB="${VOCAB:-40000}"
    run_args=(--size paper --run "${RUN:-gpu1}" --precision "${PRECISION:-bf16}"
      --update-freq "${UPDATE_FREQ:-8}" --finetune-recipe paper --slurm --slurm-args "$SLURM_ARGS")
    [ -z "${MAX_UPDATE:-}" ] || run_args+=(--max-update "$MAX_UPDATE")
    ;;
  *)
    echo "error: SIZE=$SIZE: expected cpu or paper" >&2
    exit 2
    ;;
esac

bash scripts/setup.sh
PY="$REPO/.venv/bin/python"
start=$SECONDS
pairs=(); pos=(); ner=(); nli=()
for transform in trans trans+inv trans+syn; do
  name="${transform//+/_}"
  syn=()
  [[ "$transform" != *syn* ]] || syn=(--syn-treebank "$SYN_TREEBANK")
  echo "== data: $transform (pair, POS$([[ "$transform" == *syn* ]] || echo ", NER, NLI"))"
  "$PY" -m alignmlm prepare-pair --corpus "$CORPUS" --transform "$transform" "${syn[@]}" \
    --vocab-size "$VOCAB" --workers "$(nproc)" --out "$OUT/data/$name"
  "$PY" -m alignmlm prepare-pos --conllu-dir "$POS_DIR" --transform "$transform" "${syn[@]}" \
    --out "$OUT/pos/$name" --overwrite
  pairs+=(--pair "$OUT/data/$name"); pos+=(--pos "$OUT/pos/$name")
  if [[ "$transform" == *syn* ]]; then  # NER and NLI text have no trees to reorder
    ner+=(--ner -); nli+=(--nli -)
    continue
  fi
  "$PY" -m alignmlm prepare-ner --train "$NER_DIR/train.$NER_EXT" --valid "$NER_DIR/valid.$NER_EXT" \
    --test "$NER_DIR/test.$NER_EXT" --transform "$transform" --out "$OUT/ner/$name" --overwrite
  "$PY" -m alignmlm prepare-nli --train "$NLI_DIR/train.$NLI_EXT" --valid "$NLI_DIR/valid.$NLI_EXT" \
    --test "$NLI_DIR/test.$NLI_EXT" --transform "$transform" --out "$OUT/nli/$name" --overwrite
  ner+=(--ner "$OUT/ner/$name"); nli+=(--nli "$OUT/nli/$name")
done

echo "== $OBJECTIVES x {trans, trans+inv, trans+syn} x seeds $SEEDS ($SIZE size)"
"$PY" -m alignmlm compare "${pairs[@]}" "${pos[@]}" "${ner[@]}" "${nli[@]}" \
  --objectives "$OBJECTIVES" --seeds "$SEEDS" --out "$OUT/compare" "${run_args[@]}"
echo "done in $((SECONDS - start))s: $OUT/compare/results.md, results.csv, alignment_vs_transfer.png"
