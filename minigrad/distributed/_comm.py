"""The MPI world: ``init`` and the collectives on Tensors, over mpi4py's buffer API.

mpi4py is imported on first use (``init()`` or any call that needs the world), never by
``import minigrad``. Collectives act on a tensor's storage in place (PyTorch's
``torch.distributed`` semantics; not recorded in the graph: for a differentiable gather see
:func:`minigrad.distributed.all_gather`). A GPU tensor is copied to the host and back around the
MPI call unless ``init(cuda_aware=True)`` says the MPI library reads device memory, in which case
its device buffer is passed through ``__cuda_array_interface__``.

What ``init()`` does besides reading the world, and why:

* launcher check: the launcher's environment (``PMI_SIZE`` from MPICH's and Intel's ``mpiexec``,
  ``OMPI_COMM_WORLD_SIZE`` from Open MPI's, ``SLURM_STEP_NUM_TASKS`` from ``srun``) says N > 1
  processes but MPI reports a world of one: mpi4py found a different MPI than the one that
  launched the job (say the ``mpich`` wheel under Open MPI's ``mpirun``), and every process would
  train alone on the whole data. That is an error, not a warning.
* thread cap: each process's Numba and BLAS threads are capped to cores / (processes on this
  node) unless the user set ``NUMBA_NUM_THREADS`` / ``OMP_NUM_THREADS`` (or the BLAS's own
  variable): two ranks with two threads each on two cores were measured 4-7x slower than
  with one each.
* faults: an uncaught exception on one rank calls ``MPI.COMM_WORLD.Abort`` after printing the
  traceback, so the other ranks do not wait forever in their next collective.
"""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import is_grad_enabled, versions
from minigrad.tensor import Tensor

__all__ = [
    "init", "is_available", "is_initialized", "rank", "world_size", "local_rank",
    "local_world_size", "is_main", "barrier", "all_reduce", "broadcast", "broadcast_object",
    "all_gather_object", "launcher_world_size", "DistributedError",
]

INSTALL_HINT = ('pip install "minigrad[distributed]" mpich   (on a cluster: load the site\'s MPI '
                'module instead of the mpich wheel, e.g. `module load openmpi`, then pip install '
                '"minigrad[distributed]")')

_ABORT_GRACE_S = 0.2  # between printing a rank's traceback and aborting the job (see below)

# Environment variables a launcher sets to the number of processes it started, and the launcher.
_LAUNCHER_VARS = (
    ("OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun/mpiexec"),
    ("PMI_SIZE", "an MPICH-style mpiexec (MPICH, Intel MPI, MVAPICH)"),
    ("PMIX_SIZE", "a PMIx launcher"),
    ("SLURM_STEP_NUM_TASKS", "srun"),
)

_USER_THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "MKL_NUM_THREADS")


class DistributedError(RuntimeError):
    """A problem with the distributed set-up (launcher mismatch, a collective used wrongly)."""


class _State:
    comm: Any = None           # mpi4py COMM_WORLD once initialised
    local: Any = None          # the processes sharing this node's memory
    cuda_aware: bool = False
    threads: dict[str, int] | None = None  # what init() capped, for inspection and tests
    blas_limiter: Any = None   # keeps threadpoolctl's limits alive
    prev_excepthook: Any = None


_state = _State()

# The group of one process: what collectives act on when there is no MPI world (a single process
# without init(), e.g. SyncBatchNorm outside a distributed job). Only ``rank`` and ``size`` are
# read; every collective is the identity on it and never touches MPI.
WORLD_OF_ONE = types.SimpleNamespace(rank=0, size=1)


def _mpi() -> Any:
    """The ``mpi4py.MPI`` module, or an ImportError that says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"minigrad.distributed needs mpi4py (and an MPI library): "
                          f"{INSTALL_HINT}") from e
    except RuntimeError as e:  # mpi4py installed but no MPI library to load
        raise ImportError(f"minigrad.distributed: mpi4py found no MPI library ({e}); "
                          f"{INSTALL_HINT}") from e
    return MPI


def is_available() -> bool:
    """Whether mpi4py and an MPI library can be loaded (does not initialise anything)."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _state.comm is not None


def launcher_world_size() -> tuple[int, str] | None:
    """``(N, launcher)`` when the environment says a launcher started N > 1 processes (read
    without MPI), else None. ``SLURM_NTASKS`` alone is not enough: a batch script itself runs as
    one process in an allocation of many tasks; ``srun`` sets ``SLURM_STEP_NUM_TASKS``."""
    for var, who in _LAUNCHER_VARS:
        value = os.environ.get(var, "")
        if value.strip().isdigit() and int(value) > 1:
            return int(value), f"{who} ({var}={value})"
    if os.environ.get("SLURM_STEP_ID") is not None:  # inside an srun step of an old Slurm
        value = os.environ.get("SLURM_NTASKS", "")
        if value.strip().isdigit() and int(value) > 1:
            return int(value), f"srun (SLURM_NTASKS={value})"
    return None


