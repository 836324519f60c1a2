"""``Compare``: lay out many Measurements as tables, one per label."""
import enum

from .common import Measurement, ordered_unique, select_unit, trim_sigfig, unit_to_english

__all__ = ["Compare", "Colorize"]

_BEST = "\033[92m"
_GOOD = "\033[34m"
_BAD = "\033[2m\033[91m"
_VERY_BAD = "\033[31m"
_BOLD = "\033[1m"
_END = "\033[0m"
_SEP = "  |  "


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _paint(text, value, best):
    """Color a cell by how far its median is from the best one it is compared with."""
    if value <= best * 1.01 or value <= best + 100e-9:
        return _BEST + _BOLD + text + _END * 2
    if value <= best * 1.1:
        return _GOOD + _BOLD + text + _END * 2
    if value >= best * 5:
        return _VERY_BAD + _BOLD + text + _END * 2
    if value >= best * 2:
        return _BAD + text + _END * 2
    return text


def _leading_digits(value):
    import math
    return math.ceil(math.log10(value)) if value > 0 else 0


class _Table:
    """One label's measurements: rows (thread count, env, row name) by columns (description)."""

    def __init__(self, label, results, trim, highlight, colorize):
        self.label = label
        self.any_warnings = any(r.has_warnings for r in results)
        self.trim, self.highlight, self.colorize = trim, highlight, colorize
        self.unit, self.scale = select_unit(min(r.median for r in results))
        self.columns = ordered_unique(r.description for r in results)
        keys = ordered_unique((r.num_threads, r.task_spec.env, r.as_row_name) for r in results)
        # thread counts ascending, then envs; rows keep their order of first appearance
        keys.sort(key=lambda k: (k[0], (k[1] is not None, k[1] or "")))
        self.rows = keys
        self.cells = {(r.num_threads, r.task_spec.env, r.as_row_name, r.description): r
                      for r in results}
        self.render_env = len({r.task_spec.env for r in results}) > 1
        self.env_width = max((len(str(r.task_spec.env)) for r in results), default=0) \
            if self.render_env else 0

    def _column_format(self, column):
        results = [self.cells.get(row + (column,)) for row in self.rows]
        results = [r for r in results if r is not None]
        digits = [_leading_digits(r.median / self.scale) for r in results]
        decimals = 1
        if self.trim:
            decimals = min(max(r.significant_figures - d, 0) for r, d in zip(results, digits))
        width = max(digits) + decimals + (1 if decimals else 0)
        # room for " (! XX%)" only in a column that has such a mark
        marks = self.highlight and any(r.has_warnings for r in results)
        return f"{{:>{width}.{decimals}f}}{{:>{7 if marks else 0}}}"

    def _cell(self, r, template):
        value = r.median / self.scale
        if self.trim:
            value = trim_sigfig(value, r.significant_figures)
        warning = (f" (! {r.iqr / r.median * 100:.0f}%)"
                   if self.highlight and r.has_warnings else "")
        return template.format(value, warning)

    def _best(self, row, column):
        if self.colorize == Colorize.ROWWISE:
            peers = [self.cells.get(row + (c,)) for c in self.columns]
        else:
            peers = [self.cells.get(k + (column,)) for k in self.rows if k[0] == row[0]]
        return min(p.median for p in peers if p is not None)

    def render(self):
        templates = {c: self._column_format(c) for c in self.columns}
        names, grid = [], []
        previous = None
        for row in self.rows:
            num_threads, env, name = row
            # an env is named on the first row of its block, within each thread count
            env_text = f"({env})" if self.render_env and (num_threads, env) != previous else ""
            previous = (num_threads, env)
            names.append("  " + env_text.ljust(self.env_width + 4) + name)
            grid.append([self._cell(self.cells[row + (c,)], templates[c])
                         if row + (c,) in self.cells else "" for c in self.columns])
        headers = ["" if c is None else str(c) for c in self.columns]
        name_width = max(len(n) for n in names)
        widths = [max([len(h)] + [len(line[i]) for line in grid]) for i, h in enumerate(headers)]
        header = _SEP.join([" " * name_width] + [h.center(w) for h, w in zip(headers, widths)])
        total = len(header)
        lines = ["[" + f" {self.label or ''} ".center(total - 2, "-") + "]", header]
        threads = None
        for row, name, cells in zip(self.rows, names, grid):
            if row[0] != threads:
                threads = row[0]
                lines.append(f"{threads} threads: ".ljust(total, "-"))
            parts = [name.ljust(name_width)]
            for column, text, width in zip(self.columns, cells, widths):
                text = text.center(width)
                r = self.cells.get(row + (column,))
                if r is not None and self.colorize != Colorize.NONE:
                    text = _paint(text, r.median, self._best(row, column))
                parts.append(text)
            lines.append(_SEP.join(parts))
        footer = f"\n\nTimes are in {unit_to_english(self.unit)}s ({self.unit}).\n"
        if self.highlight and self.any_warnings:
            footer += ("(! XX%) Measurement has high variance, where XX is the IQR / median "
                       "* 100.\n")
        return "\n".join(lines) + footer


class Compare:
    """Tabulate many :class:`Measurement` results for comparison.

    One table per ``label``; rows are ``sub_label`` (or the statement), grouped by thread
    count and, when it differs, by ``env``; columns are ``description``. Replicates of the
    same task are merged first (:meth:`Measurement.merge`). ``str(compare)`` or
    :meth:`print` gives the text.

    Args:
        results (list of Measurement): the measurements to display.
    """

    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self):
        return "\n".join(self._render())

    def extend_results(self, results):
        """Append ``results`` (Measurements) to those already stored."""
        for r in results:
            if not isinstance(r, Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        """Show each time only to its estimated significant figures."""
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        """Color cells against the best time of their column (or row, with ``rowwise``)."""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self):
        """Mark times whose IQR is large relative to their median with ``(! XX%)``."""
        self._highlight_warnings = True

    def print(self):
        """Print the tables."""
        print(str(self))

    def _render(self):
        merged = Measurement.merge(self._results)
        groups = {}
        for r in merged:
            groups.setdefault(r.label, []).append(r)
        return [_Table(label, group, self._trim_significant_figures, self._highlight_warnings,
                       self._colorize).render() for label, group in groups.items()]
