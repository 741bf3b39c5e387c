"""The process's cyclic garbage collector, tuned for a node (``python -m trionode`` calls
:func:`tune_gc` before anything else; so do the benchmarks that run a node in their own
process, so that they measure what a node does).

Python's defaults (700, 10, 10) start a young collection every 700 container allocations. A
node allocates fast (a sync decodes 32 blocks a message, the simulator decodes and stages
blocks for 50 nodes) and holds many objects (windows of blocks, contexts, caches), so
collections come often and the older ones walk every object held. Measured with the default
thresholds: a long sync of 1,000 sim blocks (``scripts/bench_sync.py``) spent 933 ms in 913
collections, 296 ms of it inside the decoding of the sync's messages on the event loop (each
message of 32 blocks took 5.4 ms of CPU instead of 0.75, all of the difference collections);
a 100-block simulation of 50 nodes (``scripts/bench_simulate.py``) spent 2.64 s of its 17.5 s.
With :data:`GC_THRESHOLDS`, 68 ms in 86 collections and 0.52 s in 164. Nearly every object a
node frees goes by reference counting; what the collector is for (reference cycles: trio's
tasks and exceptions, tracebacks) is collected less often, a bounded amount of memory held a
little longer. ``gc.freeze()`` after start-up was tried as well and saved little.
"""

from __future__ import annotations

import gc

#: (young, middle, old) collection thresholds (module docstring).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Set the process's collector thresholds to :data:`GC_THRESHOLDS`."""
    gc.set_threshold(*GC_THRESHOLDS)
