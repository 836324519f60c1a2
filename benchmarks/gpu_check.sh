#!/usr/bin/env bash
# The GPU verification of disttorch's CUDA engine, unattended, offline, under 8 minutes on an H100.
#
#   benchmarks/gpu_check.sh OUT_DIR
#
# GPU_CHECK_BUDGET (seconds, default 470) bounds the whole run; the tests get what the benchmarks
# leave. GPU_CHECK_WORKERS (default 8) pytest-xdist workers run the tests when xdist is there:
# on a fresh machine most of the tests' time is NVRTC compiling kernels, which is CPU-bound.
#
# 1. fails fast (exit 2) when there is no usable GPU;
# 2. installs what the GPU machine lacks (pytest, msgpack, mpi4py + mpich, ml_dtypes, pyzmq) from
#    benchmarks/wheels/ only (see fetch_gpu_wheels.sh), into a venv that sees the system's
#    CuPy, torch and numpy; without the wheels the cases that need them skip;
# 3. runs the GPU benchmarks (benchmarks/gpu_check.py): MLP, CNN, transformer (fp32 and fp16
#    autocast) against torch eager CUDA, and NCCL all-reduce with one rank; then a profile of
#    the steps (benchmarks/gpu_profile.py, OUT_DIR/gpu_profile.log);
# 4. runs the mixed-precision example and the digits trainer under the launcher (NCCL, one
#    worker) on the GPU;
# 5. runs the CUDA tests on the real device (tests/cuda and the other modules with real-GPU
#    cases, the cuda-sim cases left out) in the time that is left.
# Everything is written to OUT_DIR/gpu_check.log (JUnit XML of the tests and the profile beside it).
set -uo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 64
fi
out="$(mkdir -p "$1" && cd "$1" && pwd)"
repo="$(cd "$(dirname "$0")/.." && pwd)"
log="$out/gpu_check.log"
exec > >(tee "$log") 2>&1
cd "$repo"
started=$(date +%s)
python="${PYTHON:-python3}"
# the git HEAD of a copied checkout can be stale: a digest of the sources names the code run
digest=$(find disttorch benchmarks tests -name '*.py' | LC_ALL=C sort | xargs cat | sha1sum | cut -c1-12)
echo "gpu_check: $(date -u +%FT%TZ) repo $(git rev-parse --short HEAD 2>/dev/null || echo '?') sources $digest python $($python -V 2>&1)"

if ! $python - <<'PY'
import sys
try:
    import cupy
    count = cupy.cuda.runtime.getDeviceCount()
except Exception as exc:  # no CuPy, no driver, no device
    print(f"gpu_check: FAIL: no usable GPU ({type(exc).__name__}: {exc})")
    sys.exit(1)
if count < 1:
    print("gpu_check: FAIL: no usable GPU (CUDA reports 0 devices)")
    sys.exit(1)
props = cupy.cuda.runtime.getDeviceProperties(0)
print(f"gpu_check: {count} GPU(s), device 0: {props['name'].decode()}, CuPy {cupy.__version__}")
PY
then
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

# Offline installs of what is missing, into a venv layered over the system packages.
wheels="$repo/benchmarks/wheels"
missing=$($python - <<'PY'
import importlib
missing = []
for name, module in (("pytest", "pytest"), ("msgpack", "msgpack"), ("mpi4py", "mpi4py.MPI"),
                     ("ml_dtypes", "ml_dtypes"), ("pyzmq", "zmq")):
    try:    # mpi4py.MPI, not just the package: an mpi4py without an MPI library is no use
        loaded = importlib.import_module(module)
        # and on MPICH: the launcher drives hydra, whose ranks another MPI's mpi4py cannot join
        if name == "mpi4py" and not loaded.Get_library_version().startswith("MPICH"):
            raise ImportError("mpi4py is not built on MPICH")
    except Exception:
        missing.append(name)
print(" ".join(missing))
PY
)
# the venv lives outside OUT_DIR: what is left there is copied back, and a venv is thousands of
# files
venv="${TMPDIR:-/tmp}/disttorch-gpu-check-venv.$$"
if [ -n "$missing" ]; then
    echo "gpu_check: missing [$missing ], installing from benchmarks/wheels into $venv"
    if [ -d "$wheels" ] && $python -m venv --system-site-packages "$venv"; then
        # a venv made from inside another venv would not see that one's packages: link them
        $python -c "import site; print('\n'.join(site.getsitepackages()))" > \
            "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/_gpu_check_base.pth"
        packages=""
        for m in $missing; do
            case $m in
                pytest) packages="$packages pytest pytest-timeout pluggy iniconfig packaging" ;;
                mpi4py) packages="$packages mpi4py mpich" ;;
                *) packages="$packages $m" ;;
            esac
        done
        "$venv/bin/python" -m pip install --quiet --no-index --no-deps --find-links "$wheels" \
            $packages || echo "gpu_check: WARNING: offline install of [$packages ] failed"
        python="$venv/bin/python"
        export PATH="$venv/bin:$PATH"
        trap 'rm -rf "$venv"' EXIT
    else
        echo "gpu_check: WARNING: missing [$missing ] and no benchmarks/wheels (or no venv module);"
        echo "           cases that need them are skipped or fail with the reason"
    fi
