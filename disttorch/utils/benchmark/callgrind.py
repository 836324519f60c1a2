"""Instruction counts of a statement under Valgrind's Callgrind (``Timer.collect_callgrind``).

Wall time on a shared machine is noisy; the number of instructions a statement executes is
not. The statement runs in a child interpreter under ``valgrind --tool=callgrind`` with
collection off, and each measured loop is entered through :func:`sys.call_tracing`: Callgrind
toggles collection on entering and leaving CPython's ``_PyEval_CallTracing`` (nothing else
calls it) and dumps the counts after each loop, so that import, setup and warmup stay out of
the counts without a compiled client-request helper.
"""
import collections
import dataclasses
import importlib
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
from typing import NamedTuple

__all__ = ["FunctionCount", "FunctionCounts", "CallgrindStats", "collect", "collect_statements"]

_TOGGLE = "_PyEval_CallTracing"
# nesting levels Callgrind tells apart: deeper activations share the last level's name, and
# a cycle among them could count a cost twice in the inclusive counts
_RECURSION_LEVELS = 200
_WARMUP_RUNS = 100

# dict lookups of interned names: their probe counts depend on the set of keys a dict has
# seen, which changes with unrelated code; PyTorch drops them for the same reason
_NOISY = ("dictobject.c:lookdict_unicode", "dictobject.c:unicodekeys_lookup_unicode",
          "dictobject.c:unicodekeys_lookup_generic")


class FunctionCount(NamedTuple):
    """The instructions ``count`` executed in ``function`` (``file:name [object]``)."""
    count: int
    function: str


class FunctionCounts:
    """Per-function instruction counts of a Callgrind measurement, largest first.

    Indexes like a tuple of :class:`FunctionCount` (a slice is a ``FunctionCounts``); ``+``
    and ``-`` merge or diff two measurements by function name, ``*`` scales; ``transform``
    renames functions (counts of names that map together are added), ``filter`` keeps the
    functions whose name passes, ``denoise`` drops CPython's dict lookups, ``sum`` totals.
    """

    def __init__(self, data, inclusive, truncate_rows=True, _linewidth=None):
        self._data = tuple(data)
        self.inclusive = inclusive
        self.truncate_rows = truncate_rows
        self._linewidth = _linewidth

    @classmethod
    def _from_dict(cls, counts, inclusive):
        rows = (FunctionCount(c, fn) for fn, c in counts.items() if c)
        return cls(sorted(rows, reverse=True), inclusive)

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __getitem__(self, item):
        picked = self._data[item]
        if isinstance(item, slice):
            return FunctionCounts(picked, self.inclusive, truncate_rows=False)
        return picked

    def __eq__(self, other):
        return (isinstance(other, FunctionCounts) and self.inclusive == other.inclusive
                and self._data == other._data)

    __hash__ = None

    def __repr__(self):
        from ... import _formatting
        # PyTorch's column width: a negative count's sign is counted twice
        width = max((len(str(c)) + (c < 0) for c, _ in self._data), default=1)
        room = max((self._linewidth or _formatting._LINEWIDTH) - width - 4, 40)
        lines = []
        for count, fn in self._data:
            if len(fn) > room:
                head = (room - 5) // 2
                fn = fn[:head] + " ... " + fn[len(fn) - (room - 5 - head):]
            lines.append(f"  {count:>{width}}  {fn}")
        if self.truncate_rows and len(lines) > 18:
            lines = lines[:9] + ["...".rjust(width + 2)] + lines[-9:]
        if not self.inclusive:
            lines += ["", f"Total: {self.sum()}"]
        return "\n".join([object.__repr__(self)] + lines)

    def _merge(self, other, sign):
        if not isinstance(other, FunctionCounts):
            return NotImplemented
        if self.inclusive != other.inclusive:
            raise ValueError("Cannot merge inclusive and exclusive counts.")
        counts = collections.defaultdict(int)
        for c, fn in self._data:
            counts[fn] += c
        for c, fn in other._data:
            counts[fn] += sign * c
        return self._from_dict(counts, self.inclusive)

    def __add__(self, other):
        return self._merge(other, 1)

    def __sub__(self, other):
        return self._merge(other, -1)

    def __mul__(self, factor):
        return self._from_dict({fn: int(c * factor) for c, fn in self._data}, self.inclusive)

    def transform(self, map_fn):
        """Rename every function by ``map_fn(name)``; counts of equal new names are added."""
        counts = collections.defaultdict(int)
        for c, fn in self._data:
            counts[map_fn(fn)] += c
        return self._from_dict(counts, self.inclusive)

    def filter(self, filter_fn):
        """The functions whose name passes ``filter_fn``."""
        return FunctionCounts((row for row in self._data if filter_fn(row.function)),
                              self.inclusive)

    def sum(self):
        """The total instruction count."""
        return sum(c for c, _ in self._data)

    def denoise(self):
        """Without CPython's dict lookups of interned strings: their counts vary with what
        else a process has put into its dicts, not with the statement."""
        return self.filter(lambda fn: not any(noisy in fn for noisy in _NOISY))


