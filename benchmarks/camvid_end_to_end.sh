#!/usr/bin/env bash
# The whole AttNAS chain on real CamVid at a CPU-friendly scale, and the
# mv2+ASPP baseline trained with exactly the same retrain budget.
#   bash benchmarks/camvid_end_to_end.sh [CAMVID_ROOT] [WORK_DIR]
# Prints both mIoUs and their ratio; docs/benchmarks.md records a run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(cd "${1:-../shared/data/camvid}" && pwd)"
WORK="${2:-work_dirs/camvid_e2e}"
python tools/demo.py --dataset camvid --data-root "$ROOT" \
    --work-dir "$WORK/attnas" --overwrite
OPTS=()
for k in train_dataloader.dataset val_dataloader.dataset test_dataloader.dataset; do
    OPTS+=("$k.data_root=$ROOT")
done
BASE=configs/demo/mv2-aspp_demo_camvid-360x480.py
python tools/train.py "$BASE" --work-dir "$WORK/mv2_aspp" --cfg-options "${OPTS[@]}"
CKPT=$(ls -t "$WORK"/mv2_aspp/epoch_*.pth | head -n 1)
python tools/test.py "$BASE" "$CKPT" --work-dir "$WORK/mv2_aspp_test" \
    --cfg-options "${OPTS[@]}"
python - "$WORK" <<'PY'
import glob, json, os, sys
work = sys.argv[1]
def miou(d):
    path = max(glob.glob(os.path.join(d, '*', '*.json')), key=os.path.getmtime)
    return json.load(open(path))['mIoU']
a, b = miou(os.path.join(work, 'attnas', 'test')), miou(os.path.join(work, 'mv2_aspp_test'))
print(open(os.path.join(work, 'attnas', 'report.txt')).read())
print(f'CamVid val mIoU: derived AttNAS {a:.2f}, mv2+ASPP {b:.2f}, ratio {a / b:.3f}')
PY
