#!/usr/bin/env bash
# Download (on a machine with network access) the wheels that benchmarks/gpu_check.sh installs
# offline on a GPU machine that has only CuPy, torch and numpy: pytest (+ pytest-timeout),
# msgpack (disttorch.distributed), mpi4py + the mpich runtime (the nccl backend bootstraps
# through MPI), ml_dtypes (bfloat16), pyzmq (the launcher's control plane).
# They land in benchmarks/wheels/ (git-ignored); carry that folder with the checkout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/wheels"
mkdir -p "$dest"
pip download --no-deps -d "$dest" pytest pytest-timeout pluggy iniconfig packaging mpich==5.0.2
for version in 3.10 3.11 3.12 3.13; do
    pip download --no-deps --only-binary=:all: --python-version "$version" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux1_x86_64 -d "$dest" mpi4py==4.1.2 ml_dtypes==0.6.0 msgpack pyzmq
done
du -sh "$dest"
