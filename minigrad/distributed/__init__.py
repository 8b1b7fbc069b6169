"""Training across processes and machines over MPI (mpi4py): data parallel and model parallel.

    mpiexec -n 4 python train.py          # one node, or: srun -n 64 python train.py

    from minigrad import distributed as dist
    dist.init()                                          # reads the MPI world
    model = dist.DistributedDataParallel(model)          # rank 0's weights on every rank
    sampler = DistributedSampler(dataset)                # minigrad.data: this rank's share
    ...
    loss.backward()                                      # gradients averaged over ranks
    opt.step()

Names follow PyTorch's ``torch.distributed`` and Horovod where they exist: ``init``, ``rank``,
``world_size``, ``local_rank``, ``is_main``, ``barrier``, ``all_reduce`` / ``broadcast`` (in
place, not recorded), ``broadcast_object``, ``all_gather`` (recorded in the graph, for model
parallelism), ``DistributedDataParallel``; ``nn.SyncBatchNorm`` and
``data.DistributedSampler`` live with their PyTorch namesakes. :class:`Job` packs what a
training script needs so that one script runs on one process or many.

``import minigrad`` does not import mpi4py; the first call that needs MPI does, and says what to
install when it is missing: ``pip install "minigrad[distributed]" mpich`` (on a cluster, use the
site's MPI instead of the mpich wheel).
"""

from minigrad.distributed._comm import (
    DistributedError,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object,
    init,
    is_available,
    is_initialized,
    is_main,
    launcher_world_size,
    local_rank,
    local_world_size,
    rank,
    world_size,
)
from minigrad.distributed.functional import all_gather, all_reduce_sum
from minigrad.distributed.job import Job
from minigrad.distributed.parallel import DistributedDataParallel

__all__ = [
    "init", "is_available", "is_initialized", "rank", "world_size", "local_rank",
    "local_world_size", "is_main", "barrier", "all_reduce", "broadcast", "broadcast_object",
    "all_gather_object", "all_gather", "all_reduce_sum", "launcher_world_size",
    "DistributedError", "DistributedDataParallel", "Job",
]
