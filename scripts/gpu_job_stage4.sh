#!/bin/bash
# The GPU job that trained the shipped STS cross-encoder's stage 4 and both shipped rerankers on top
# of it (fifth session, one H100, 351 s). Same preparation and return path as scripts/gpu_job.sh:
#   here:  python -m ragcompare.train.gpu make, sts-prepare and reranker --dump-data (see scripts/gpu_job.sh)
#   there: B=200 BR=50 bash scripts/gpu_job_stage4.sh
#          phase 1: three STS runs with all encoder layers trained (best by STS-B dev is kept) and a
#          512-token cisi-held-out reranker experiment; phase 2: both rerankers on the best STS run
#   here:  python -m ragcompare.train import-trained ... --init data/models/ragcompare-stsb-minilm-l6 (STS)
#          or --init /tmp/ragcompare-train/<sts run>/full (rerankers), then ship
set -u
export PYTHONUNBUFFERED=1
DEV=${DEV:-cuda}; B=${B:-200}; BR=${BR:-50}; OUT=${OUT:-/tmp/out}; PY=${PY:-python3}
mkdir -p $OUT/logs
T0=$(date +%s)
if [ -d .whl ]; then $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site; fi
nvidia-smi -L 2>/dev/null
export RAGCOMPARE_DATA_DIR=$PWD/.gpu/datasets RAGCOMPARE_CACHE_DIR=/tmp/rc-cache
$PY -m ragcompare.train.gpu build data/models/ragcompare-stsb-minilm-l6 || exit 4
S=data/models/ragcompare-stsb-minilm-l6
T="$PY -m ragcompare.train --device $DEV --work-dir /tmp/w"
STS="sts --init $S --teacher $S --frozen-layers 0 --prepared .gpu/sts_prep.json.xz --silver 45000 --batch-size 32 --budget-s $B --eval-steps 1000"
$T --seed 13 $STS --name sts-e --epochs 6 --lr-body 3e-5 --lr-head 3e-4 > $OUT/logs/sts-e.log 2>&1 &
$T --seed 13 $STS --name sts-f --epochs 6 --lr-body 5e-5 --lr-head 5e-4 > $OUT/logs/sts-f.log 2>&1 &
$T --seed 14 $STS --name sts-g --epochs 6 --lr-body 3e-5 --lr-head 3e-4 --teacher-weight 0.6 > $OUT/logs/sts-g.log 2>&1 &
RR="reranker --from-data .gpu/rr_cran.json.xz --no-held-out --train-on cranfield --eval-on cisi --epochs 2 --batch-size 32 --lr-body 5e-5 --lr-head 5e-4 --eval-steps 200"
$T --seed 12 $RR --name rr-cran-512 --init $S --frozen-layers 3 --max-length 512 --eval-max-length 512 --budget-s $B > $OUT/logs/rr-cran-512.log 2>&1 &
wait
echo "phase 1 done at $(( $(date +%s) - T0 )) s"
for r in /tmp/w/*/results.json; do n=$(basename $(dirname $r)); cp $r $OUT/logs/$n.results.json; done
BEST=$($PY - <<'PY'
import json,glob,sys
rs=[json.load(open(f)) for f in glob.glob('/tmp/w/sts-*/results.json')]
for r in rs: print(r['name'], r['evaluation']['stsb-dev'], r['evaluation']['stsb-test'], r['training']['steps'], file=sys.stderr)
print(max(rs,key=lambda r:r['evaluation']['stsb-dev']['cross_encoder_spearman'])['name'] if rs else '')
PY
)
echo "best STS by stsb-dev: $BEST" | tee $OUT/logs/best.txt
$PY -m ragcompare.train.gpu extract --full /tmp/w/rr-cran-512/full --init $S --out $OUT/rr-cran-512.safetensors
if [ -n "$BEST" ]; then
  $PY -m ragcompare.train.gpu extract --full /tmp/w/$BEST/full --init $S --out $OUT/$BEST.safetensors
  D=/tmp/w/$BEST/full
  $T --seed 12 $RR --name rr-cran-n --init $D --frozen-layers 3 --max-length 256 --budget-s $BR > $OUT/logs/rr-cran-n.log 2>&1 &
  $T --seed 12 reranker --from-data .gpu/rr_cisi.json.xz --no-held-out --train-on cisi --eval-on cranfield --epochs 2 --batch-size 32 --lr-body 5e-5 --lr-head 5e-4 --eval-steps 200 --name rr-cisi-n --init $D --frozen-layers 3 --max-length 256 --budget-s $BR > $OUT/logs/rr-cisi-n.log 2>&1 &
  wait
  for n in rr-cran-n rr-cisi-n; do cp /tmp/w/$n/results.json $OUT/logs/$n.results.json; $PY -m ragcompare.train.gpu extract --full /tmp/w/$n/full --init $D --out $OUT/$n.safetensors; done
fi
echo "all done at $(( $(date +%s) - T0 )) s"
tar czf $OUT/logs.tgz -C $OUT logs && rm -rf $OUT/logs
ls -la $OUT
