#!/usr/bin/env bash
# GPU work for the CIFAR-10 (16x16) table, in one call of the lent GPU machine (the `device` tool's
# `run`), from the repository root there, resuming whatever earlier sessions (CPU or GPU) left:
#
#   here, once:  mkdir -p data_local && nasbench data pack --protocol benchmarks_data/runs/cifar10-16px/run.json \
#                    --data-dir ../shared/datasets --out data_local
#                (the 21 MiB row pack of the 30,000 images the table's protocol reads: the full 43 MiB file
#                beside the 33 MiB repository would exceed the 64 MiB that a device call carries; it loads
#                as the same dataset, sha256 included). Pilot mode also needs, in data_local/reference/,
#                ../shared/reference/nb201_{nats_test_acc_200ep,hp12_mean_acc}.csv, and a pack for its
#                protocols (--dataset cifar10-16px --valid-subset 10000: 45,000 images, about 32 MiB), which
#                does not fit beside the repository: pilot mode needs a smaller repository first.
#   before a table call: stop a CPU run of the same folder (kill PID: it keeps what it finished) and
#                commit its shards, or both machines train the same units; then
#                `python reports/protocol_pilot/gpu_preflight.py` checks that, the pack and the size the
#                call carries, at no device time, and prints the call.
#   device:      run(command="bash reports/protocol_pilot/gpu_session.sh pilot 540", carry=["data_local"])
#            or  run(command="bash reports/protocol_pilot/gpu_session.sh table 420", carry=["data_local"], timeout_s=600)
#   back here:   tar xzf <files_at>/results.tgz   (from the repository root), then
#                pilot: python reports/protocol_pilot/pilot.py --dataset cifar10-16px --data-dir ../shared/datasets \
#                           --reference ../shared/reference --partial      # measure
#                table: nasbench pre-evaluate ... (the command in benchmarks_data/runs/cifar10-16px/COMMAND) resumes
#                and commit the new shard and session files.
#
# data_local/ is git-ignored: the dataset and the NB201 reference never enter the repository.
# Modes: "pilot" trains the pilot's GPU candidates (default: pilot.py's NB201-scale ones, cheapest
# first), after the engine's GPU speed figures ($OUT/speed.txt, at most 3 minutes; SPEED=0 skips);
# "table" continues the full-table run benchmarks_data/runs/cifar10-16px with WORKERS (default 4)
# processes sharing the GPU, each unit's 32 cells in one batch,
# then, if LATENCY_S / SPEED_S (seconds, default 0) are set, measures GPU latency of the digits
# table's classes into benchmarks_data/latency/digits-cuda (resumable; rename it to digits-cuda-<hash>
# from its latency.json) and the engine's GPU speed figures ($OUT/speed.txt), e.g.
#   run(command="LATENCY_S=60 SPEED_S=60 bash reports/protocol_pilot/gpu_session.sh table 360", carry=["data_local"], timeout_s=600)
# "speed" (the table run is complete since 2026-11; what issue 3 still needs) measures only the engine's
# GPU speed figures within the seconds given, then LATENCY_S seconds of GPU latency; it needs only a small
# pack, which keeps the call under 64 MiB beside the 46 MiB repository:
#   here:   nasbench data pack --dataset cifar10-16px --train-subset 2560 --valid-subset 2560 \
#               --data-dir ../shared/datasets --out data_local --overwrite          (10.8 MiB)
#           python reports/protocol_pilot/gpu_preflight.py --mode speed
#   device: run(command="LATENCY_S=180 bash reports/protocol_pilot/gpu_session.sh speed 240", carry=["data_local"], timeout_s=480)
#           (about 7 minutes of the call, 8-10 of device time with the machine's start: a rerun fits if it fails early)
# Arguments: mode, seconds to train (default 480), and for "pilot" the candidate names.
# Results in $OUT: results.tgz (run.json, shards, sessions of the run folders; no SQLite store: resume
# rebuilds it from the shards), log.txt, device.txt, and speed.txt / latency_log.txt where those ran
# (at most 5 files, well within the 8 a call brings back).
set -u
mode=${1:?mode: pilot, table or speed}
limit=${2:-480}
out=${OUT:?OUT must name the folder that comes back}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}  # the device's python3 is the one with torch (a plain "python" need not exist there)
export PYTHONPATH=.
{ nvidia-smi; command -v "$py"; "$py" -c "import numpy, pandas, torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda,
'cuDNN', torch.backends.cudnn.version(), torch.cuda.get_device_name(), '| numpy', numpy.__version__, 'pandas', pandas.__version__)"
} > "$out/device.txt" 2>&1
folders=()
speed_figures() {  # the engine's GPU speed figures, within $1 seconds (each row printed as it is timed)
    # the table's batch size (256, as the CPU CIFAR-16px figures), 16 and the GPU default of 64 cells per batch
    timeout "$1" "$py" -u benchmarks/pre_evaluate_speed.py --device "$device" --dataset cifar10-16px \
        --data-dir data_local --batch-size 256 --train-subset 2560 --valid-subset 2560 --epochs 1 \
        --archs 64 --first 3500 --batch-cells 16,64 --workers 4 --repeats 2 > "$out/speed.txt" 2>&1
}
gpu_latency() {  # GPU latency of the digits table's classes within $1 seconds (resumable)
    lat=benchmarks_data/latency/digits-$device
    timeout "$1" "$py" -m nasbench_suite.cli latency measure --table digits --device "$device" \
        --batch 1,256 --out "$lat" > "$out/latency_log.txt" 2>&1
    echo "exit $? (124: stopped at the time limit; run again to resume)" >> "$out/latency_log.txt"
    [ -d "$lat" ] && folders+=("$lat")
}
case "$mode" in
pilot)
    names=${3:-C16-N1-e12-25k-b256-noaug,C16-N2-e12-25k-b256,C16-N5-e12-25k-b256}
    if [ "${SPEED:-1}" = 1 ]; then  # the engine's GPU figures (issue: pre-evaluation speed)
        speed_figures 180
    fi
    timeout "$limit" "$py" reports/protocol_pilot/pilot.py --dataset cifar10-16px --data-dir data_local \
        --reference data_local/reference --device "$device" --workers 1 --only "$names" > "$out/log.txt" 2>&1
    echo "exit $? (124: stopped at the time limit; run again to resume)" >> "$out/log.txt"
    for n in ${names//,/ }; do
        [ -d "reports/protocol_pilot/runs/cifar10-16px/$n" ] && folders+=("reports/protocol_pilot/runs/cifar10-16px/$n")
    done
    ;;
table)
    run=benchmarks_data/runs/cifar10-16px
    # the run's own arguments (COMMAND), on this device, 64 cells per batch; no install needed there
    cmd=$(cat "$run/COMMAND")
    # ends between units at the limit (--time-limit); timeout is only the safety net
    timeout $((limit + 120)) bash -c "${cmd/#nasbench /$py -m nasbench_suite.cli } --data-dir data_local --device $device --workers ${WORKERS:-4} --batch-cells 64 --time-limit $limit" \
        > "$out/log.txt" 2>&1
    echo "exit $? (124: stopped by the safety timeout; run again to resume)" >> "$out/log.txt"
    folders+=("$run")
    if [ "${LATENCY_S:-0}" -gt 0 ]; then  # then GPU latency of the digits table's classes (resumable)
        gpu_latency "$LATENCY_S"
    fi
    if [ "${SPEED_S:-0}" -gt 0 ]; then  # then the engine's GPU speed figures
        speed_figures "$SPEED_S"
    fi
    ;;
speed)  # the engine's GPU speed figures within $limit seconds, then LATENCY_S seconds of GPU latency
    speed_figures "$limit"
    echo "speed figures: exit $? (124: stopped at the time limit)" > "$out/log.txt"
    if [ "${LATENCY_S:-0}" -gt 0 ]; then
        gpu_latency "$LATENCY_S"
    fi
    ;;
*) echo "unknown mode $mode: pilot, table or speed" >&2; exit 2 ;;
esac
[ ${#folders[@]} -gt 0 ] && tar czf "$out/results.tgz" --exclude='*.sqlite*' --exclude=.lock "${folders[@]}"
tail -5 "$out/log.txt"
