"""How many CuPy calls and fused-kernel launches one training step of the GPU workloads makes,
counted on the CPU (the simulated device with the fused paths on).

    python benchmarks/launch_census.py [workload ...]   (mlp, cnn, transformer, transformer-amp)

The GPU steps of ``gpu_check.py`` are bound by host time per call (their enqueue time equals
their synchronised time), so these counts are the CPU-side proxy for a change's effect on the
GPU: a fusion that removes calls should lower them. Array calls include metadata-only ones
(reshape, transpose, basic slicing), which cost CuPy host time but launch nothing.
"""
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpu_check  # noqa: E402


def census(kind):
    import disttorch
    from disttorch.cuda import _sim_kernels, _simulated
    amp = kind.endswith("-amp")
    with _simulated.simulate(fused_kernels=True):
        step = gpu_check.make_step(disttorch, kind[:-4] if amp else kind, amp)
        step()
        step()
        _sim_kernels.launches.clear()
        with _simulated.count_calls() as calls:
            step()
        return calls, dict(_sim_kernels.launches)


def main():
    kinds = sys.argv[1:] or ["mlp", "cnn", "transformer", "transformer-amp"]
    for kind in kinds:
        calls, launches = census(kind)
        print(f"{kind:16s} {sum(calls.values()):5d} array calls, {sum(launches.values()):3d} fused "
              f"kernel launches per step")
        print("    top calls: " + ", ".join(f"{n} {c}" for n, c in calls.most_common(12)))
        print("    kernels:   " + ", ".join(f"{n} {c}" for n, c in sorted(launches.items())))


if __name__ == "__main__":
    main()