def _check_launcher(size: int, library: str) -> None:
    found = launcher_world_size()
    if found is None or size > 1:
        return
    n, who = found
    raise DistributedError(
        f"minigrad.distributed.init: the launcher started {n} processes ({who}) but MPI reports "
        f"a world of 1 process: mpi4py loaded an MPI library ({library}) other than the one that "
        "launched the job, so each process would train alone on all the data. Launch with the "
        "mpiexec of the MPI that mpi4py uses (`python -m mpi4py --mpi-lib-version` names it; with "
        "the mpich wheel that is its `mpiexec`), or make mpi4py use the launcher's MPI (on a "
        "cluster: load its MPI module and `pip install mpi4py` against it). To run single "
        "processes under this launcher on purpose, pass init(check_launcher=False)."
    )


def _cap_threads(local_size: int) -> None:
    """Give each of this node's ``local_size`` processes cores / local_size threads, unless the
    user chose thread counts through the environment."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    n = max(1, min(cores, (os.cpu_count() or cores) // max(1, local_size)))
    done: dict[str, int] = {}
    if "NUMBA_NUM_THREADS" not in os.environ:
        import numba

        if n < numba.get_num_threads():
            numba.set_num_threads(n)
        done["numba"] = numba.get_num_threads()
    if not any(v in os.environ for v in _USER_THREAD_VARS[1:]):
        from threadpoolctl import threadpool_limits

        _state.blas_limiter = threadpool_limits(limits=n)
        done["blas"] = n
    _state.threads = done


def _install_excepthook(comm: Any) -> None:
    prev = sys.excepthook
    _state.prev_excepthook = prev

    def abort_job(exc_type: type, exc: BaseException, tb: Any) -> None:
        try:
            prev(exc_type, exc, tb)
            print(f"minigrad.distributed: rank {comm.Get_rank()} raised {exc_type.__name__}; "
                  "aborting all ranks (MPI.COMM_WORLD.Abort)", file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            # The launcher forwards each rank's output through a pipe, and MPICH's drops what it
            # has not forwarded yet when Abort tears the job down: without this pause the
            # traceback arrived cut off in about one job in twelve.
            time.sleep(_ABORT_GRACE_S)
        finally:
            comm.Abort(1)

    sys.excepthook = abort_job


def init(*, cuda_aware: bool | None = None, check_launcher: bool = True,
         cap_threads: bool = True, abort_on_exception: bool = True) -> None:
    """Join the MPI world (``MPI.COMM_WORLD``); later calls do nothing.

    cuda_aware:  pass GPU buffers to MPI directly (only with an MPI built CUDA-aware); default:
                 the ``MINIGRAD_CUDA_AWARE_MPI`` environment variable (``1``), else host copies.
    check_launcher:  raise :class:`DistributedError` when the launcher started N > 1 processes
                 but MPI sees one (an MPI library mismatch).
    cap_threads: cap Numba's and the BLAS's threads to cores / processes on this node unless
                 set by the user (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ...).
    abort_on_exception: with more than one process, an uncaught exception on any rank aborts the
                 whole job (``sys.excepthook`` -> ``MPI.COMM_WORLD.Abort``).
    """
    if _state.comm is not None:
        return
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    if check_launcher:
        _check_launcher(comm.Get_size(), MPI.Get_library_version().splitlines()[0].strip())
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    if cuda_aware is None:
        cuda_aware = os.environ.get("MINIGRAD_CUDA_AWARE_MPI", "") == "1"
    _state.cuda_aware = bool(cuda_aware)
    if cap_threads:
        _cap_threads(local.Get_size())
    if abort_on_exception and comm.Get_size() > 1:
        _install_excepthook(comm)
    _state.local = local
    _state.comm = comm


def world() -> Any:
    """The initialised ``MPI.COMM_WORLD`` (initialising on first use)."""
    if _state.comm is None:
        init()
    return _state.comm


def rank() -> int:
    """This process's rank in the world, 0 .. world_size() - 1."""
    return world().Get_rank()


def world_size() -> int:
    """The number of processes in the job."""
    return world().Get_size()


def local_rank() -> int:
    """This process's rank among the processes on its node (shared-memory split): which GPU or
    which slice of the node's cores is its own."""
    world()
    return _state.local.Get_rank()


def local_world_size() -> int:
    """The number of processes on this node."""
    world()
    return _state.local.Get_size()


def is_main() -> bool:
    """True on rank 0: the process that logs, shows progress bars and writes checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank has reached this call."""
    world().Barrier()


