"""What the memory benchmarks read from a torch profile (bench_qlora.py, bench_memory_estimate.py)."""

from __future__ import annotations

from typing import Any


def allocation_rise(prof: Any) -> int:
    """The largest rise of the CPU allocator's live bytes during ``prof``'s span (a ``torch.profiler.profile``
    with ``profile_memory=True``): the maximum of the allocation events' ``total_allocated`` minus the bytes
    live before the first allocation (its ``total_allocated`` less its own ``alloc_size``)."""
    from torch._C._profiler import _EventType

    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size, node.extra_fields.total_allocated))
    events.sort()
    base = events[0][2] - events[0][1]  # live bytes before the first allocation
    return max(total for _, _, total in events) - base
