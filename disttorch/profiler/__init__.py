"""``disttorch.profiler``: time spent per op type, forward and backward, as a table.

The subset of ``torch.profiler`` a training loop needs::

    from disttorch.profiler import profile, record_function, schedule

    with profile(schedule=schedule(wait=1, warmup=1, active=3)) as prof:
        for step, (x, y) in enumerate(loader):
            with record_function("train_step"):
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            prof.step()
            if step == 5:
                break
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

Every op runs through its autograd ``Node`` (forward) and the engine calls the node's
``backward``; while a ``profile`` is active both are timed, and each time is charged to the
op's name and pass (``forward``/``backward``). Times are *self* times (nested ranges such as
a custom ``Function`` calling built-in ops, or :func:`record_function` blocks, do not count
their children twice) and *total* times (children included).
"""
from ._profile import (EventList, FunctionEventAvg, ProfilerAction, ProfilerActivity, profile,
                       record_function, schedule)

__all__ = ["profile", "record_function", "schedule", "ProfilerAction", "ProfilerActivity",
           "EventList", "FunctionEventAvg"]