# ---------------------------------------------------------------------------------------------
# Buffers: what MPI reads and writes for an array of either device
# ---------------------------------------------------------------------------------------------


@contextmanager
def host_buffer(arr: Any, write_back: bool = True) -> Iterator[Any]:
    """A C-contiguous buffer MPI can use for ``arr``, written back into ``arr`` on exit when it is
    a copy. NumPy arrays are used in place when contiguous; GPU arrays are copied to the host,
    or passed as device memory (``__cuda_array_interface__``) with ``init(cuda_aware=True)``."""
    if _device.is_cuda(arr):
        if _state.cuda_aware:  # CudaArrays are C-contiguous: their device buffer is the data
            yield arr._buf
            return
        host = arr.get()
        yield host
        if write_back:
            arr._set_from_host(host)
        return
    if arr.flags.c_contiguous and arr.flags.writeable:
        yield arr
        return
    tmp = np.ascontiguousarray(arr)
    yield tmp
    if write_back:
        arr[...] = tmp


def _storage(tensor: Any, who: str) -> Any:
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, np.ndarray) or _device.is_cuda(tensor):
        return tensor
    raise TypeError(f"{who}: expected a Tensor or an array, got {type(tensor).__name__}")


_REDUCE_OPS = ("sum", "mean", "max", "min", "product")


def _check_inplace(tensor: Any, who: str) -> None:
    """A collective overwrites ``tensor`` without recording it in the graph: refuse a tensor
    that requires grad in grad mode (its graph would go stale), and a read-only array (a
    broadcast view)."""
    if isinstance(tensor, Tensor) and is_grad_enabled() and tensor.requires_grad:
        raise RuntimeError(
            f"{who}: in-place change of a tensor that requires grad (shape {tensor.shape}), "
            "which a collective does not record in the graph; wrap it in minigrad.no_grad() (as "
            "optimizers and nn.init do), or use the recorded all_reduce_sum / all_gather"
        )
    if not _device.is_writeable(_storage(tensor, who)):
        raise RuntimeError(f"{who}: the tensor of shape {tuple(tensor.shape)} is a read-only "
                           "broadcast view (from expand or broadcast_to); .clone() it first")


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Reduce ``tensor`` over all ranks in place and return it: every rank ends with the sum
    (``op="sum"``), the average (``"mean"``, floating tensors), the ``"max"``, ``"min"`` or
    ``"product"``. Not recorded in the graph (as ``torch.distributed.all_reduce``): call it
    under ``no_grad()`` on tensors that require grad. Any shape; tensor: (*) -> (*)."""
    who = "all_reduce"
    arr = _storage(tensor, who)
    if op not in _REDUCE_OPS:
        raise ValueError(f"{who}: op must be one of {list(_REDUCE_OPS)}, got {op!r}")
    if op == "mean" and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{who}: op='mean' needs a floating tensor, got {arr.dtype} "
                        f"{tuple(arr.shape)}; reduce with 'sum' and divide")
    _check_inplace(tensor, who)
    comm = world()
    if comm.Get_size() == 1:
        return tensor
    MPI = _mpi()
    mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN,
              "product": MPI.PROD}[op]
    with host_buffer(arr) as buf:
        comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    if op == "mean":
        if _device.is_cuda(arr):
            arr[...] = arr / comm.Get_size()
        else:
            np.divide(arr, comm.Get_size(), out=arr)
    versions.bump(arr)  # a node that saved this tensor now raises in backward
    return tensor


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` in place with rank ``src``'s values on every rank and return it.
    Shapes and dtypes must agree across ranks."""
    who = "broadcast"
    arr = _storage(tensor, who)
    comm = world()
    _check_src(src, comm.Get_size(), who)
    _check_inplace(tensor, who)
    if comm.Get_size() == 1:
        return tensor
    with host_buffer(arr, write_back=comm.Get_rank() != src) as buf:
        comm.Bcast(buf, root=src)
    if comm.Get_rank() != src:
        versions.bump(arr)
    return tensor


def broadcast_object(obj: Any = None, src: int = 0) -> Any:
    """Rank ``src``'s picklable ``obj``, returned on every rank (the others' argument is
    ignored): configuration, a seed, a file name chosen on rank 0."""
    comm = world()
    _check_src(src, comm.Get_size(), "broadcast_object")
    return comm.bcast(obj, root=src)


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, as a list indexed by rank, on every rank."""
    return world().allgather(obj)


def _check_src(src: int, size: int, who: str) -> None:
    if isinstance(src, bool) or not isinstance(src, int | np.integer) or not 0 <= src < size:
        raise ValueError(f"{who}: src must be a rank in 0..{size - 1}, got {src!r}")