fi
# CuPy finds NCCL in the nvidia-nccl wheel that torch brings along, if it is not on the path.
nccl_dir=$($python - <<'PY' 2>/dev/null
import glob, os, site
for base in site.getsitepackages():
    for lib in glob.glob(os.path.join(base, "nvidia", "nccl*", "lib")):
        print(lib)
        raise SystemExit
PY
)
[ -n "$nccl_dir" ] && export LD_LIBRARY_PATH="$nccl_dir:${LD_LIBRARY_PATH:-}"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=4
budget_all=${GPU_CHECK_BUDGET:-470}
$python - <<'PY'
import numpy, cupy, disttorch
from disttorch.distributed.backend_nccl import nccl_unavailable_reason
print(f"gpu_check: numpy {numpy.__version__}, CuPy {cupy.__version__} (CUDA runtime "
      f"{cupy.cuda.runtime.runtimeGetVersion()}), disttorch cuda available "
      f"{disttorch.cuda.is_available()}, nccl: {nccl_unavailable_reason() or 'available'}")
try:
    import torch
    print(f"gpu_check: torch {torch.__version__}, cuda {torch.cuda.is_available()}")
except Exception as exc:
    print(f"gpu_check: torch unusable: {exc}")
PY

# The benchmarks first: their figures matter most and they fill CuPy's kernel cache for the tests.
echo
echo "=== GPU benchmarks (disttorch vs torch eager CUDA) ==="
bench_budget=$(( budget_all * 2 / 5 ))
timeout -s INT -k 10 $(( bench_budget + 30 )) $python benchmarks/gpu_check.py --budget "$bench_budget"
bench_rc=$?

# Where the steps spend their time (host enqueue vs synchronised, cProfile): a diagnosis for the
# next change, in its own file; its summary lines come here.
echo
echo "=== GPU step profile (benchmarks/gpu_profile.py -> gpu_profile.log) ==="
timeout -s INT -k 10 90 $python benchmarks/gpu_profile.py transformer cnn transformer-amp \
    > "$out/gpu_profile.log" 2>&1
grep -E "^(op |== )" "$out/gpu_profile.log"

# End to end on the device: the mixed-precision example (float16 autocast + GradScaler) and the
# launcher running the digits trainer over NCCL, one worker on the one GPU.
echo
echo "=== examples on the device ==="
e2e_dir=$(mktemp -d "${TMPDIR:-/tmp}/disttorch-gpu-e2e.XXXXXX")
timeout -s INT -k 10 90 $python examples/mixed_precision.py --epochs 2 2>&1 | tail -n 4
e2e_rc=${PIPESTATUS[0]}
timeout -s INT -k 10 120 $python -m launcher --nproc-per-node 1 examples/train_digits.py \
    --device cuda --epochs 3 --run-dir "$e2e_dir/digits" 2>&1 | tail -n 5
launch_rc=${PIPESTATUS[0]}
[ "$e2e_rc" -eq 0 ] && e2e_rc=$launch_rc
rm -rf "$e2e_dir"
echo "gpu_check: examples rc=$e2e_rc"

# The tests get what is left of the 8 minutes (SIGINT: pytest still prints its summary).
budget=$(( budget_all - ($(date +%s) - started) ))
parallel=""
if $python -c "import xdist" 2>/dev/null; then
    parallel="-n ${GPU_CHECK_WORKERS:-8}"
fi
echo
echo "=== CUDA tests (real device), ${budget} s budget ${parallel:+(xdist $parallel)} ==="
if ! $python -c "import pytest" 2>/dev/null; then
    echo "gpu_check: FAIL: pytest is not installed and benchmarks/wheels has no pytest wheel"
    tests_rc=3
elif [ "$budget" -lt 30 ]; then
    echo "gpu_check: FAIL: no time left for the tests"
    tests_rc=4
else
    timeout -s INT -k 10 "$budget" $python -m pytest tests/cuda tests/vision/test_cuda.py tests/ops/test_special_value_grads.py \
        tests/nn/test_conv.py -k "not cuda-sim" -rfEs --tb=short --timeout 120 $parallel ${parallel:+-v} \
        --durations=15 -p no:cacheprovider --junitxml="$out/gpu_tests.xml"
    tests_rc=$?
fi

echo
echo "gpu_check: tests rc=$tests_rc, benchmarks rc=$bench_rc, examples rc=$e2e_rc, $(( $(date +%s) - started )) s in all"
echo "gpu_check: log at $log"
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ] && [ "$e2e_rc" -eq 0 ]
