#!/bin/bash
# The GPU job that trained the shipped STS cross-encoder's stage 3 (and two reranker retrains), run
# on the device machine from the repo root with .gpu/ and .whl/ carried along:
#   here:  python -m ragcompare.train.gpu make
#          python -m ragcompare.train --threads 2 --seed 13 sts-prepare --silver 60000 --neighbours 3 \
#              --random-partners 2 --out .gpu/sts_prep.json.xz
#          python -m ragcompare.train --threads 2 --seed 12 reranker --name rr-cran-gpu --train-on cranfield \
#              --eval-on cisi --max-positives 16 --negatives 16 --depth 50 --adapt-pseudo-queries 1400 \
#              --adapt-k 12 --dump-data .gpu/rr_cran.json.xz      (and the same with cisi / cranfield)
#   there: B=180 RR=0 bash scripts/gpu_job.sh   (B: wall-time budget per run, s; RR=0: no rerankers)
#   here:  python -m ragcompare.train import-trained --trained <run>.safetensors --results <run>.results.json \
#              --init data/models/ragcompare-stsb-minilm-l6 --work /tmp/ragcompare-train/<run>
# Runs train in parallel on the one GPU; the best STS run by STS-B dev is reported in best.txt.
set -u
export PYTHONUNBUFFERED=1
DEV=${DEV:-cuda}; B=${B:-150}; OUT=${OUT:-/tmp/out}; PY=${PY:-python3}
mkdir -p $OUT/logs
if [ -d .whl ]; then $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site; fi
nvidia-smi -L 2>/dev/null
$PY -c "import torch,transformers,sentence_transformers as st,datasets;print('torch',torch.__version__,'cuda',torch.cuda.is_available(),'tf',transformers.__version__,'st',st.__version__,'ds',datasets.__version__)" || exit 3
export RAGCOMPARE_DATA_DIR=$PWD/.gpu/datasets RAGCOMPARE_CACHE_DIR=/tmp/rc-cache
$PY -m ragcompare.train.gpu build data/models/ragcompare-stsb-minilm-l6 || exit 4
S=data/models/ragcompare-stsb-minilm-l6
T="$PY -m ragcompare.train --device $DEV --work-dir /tmp/w"
$T --seed 13 sts --name sts-gpu-a --init $S --teacher $S --frozen-layers 3 --prepared .gpu/sts_prep.json.xz --silver ${SILVER:-45000} --epochs 2 --batch-size 32 --lr-body 2e-5 --lr-head 1e-4 --budget-s $B --eval-steps 400 > $OUT/logs/sts-gpu-a.log 2>&1 &
$T --seed 13 sts --name sts-gpu-b --init $S --teacher $S --frozen-layers 3 --prepared .gpu/sts_prep.json.xz --silver ${SILVER:-45000} --epochs 4 --batch-size 32 --lr-body 3e-5 --lr-head 3e-4 --budget-s $B --eval-steps 400 > $OUT/logs/sts-gpu-b.log 2>&1 &
[ "${RR:-1}" = 1 ] && $T --seed 12 reranker --name rr-cran-gpu --train-on cranfield --eval-on cisi --from-data .gpu/rr_cran.json.xz --no-held-out --init $S --frozen-layers 3 --max-length 256 --epochs 2 --batch-size 32 --lr-body 5e-5 --lr-head 5e-4 --budget-s $B --eval-steps 200 > $OUT/logs/rr-cran-gpu.log 2>&1 &
[ "${RR:-1}" = 1 ] && $T --seed 12 reranker --name rr-cisi-gpu --train-on cisi --eval-on cranfield --from-data .gpu/rr_cisi.json.xz --no-held-out --init $S --frozen-layers 3 --max-length 256 --epochs 2 --batch-size 32 --lr-body 5e-5 --lr-head 5e-4 --budget-s $B --eval-steps 200 > $OUT/logs/rr-cisi-gpu.log 2>&1 &
$T --seed 13 sts --name sts-gpu-c --init $S --frozen-layers 3 --epochs 4 --batch-size 32 --lr-body 2e-5 --lr-head 1e-4 --budget-s $B --eval-steps 400 --prepared .gpu/sts_prep.json.xz > $OUT/logs/sts-gpu-c.log 2>&1 &
wait
for r in /tmp/w/*/results.json; do n=$(basename $(dirname $r)); cp $r $OUT/logs/$n.results.json; done
BEST=$($PY - <<'PY'
import json,glob
rs=[json.load(open(f)) for f in glob.glob('/tmp/w/sts-gpu-*/results.json')]
for r in rs: print(r['name'], r['evaluation']['stsb-dev'], r['evaluation']['stsb-test'], r['training']['steps'], file=open('/dev/stderr','w'))
print(max(rs,key=lambda r:r['evaluation']['stsb-dev']['cross_encoder_spearman'])['name'] if rs else '')
PY
)
echo "best STS by stsb-dev: $BEST" | tee $OUT/logs/best.txt
for n in sts-gpu-a sts-gpu-b sts-gpu-c rr-cran-gpu rr-cisi-gpu; do [ -d /tmp/w/$n/full ] && $PY -m ragcompare.train.gpu extract --full /tmp/w/$n/full --init $S --out $OUT/$n.safetensors; done
tar czf $OUT/logs.tgz -C $OUT logs && rm -rf $OUT/logs
ls -la $OUT
