"""Print what init() capped the threads to, as JSON from each rank (run without the thread
variables in the environment by tests/test_distributed.py)."""

import json
import os

import numba

from minigrad import distributed as dist
from minigrad.distributed import _comm

dist.init()
print("THREADS " + json.dumps({"rank": dist.rank(), "local_world_size": dist.local_world_size(),
                  "cores": len(os.sched_getaffinity(0)), "capped": _comm._state.threads,
                  "numba_threads": numba.get_num_threads()}), flush=True)
