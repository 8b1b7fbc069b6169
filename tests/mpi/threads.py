"""Write what init() capped the threads to, as OUT_DIR/rank<r>.json (run without the thread
variables in the environment by tests/test_distributed.py)."""

import json
import os
import sys

import numba

from minigrad import distributed as dist
from minigrad.distributed import _comm

dist.init()
info = {"rank": dist.rank(), "local_world_size": dist.local_world_size(),
        "cores": len(os.sched_getaffinity(0)), "capped": _comm._state.threads,
        "numba_threads": numba.get_num_threads()}
with open(os.path.join(sys.argv[1], f"rank{dist.rank()}.json"), "w") as f:
    json.dump(info, f)