@dataclasses.dataclass(repr=False, eq=False, frozen=True)
class CallgrindStats:
    """The result of :meth:`Timer.collect_callgrind`.

    ``stats(inclusive=...)`` gives the statement's :class:`FunctionCounts`; ``counts()`` the
    total instructions of ``number_per_run`` runs; the baseline is the same loop around
    ``pass`` (the cost of the loop and the measurement itself). ``delta`` diffs two results
    and ``as_standardized`` strips build paths so that results of different builds diff.
    """
    task_spec: object
    number_per_run: int
    built_with_debug_symbols: bool
    baseline_inclusive_stats: FunctionCounts
    baseline_exclusive_stats: FunctionCounts
    stmt_inclusive_stats: FunctionCounts
    stmt_exclusive_stats: FunctionCounts
    stmt_callgrind_out: object

    def __repr__(self):
        base = self.baseline_exclusive_stats
        threads = self.task_spec.num_threads
        text = "\n".join([
            object.__repr__(self),
            self.task_spec.summarize(),
            f"  {'':>25}All{'':>10}Noisy symbols removed",
            f"    Instructions: {self.counts(denoise=False):>12}{'':>15}"
            f"{self.counts(denoise=True):>12}",
            f"    Baseline:     {base.sum():>12}{'':>15}{base.denoise().sum():>12}",
            f"{self.number_per_run} runs per measurement, {threads} "
            f"thread{'s' if threads > 1 else ''}"])
        if not self.built_with_debug_symbols:
            text += ("\nWarning: the Python interpreter has no debug line information:\n"
                     "         functions are named without their source files.")
        return text

    def stats(self, inclusive=False):
        """Per-function counts of the statement: ``inclusive`` adds each function's callees
        (where time goes), exclusive counts each instruction once (what to diff)."""
        return self.stmt_inclusive_stats if inclusive else self.stmt_exclusive_stats

    def counts(self, *, denoise=False):
        """Total instructions of the measured loop (see :meth:`FunctionCounts.denoise`)."""
        stats = self.stmt_exclusive_stats
        return (stats.denoise() if denoise else stats).sum()

    def delta(self, other, inclusive=False):
        """``self``'s per-function counts minus ``other``'s."""
        return self.stats(inclusive=inclusive) - other.stats(inclusive=inclusive)

    def as_standardized(self):
        """A copy with build directories and object names stripped from function names, so
        that the same code built in two places diffs to zero."""
        # the object first: the path rules then see only the file before the ':'
        rules = [(re.compile(r"\s\[.+\]$"), ""),
                 (re.compile(r"^[^:]*?/(Python|Objects|Modules|Include|Parser)/"), r"\1/"),
                 (re.compile(r"^[^:]*/site-packages/"), "site-packages/")]

        def strip(stats):
            for pattern, replacement in rules:
                stats = stats.transform(lambda fn, p=pattern, r=replacement: p.sub(r, fn))
            return stats

        return CallgrindStats(
            task_spec=self.task_spec, number_per_run=self.number_per_run,
            built_with_debug_symbols=self.built_with_debug_symbols,
            baseline_inclusive_stats=strip(self.baseline_inclusive_stats),
            baseline_exclusive_stats=strip(self.baseline_exclusive_stats),
            stmt_inclusive_stats=strip(self.stmt_inclusive_stats),
            stmt_exclusive_stats=strip(self.stmt_exclusive_stats),
            # the renamed functions no longer match the file's
            stmt_callgrind_out=None)


