#!/usr/bin/env bash
# The CIFAR-10 pilot's GPU candidates, in one call of the lent GPU machine (the `device` tool's `run`),
# from the repository root there, resuming whatever an earlier GPU session left:
#
#   here, once:  mkdir -p data_local/reference && cp ../shared/datasets/cifar10_16px.npz data_local/ &&
#                cp ../shared/reference/nb201_{nats_test_acc_200ep,hp12_mean_acc}.csv data_local/reference/
#   device:      run(command="bash reports/protocol_pilot/gpu_session.sh 540", carry=["data_local"])
#   back here:   tar xzf <files_at>/pilot-runs.tgz -C reports/protocol_pilot && \
#                python reports/protocol_pilot/pilot.py --dataset cifar10-16px --data-dir ../shared/datasets \
#                    --reference ../shared/reference --partial      # measure; then commit the shards
#
# data_local/ is git-ignored: the dataset and the NB201 reference never enter the repository.
# Arguments: seconds to train (default 480), candidate names (default: the GPU candidates of pilot.py,
# cheapest first). Results: $OUT/pilot-runs.tgz (run.json, shards, sessions of each candidate; no
# SQLite store, resume rebuilds it from the shards), $OUT/pilot.log, $OUT/device.txt, and first (unless
# SPEED=0) $OUT/speed.txt from benchmarks/pre_evaluate_speed.py on the GPU.
set -u
limit=${1:-480}
names=${2:-C16-N1-e12-25k-b256-noaug,C16-N2-e12-25k-b256,C16-N5-e12-25k-b256}
out=${OUT:?OUT must name the folder that comes back}
export PYTHONPATH=.
{ nvidia-smi; python -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } > "$out/device.txt" 2>&1
if [ "${SPEED:-1}" = 1 ]; then  # the engine's GPU figures (issue: pre-evaluation speed), at most 3 minutes
    timeout 180 python benchmarks/pre_evaluate_speed.py --device "${DEVICE:-cuda}" --dataset cifar10-16px \
        --data-dir data_local --train-subset 2560 --epochs 1 --archs 32 --batch-cells 32 > "$out/speed.txt" 2>&1
fi
timeout "$limit" python reports/protocol_pilot/pilot.py --dataset cifar10-16px --data-dir data_local \
    --reference data_local/reference --device "${DEVICE:-cuda}" --workers 1 --only "$names" > "$out/pilot.log" 2>&1
echo "pilot exit $? (124: stopped at the time limit; run again to resume)" >> "$out/pilot.log"
folders=()
for n in ${names//,/ }; do
    [ -d "reports/protocol_pilot/runs/cifar10-16px/$n" ] && folders+=("runs/cifar10-16px/$n")
done
[ ${#folders[@]} -gt 0 ] && tar czf "$out/pilot-runs.tgz" --exclude='*.sqlite*' -C reports/protocol_pilot "${folders[@]}"
tail -5 "$out/pilot.log"
