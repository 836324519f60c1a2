"""GCC libstdc++'s ``std::sort``, ``std::nth_element`` and ``std::partial_sort``, step for step.

PyTorch's CPU kernels sort with these (``unique``, ``topk``...). They are not stable, so where
elements tie (equal keys, or keys the comparison does not order, such as NaN) the order they
leave shows in PyTorch's results; replaying the algorithms on Python lists reproduces it. Each
function works in place on ``items`` with ``less(x, y)``, the C++ comparator, and returns it.

The bounds checks in the partition and insertion loops are for a ``less`` that is no strict
weak order, where the C++ loops (which rely on sentinels) would run off the range.
"""

__all__ = ["sort", "nth_element", "partial_sort"]

_THRESHOLD = 16   # libstdc++'s _S_threshold: shorter ranges are left to insertion sort


def _depth_limit(n):
    return 2 * (n.bit_length() - 1)


def sort(items, less):
    """``std::sort(items.begin(), items.end(), less)``."""
    n = len(items)
    if n > 1:
        _introsort_loop(items, 0, n, _depth_limit(n), less)
        _insertion_sort(items, 0, min(n, _THRESHOLD), less)
        for i in range(_THRESHOLD, n):
            _linear_insert(items, i, less)
    return items


def sort_range(items, first, last, less):
    """``std::sort`` of ``items[first:last]`` (in place)."""
    part = items[first:last]
    items[first:last] = sort(part, less)
    return items


def nth_element(items, nth, less):
    """``std::nth_element(begin, begin + nth, end, less)``."""
    n = len(items)
    if n == 0 or nth == n:
        return items
    first, last, depth = 0, n, _depth_limit(n)
    while last - first > 3:
        if depth == 0:
            _heap_select(items, first, nth + 1, last, less)
            items[first], items[nth] = items[nth], items[first]
            return items
        depth -= 1
        cut = _partition_pivot(items, first, last, less)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(items, first, last, less)
    return items


def partial_sort(items, middle, less):
    """``std::partial_sort(begin, begin + middle, end, less)``."""
    _heap_select(items, 0, middle, len(items), less)
    _sort_heap(items, 0, middle, less)
    return items


def _introsort_loop(a, first, last, depth, less):
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_select(a, first, last, last, less)
            _sort_heap(a, first, last, less)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def _partition_pivot(a, first, last, less):
    _median_to_first(a, first, first + 1, first + (last - first) // 2, last - 1, less)
    return _partition(a, first + 1, last, a[first], first, less)


def _median_to_first(x, result, a, b, c, less):
    if less(x[a], x[b]):
        m = b if less(x[b], x[c]) else c if less(x[a], x[c]) else a
    else:
        m = a if less(x[a], x[c]) else c if less(x[b], x[c]) else b
    x[result], x[m] = x[m], x[result]


def _partition(a, first, last, pivot, low, less):
    end = last
    while True:
        while first < end - 1 and less(a[first], pivot):
            first += 1
        last -= 1
        while last > low and less(pivot, a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a, first, last, less):
    for i in range(first + 1, last):
        v = a[i]
        if less(v, a[first]):
            a[first + 1:i + 1] = a[first:i]
            a[first] = v
        else:
            _linear_insert(a, i, less)


def _linear_insert(a, i, less):
    v = a[i]
    j = i - 1
    while j >= 0 and less(v, a[j]):
        a[i] = a[j]
        i = j
        j -= 1
    a[i] = v


def _heap_select(a, first, middle, last, less):
    n = middle - first
    if n > 1:
        for parent in range((n - 2) // 2, -1, -1):
            _adjust_heap(a, first, parent, n, a[first + parent], less)
    for i in range(middle, last):
        if less(a[i], a[first]):
            v = a[i]
            a[i] = a[first]
            _adjust_heap(a, first, 0, n, v, less)


def _sort_heap(a, first, last, less):
    while last - first > 1:
        last -= 1
        v = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, v, less)


def _adjust_heap(a, first, hole, n, value, less):
    top = child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if n & 1 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