def parse_callgrind_out(text):
    """``(inclusive, exclusive)`` instruction counts by function, from the text of a
    ``callgrind.out`` file (the first event, ``Ir``).

    A cost line after ``calls=`` is the inclusive cost of that call: it counts toward the
    caller's inclusive total only. Callgrind names the k-th nested activation of a function
    ``name'k`` (``--separate-recs``), which keeps recursion through other functions from
    counting a cost twice: a function's inclusive count is that of its outermost
    activations, its exclusive count the sum over all of them."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
               "cfl": "fl", "fn": "fn", "cfn": "fn"}
    obj = file = "???"
    function = name = None
    callee = None
    call_pending = False
    exclusive = collections.defaultdict(int)
    inclusive = collections.defaultdict(int)

    def resolve(kind, value):
        match = re.match(r"\((\d+)\)(?:\s(.*))?$", value)
        if match is None:       # an uncompressed name
            return value
        ident, text = match.groups()
        if text is not None:
            names[kind][ident] = text
            return text
        return names[kind][ident]

    for line in text.splitlines():
        if not line:
            continue
        if line[0].isdigit() or line[0] in "+-*":
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            if call_pending:
                call_pending = False
                if callee != name:
                    inclusive[function] += cost
            else:
                exclusive[function] += cost
                inclusive[function] += cost
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "calls":
            call_pending = True
        elif key in kind_of:
            resolved = resolve(kind_of[key], value)
            if key == "ob":
                obj = resolved
            elif key == "fl":
                file = resolved
            elif key == "fn":
                name = resolved
                function = (file, name, obj)
            elif key == "cfn":
                callee = resolved
            # fi/fe name the file of code inlined into the current function, whose cost
            # stays the function's; cob/cfi/cfl only need their names registered
    merged_inclusive, merged_exclusive = {}, collections.defaultdict(int)
    outermost = {}
    for (file, name, obj), count in exclusive.items():
        merged_exclusive[_display(file, name, obj)] += count
    for (file, name, obj), count in inclusive.items():
        base, depth = _recursion_level(name)
        key = _display(file, base, obj)
        if depth < outermost.get(key, depth + 1):
            outermost[key] = depth
            merged_inclusive[key] = count
    return merged_inclusive, dict(merged_exclusive)


def _recursion_level(name):
    base, quote, level = name.rpartition("'")
    if quote and level.isdigit():
        return base, int(level)
    return name, 1


def _display(file, name, obj):
    return f"{file}:{_recursion_level(name)[0]} [{obj}]"


def _picklable_globals(globals_):
    """Split ``globals`` into modules (re-imported by name) and pickled values."""
    modules, values = {}, {}
    for name, value in globals_.items():
        if isinstance(value, types.ModuleType):
            modules[name] = value.__name__
            continue
        try:
            pickle.dumps(value)
        except Exception as error:
            raise ValueError(f"collect_callgrind runs the statement in a new process and "
                             f"passes it `globals` by pickling; `{name}` "
                             f"({type(value).__name__}) cannot be pickled: {error}") from None
        values[name] = value
    return modules, values


def _valgrind():
    path = shutil.which("valgrind")
    if path is None:
        raise OSError("Could not find `valgrind`: install Valgrind (e.g. `apt-get install "
                      "valgrind`) to collect instruction counts.")
    return path


def collect(task_spec, globals_, number, repeats, collect_baseline, retain_out_file):
    """Run ``task_spec`` under Callgrind: one :class:`CallgrindStats` per repeat."""
    if repeats < 1:
        raise ValueError(f"repeats must be positive, got {repeats}")
    base, texts = _measure([task_spec.stmt], task_spec.setup, task_spec.num_threads, globals_,
                           number, repeats, collect_baseline)
    return [_stats(task_spec, number, base, text, retain_out_file) for text in texts]


def collect_statements(statements, setup="pass", globals=None, number=100, num_threads=1):
    """Count each of ``statements`` (after one shared ``setup``) in one process under
    Callgrind: ``{statement: CallgrindStats}``. One interpreter start for many statements,
    which matters where importing the library under Valgrind takes minutes."""
    from .common import TaskSpec
    setup = textwrap.dedent(setup).strip()
    statements = [textwrap.dedent(stmt).strip() for stmt in statements]
    base, texts = _measure(statements, setup, num_threads, dict(globals or {}), number, 1, True)
    return {stmt: _stats(TaskSpec(stmt, setup, num_threads=num_threads), number, base, text,
                         False) for stmt, text in zip(statements, texts)}


def _stats(task_spec, number, base, text, retain_out_file):
    inclusive, exclusive = parse_callgrind_out(text)
    return CallgrindStats(
        task_spec=task_spec, number_per_run=number,
        built_with_debug_symbols=_has_line_info(exclusive),
        baseline_inclusive_stats=base[0], baseline_exclusive_stats=base[1],
        stmt_inclusive_stats=FunctionCounts._from_dict(inclusive, True),
        stmt_exclusive_stats=FunctionCounts._from_dict(exclusive, False),
        stmt_callgrind_out=text if retain_out_file else None)


def _measure(statements, setup, num_threads, globals_, number, repeats, collect_baseline):
    """Run the child under Valgrind: ``((baseline inclusive, exclusive), [callgrind.out text
    per statement and repeat])``."""
    if number < 1:
        raise ValueError(f"number must be positive, got {number}")
    valgrind = _valgrind()
    modules, values = _picklable_globals(globals_)
    with tempfile.TemporaryDirectory(prefix="disttorch_callgrind_") as workdir:
        spec_path = os.path.join(workdir, "spec.pkl")
        with open(spec_path, "wb") as f:
            pickle.dump({"stmts": statements, "setup": setup, "num_threads": num_threads,
                         "number": number, "repeats": repeats, "baseline": collect_baseline,
                         "modules": modules, "values": values}, f)
        out = os.path.join(workdir, "callgrind.out")
        env = dict(os.environ)
        # the child imports what this process imports, with a fixed string-hash seed so
        # that dict probe sequences repeat from run to run
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("PYTHONHASHSEED", "0")
        command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                   "--collect-atstart=no", f"--toggle-collect={_TOGGLE}",
                   f"--dump-after={_TOGGLE}", "--dump-line=yes", "--dump-instr=no",
                   f"--separate-recs={_RECURSION_LEVELS}",
                   sys.executable, "-m", __name__, spec_path]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"The statement failed under Callgrind (exit code "
                               f"{done.returncode}):\n{_tail(done.stderr)}")
        count = len(statements) * repeats + bool(collect_baseline)
        dumps = [f"{out}.{i}" for i in range(1, count + 1)]
        missing = [d for d in dumps if not os.path.exists(d)]
        if missing:
            raise RuntimeError(f"Callgrind wrote {len(dumps) - len(missing)} of {len(dumps)} "
                               f"dumps: this Python's `{_TOGGLE}` could not be found to "
                               f"delimit the measurement.\n{_tail(done.stderr)}")
        texts = []
        for path in dumps:
            with open(path) as f:
                texts.append(f.read())
    if collect_baseline:
        base = tuple(FunctionCounts._from_dict(c, inc) for c, inc in
                     zip(parse_callgrind_out(texts.pop(0)), (True, False)))
    else:
        base = (FunctionCounts((), True), FunctionCounts((), False))
    return base, texts


def _has_line_info(exclusive):
    """Whether the interpreter's own functions carry their source files."""
    evaluator = [fn for fn in exclusive if ":_PyEval_EvalFrameDefault" in fn]
    return bool(evaluator) and not all(fn.startswith("???:") for fn in evaluator)


