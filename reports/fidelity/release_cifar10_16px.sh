#!/usr/bin/env bash
# Release the CIFAR-10 (16x16) table once its run is complete, then write its fidelity report.
#
#   bash reports/fidelity/release_cifar10_16px.sh ../shared/reference     # from the repository root
#
# 1. builds benchmarks_data/cifar10-16px from benchmarks_data/runs/cifar10-16px (refused, with the
#    number of missing results, while the run is incomplete; nothing is written then); run again, it
#    rebuilds the table with the same content hash;
# 2. builds the NB201 reference tables from REF_DIR into local_tables/ (git-ignored, never shipped);
# 3. writes reports/fidelity/cifar10-16px/ (Spearman and Kendall tau of final valid and test
#    accuracy against NB201's 200-epoch test accuracy, all cells and top 10%, NB201's own 12-epoch
#    table beside it, seed agreement, scatter plot, best cell and its NB201 rank);
# 4. prints `nasbench info cifar10-16px`.
# Then commit benchmarks_data/cifar10-16px and reports/fidelity/cifar10-16px.
set -euo pipefail
ref=${1:?usage: release_cifar10_16px.sh REF_DIR (the NB201 reference CSVs, e.g. ../shared/reference)}
nasbench table build benchmarks_data/runs/cifar10-16px --out benchmarks_data/cifar10-16px --name cifar10-16px --overwrite \
    --description "All 15,625 NAS-Bench-201 cells on CIFAR-10 at 16x16 (JPEG-derived, 2x2 box-downsampled): \
one representative per isomorphism class (6,466) trained for real with the batched engine, 2 seeds, members \
filled from their representative; protocol C=8, N=1, 4 epochs on a 10,000-image stratified subset of the \
25,000 training images of NB201's cifar10-valid layout, valid on 10,000 of the other 25,000 training images, \
test on the 10,000 test images, batch 256, no augmentation; chosen by reports/protocol_pilot/cifar10-16px.md; \
trained on CPUs over many resumed sessions on more than one CPU model (hardware.machines lists each with its \
share of the work): a cell's numbers depend on the machine at float-rounding level, which training \
amplifies within seed-to-seed noise, so retraining a cell elsewhere reproduces it only to that level"
[ -d local_tables/nb201-cifar10-hp200 ] && [ -d local_tables/nb201-cifar10-hp12 ] ||
    nasbench reference build --ref-dir "$ref" --out local_tables
nasbench fidelity --table cifar10-16px --reference local_tables/nb201-cifar10-hp200 \
    --baseline local_tables/nb201-cifar10-hp12 --out reports/fidelity/cifar10-16px
nasbench info cifar10-16px
