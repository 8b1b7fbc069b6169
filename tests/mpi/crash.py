"""Rank 1 raises while rank 0 waits in a collective: init()'s excepthook must abort the whole
job (MPI.COMM_WORLD.Abort) instead of leaving rank 0 waiting forever. Run by
tests/test_distributed.py as ``mpiexec -n 2 python crash.py``."""

import sys
import time

from minigrad import distributed as dist

dist.init()
if dist.rank() == 1:
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:  # when the exception is raised, for the test's clock
            f.write(repr(time.time()))
    raise ValueError("rank 1 fails on purpose")
dist.barrier()  # rank 0 waits here for a rank that will never come
print("rank 0 passed the barrier: the job was not aborted")