def _tail(text, lines=30):
    kept = [line for line in text.splitlines() if not line.startswith("==")]
    return textwrap.indent("\n".join(kept[-lines:]), "  ")


def _child(spec_path):
    """The measured process: setup, warmup, then each loop through ``sys.call_tracing``."""
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    import disttorch
    namespace = {name: importlib.import_module(module)
                 for name, module in spec["modules"].items()}
    namespace.update(spec["values"])
    namespace.setdefault("torch", disttorch)
    namespace.setdefault("disttorch", disttorch)
    # the thread count of whichever library the statement runs (torch itself, when a
    # comparison passes it as `torch`)
    libraries = {id(disttorch): disttorch, id(namespace["torch"]): namespace["torch"]}
    for library in libraries.values():
        library.set_num_threads(spec["num_threads"])
    exec(compile(spec["setup"], "<setup>", "exec"), namespace)

    def loop(name, body):
        source = (f"def __callgrind_{name}(__number):\n    for _ in range(__number):\n"
                  + textwrap.indent(body, " " * 8) + "\n")
        exec(compile(source, f"<{name}>", "exec"), namespace)
        return namespace.pop(f"__callgrind_{name}")

    baseline = loop("baseline", "pass")
    statements = [loop(f"stmt{i}", stmt) for i, stmt in enumerate(spec["stmts"])]
    number = spec["number"]
    # not part of a statement's cost: lazily built state (caches, first-call imports) and
    # CPython's specialisation of the loops' byte code, which happens over their first runs
    baseline(number)
    for run in statements:
        run(min(number, _WARMUP_RUNS))
    if spec["baseline"]:
        sys.call_tracing(baseline, (number,))
    for run in statements:
        for _ in range(spec["repeats"]):
            sys.call_tracing(run, (number,))


if __name__ == "__main__":
    _child(sys.argv[1])
