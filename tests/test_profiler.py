"""disttorch.profiler: per-op rows for forward and backward, schedules, ranges, restore."""
import pytest

import disttorch
from disttorch import nn
from disttorch.autograd.function import Function, Node
from disttorch.profiler import ProfilerAction, profile, record_function, schedule


def _step(model, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


def test_rows_for_forward_and_backward_of_each_op():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = disttorch.randn(4, 8), disttorch.tensor([0, 1, 2, 0])
    with profile() as prof:
        with record_function("step"):
            _step(model, x, y)
    rows = {(e.key, e.kind): e for e in prof.key_averages()}
    kinds = {kind for _, kind in rows}
    assert {"forward", "backward", "range"} <= kinds
    step = rows[("step", "range")]
    assert step.count == 1
    ops_self = sum(e.self_cpu_time_total for e in prof.key_averages() if e.kind != "range")
    assert ops_self <= step.cpu_time_total
    backward_rows = [e for e in prof.key_averages() if e.kind == "backward"]
    assert backward_rows and all(e.key.endswith("Backward0") for e in backward_rows)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    assert "Self CPU %" in table and "# Calls" in table
    assert len(table.splitlines()) == 5 + 5


def test_hooks_removed_after_the_context():
    apply, fapply = Node.__dict__["apply"], Function.__dict__["apply"]
    with profile():
        _step(nn.Linear(3, 2), disttorch.randn(2, 3), disttorch.tensor([0, 1]))
    assert Node.__dict__["apply"] is apply and Function.__dict__["apply"] is fapply
    assert not any(getattr(cls.__dict__.get("backward"), "_profiled", None)
                   for cls in _all_subclasses(Node))


def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out += [sub] + _all_subclasses(sub)
    return out


def test_custom_function_rows():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    x = disttorch.randn(5, requires_grad=True)
    with profile() as prof:
        Square.apply(x).sum().backward()
    keys = {(e.key, e.kind) for e in prof.key_averages()}
    assert ("Square", "forward") in keys and ("SquareBackward", "backward") in keys


def test_schedule_records_only_active_steps():
    fn = schedule(wait=1, warmup=1, active=2, repeat=1)
    assert [fn(i) for i in range(5)] == [ProfilerAction.NONE, ProfilerAction.WARMUP,
                                         ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE,
                                         ProfilerAction.NONE]
    ready = []
    x = disttorch.randn(3, requires_grad=True)
    with profile(schedule=fn, on_trace_ready=ready.append) as prof:
        for _ in range(5):
            (x * 2).sum().backward()
            prof.step()
    assert ready == [prof]
    mul = {(e.key, e.kind): e.count for e in prof.key_averages()}
    assert mul[("Mul", "forward")] == 2


def test_errors():
    with pytest.raises(ValueError, match="active"):
        schedule(wait=0, warmup=0, active=0)
    with profile():
        with pytest.raises(RuntimeError, match="already active"):
            profile().start()
    with pytest.raises(ValueError, match="sort_by"):
        profile().key_averages().table(sort_by="memory")
