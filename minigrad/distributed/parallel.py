"""``DistributedDataParallel``: one model replica per process, gradients averaged during backward.

Each rank runs forward and backward on its own part of the global batch; the replicas stay equal
because they start equal (rank 0's parameters and buffers are broadcast at construction) and
every step applies the same averaged gradient. The averaging is what this module is about:

* buckets: gradients are copied into a few flat buffers, one dtype (and device) each, of about
  ``bucket_cap_mb`` megabytes (the first 1 MB), already divided by the world size (so the sum
  is the average, as in PyTorch), and each buffer is all-reduced in one call. One
  MPI call per parameter pays the latency (microseconds on one node, tens across machines) once
  per tensor: for LeNet-5's ten tensors one flat all-reduce was 1.5-4x cheaper
  (bench/RESULTS.md).
* overlap: a bucket's all-reduce starts (``Iallreduce``, non-blocking) as soon as the last of its
  gradients has been accumulated, found through ``Tensor.register_post_accumulate_grad_hook``,
  while backward goes on computing the earlier layers' gradients. Buckets hold parameters in
  reverse registration order, roughly the order backward produces their gradients, and are
  started strictly in bucket order (MPI needs the same order of collectives on every rank). When
  the last bucket has started, the hook of the last gradient waits for all of them and writes
  the averages back into ``.grad``.
* ``no_sync()``: backward passes inside it only accumulate locally (gradient accumulation); the
  first backward after it averages the accumulated sums.

MPI progresses a non-blocking collective only inside MPI calls (MPICH starts no progress thread
unless ``MPIR_CVAR_ASYNC_PROGRESS=1``), so every hook also tests the requests in flight.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import graph, is_grad_enabled
from minigrad.distributed._comm import _mpi, init, world
from minigrad.distributed._comm import _state as _comm_state
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor

__all__ = ["DistributedDataParallel", "assign_buckets", "broadcast_coalesced"]

# PyTorch's first-bucket size (1 MiB): the gradients of the last layers start their all-reduce
# before the big layers' gradients are in, and backward has the most work left to hide it.
FIRST_BUCKET_BYTES = 1024 * 1024


def assign_buckets(params: Sequence[Tensor], cap_bytes: float,
                   first_cap_bytes: float | None = None) -> list[list[int]]:
    """Group ``params`` into buckets for all-reduce: lists of indices into ``params``.

    Walks the parameters in reverse (the order backward produces their gradients) and keeps one
    open bucket per (dtype, device); a bucket closes once it holds ``cap_bytes`` (so a single
    tensor larger than the cap gets a bucket of its own), the first one of each (dtype, device)
    once it holds ``first_cap_bytes`` (default: ``cap_bytes``), so that communication starts
    early in backward. Buckets are ordered by when their last gradient is expected. Every
    parameter lands in exactly one bucket; every bucket has one dtype and one device.
    """
    if cap_bytes <= 0 or (first_cap_bytes is not None and first_cap_bytes <= 0):
        raise ValueError(f"assign_buckets: bucket caps must be positive, got {cap_bytes} and "
                         f"{first_cap_bytes} bytes")
    open_: dict[tuple[Any, bool], list[int]] = {}
    fill: dict[tuple[Any, bool], int] = {}
    closed: dict[tuple[Any, bool], int] = {}
    done: list[list[int]] = []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p.dtype, p.is_cuda)
        open_.setdefault(key, []).append(i)
        fill[key] = fill.get(key, 0) + p.data.size * p.dtype.itemsize
        cap = first_cap_bytes if first_cap_bytes and not closed.get(key) else cap_bytes
        if fill[key] >= cap:
            done.append(open_.pop(key))
            fill[key] = 0
            closed[key] = closed.get(key, 0) + 1
    done.extend(open_.values())
    ready_at = {i: k for k, i in enumerate(reversed(range(len(params))))}
    done.sort(key=lambda b: max(ready_at[i] for i in b))
    return done


def _group_by_dtype(tensors: Sequence[Tensor]) -> dict[Any, list[Tensor]]:
    groups: dict[Any, list[Tensor]] = {}
    for t in tensors:
        groups.setdefault(t.dtype, []).append(t)
    return groups


def broadcast_coalesced(tensors: Sequence[Tensor], comm: Any, src: int = 0) -> None:
    """Overwrite every tensor with rank ``src``'s values: one ``Bcast`` per dtype of a flat host
    buffer holding them all."""
    if comm.Get_size() == 1:
        return
    for group in _group_by_dtype(tensors).values():
        flat = np.concatenate([np.ravel(_device.to_host(t.data)) for t in group])
        comm.Bcast(flat, root=src)
        if comm.Get_rank() == src:
            continue
        off = 0
        for t in group:
            n = t.data.size
            piece = flat[off:off + n].reshape(t.shape)
            if _device.is_cuda(t.data):
                t.data._set_from_host(piece)
            else:
                t.data[...] = piece
            off += n


class _Bucket:
    """One flat buffer and the parameters whose gradients it carries.

    The buffer lives on the host, except for GPU parameters under ``init(cuda_aware=True)``: then
    it is a device array handed to MPI through ``__cuda_array_interface__``.
    """

    def __init__(self, index: int, members: list[int], params: Sequence[Tensor],
                 flags: bool, on_device: bool) -> None:
        self.index = index
        self.members = members  # indices into DDP's parameter list
        self.offsets: list[int] = []
        off = 0
        for i in members:
            self.offsets.append(off)
            off += params[i].data.size
        self.numel = off
        self.dtype = params[members[0]].dtype
        # with find_unused_parameters, one more slot per parameter: 1 where this rank used it
        host = np.zeros(off + (len(members) if flags else 0), dtype=self.dtype)
        self.buffer: Any = _device.move(host, "cuda") if on_device else host
        self.pending = len(members)
        self.request: Any = None

    def put(self, j: int, grad: Any, scale: float) -> None:
        """Write ``scale * grad`` (an array of either device, or None for zeros) into slot j.
        DDP passes 1 / world size, so the all-reduced sum is the average: the division rides
        on this copy instead of taking a pass over the bucket of its own (PyTorch divides
        before the all-reduce too)."""
        off = self.offsets[j]
        n = self.offsets[j + 1] - off if j + 1 < len(self.offsets) else self.numel - off
        if grad is None:
            self.buffer[off:off + n] = 0
        elif _device.is_cuda(self.buffer):
            self.buffer[off:off + n] = grad.reshape(-1) * scale
        else:
            np.multiply(np.ravel(_device.to_host(grad)), scale, out=self.buffer[off:off + n])

    def get(self, j: int, shape: tuple[int, ...]) -> Any:
        off = self.offsets[j]
        return self.buffer[off:off + int(np.prod(shape, dtype=np.int64))].reshape(shape)

    def mpi_buffer(self) -> Any:
        return self.buffer._buf if _device.is_cuda(self.buffer) else self.buffer


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training: call it like the module; after
    ``loss.backward()`` every parameter's ``.grad`` holds the average over ranks of the ranks'
    gradients, so an optimizer step on each rank keeps the replicas equal.

    Args:
        module: the model (parameters on the CPU or the GPU).
        bucket_cap_mb: size of each all-reduce buffer (PyTorch's default, 25 MB; the first
            bucket, the last layers' gradients, closes at 1 MB, as in PyTorch).
        broadcast_buffers: before every training forward, overwrite the buffers (batch-norm
            running statistics) with rank 0's, as PyTorch does.
        find_unused_parameters: after each forward, walk the graph from the outputs and count
            the parameters it does not reach as done (their gradient, zero on this rank, still
            enters the average; a parameter no rank used keeps ``grad=None``). Without it, a
            parameter that gets no gradient stalls its bucket and the next forward raises.
        process_group: an mpi4py communicator (default: the world; ``init()`` is called).

    Rank 0's parameters and buffers are broadcast to every rank at construction; the model must
    have the same parameter shapes and dtypes on every rank (checked). The wrapper is a Module
    holding ``module`` as ``self.module`` (state_dict keys start with ``module.``, as in PyTorch):
    save ``ddp.module`` for a checkpoint loadable without the wrapper.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True, find_unused_parameters: bool = False,
                 process_group: Any = None) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a minigrad.nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb!r}")
        if process_group is None:
            init()
            process_group = world()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self._size = process_group.Get_size()
        # a communicator of our own: the bucket all-reduces never match a user's collective
        self._comm = process_group.Dup() if self._size > 1 else process_group
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._buffers_list = [b for _, b in module.named_buffers()]
        self._check_same_model(module)
        broadcast_coalesced(self._params + self._buffers_list, self._comm)
        self._index = {id(p): i for i, p in enumerate(self._params)}
        cap = self.bucket_cap_mb * 1024 * 1024
        first = min(cap, FIRST_BUCKET_BYTES)
        on_device = _comm_state.cuda_aware
        self._buckets = [_Bucket(k, m, self._params, self.find_unused_parameters,
                                 on_device and self._params[m[0]].is_cuda)
                         for k, m in enumerate(assign_buckets(self._params, cap, first))]
        self._slot: list[tuple[_Bucket, int]] = [None] * len(self._params)  # type: ignore
        for b in self._buckets:
            for j, i in enumerate(b.members):
                self._slot[i] = (b, j)
        self._ready = [False] * len(self._params)
        self._used = [True] * len(self._params)
        self._next = 0           # the next bucket to start
        self._expect_sync = False  # a forward asked for the next backward to be averaged
        # per bucket, how many gradients were ready when its all-reduce started (the overlap:
        # below len(params) for every bucket but the last)
        self.started_at: list[int] = []
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for p in self._params]

    # -- set-up --------------------------------------------------------------------------------
    def _check_same_model(self, module: Module) -> None:
        if self._size == 1:
            return
        mine = [(n, tuple(t.shape), str(t.dtype))
                for n, t in list(module.named_parameters()) + list(module.named_buffers())]
        theirs = self._comm.allgather(mine)
        for r, other in enumerate(theirs):
            if other != mine:
                diff = next(((a, b) for a, b in zip(mine, other) if a != b),
                            (f"{len(mine)} tensors", f"{len(other)} tensors"))
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs between rank "
                    f"{self._comm.Get_rank()} and rank {r}: {diff[0]} here, {diff[1]} there. "
                    "Build the same model (same parameter shapes and dtypes) on every rank."
                )

    def bucket_sizes(self) -> list[tuple[str, int]]:
        """``(dtype, number of elements)`` per all-reduce bucket, in launch order."""
        return [(str(b.dtype), b.numel) for b in self._buckets]

    # -- the step ------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._check_previous_reduction()
        sync = self.require_backward_grad_sync and is_grad_enabled() and bool(self._params)
        if sync and self.broadcast_buffers and self._buffers_list:
            broadcast_coalesced(self._buffers_list, self._comm)
        if sync:
            self._reset()
        self._expect_sync = sync
        out = self.module(*args, **kwargs)
        if sync and self.find_unused_parameters:
            self._mark_unreachable(out)
        return out

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this context, backward passes of forwards run here accumulate gradients
        locally without averaging; the first backward after it averages the sums::

            with ddp.no_sync():
                for xb, yb in micro_batches[:-1]:
                    loss_fn(ddp(xb), yb).backward()
            loss_fn(ddp(xb_last), yb_last).backward()   # averages the accumulated gradients
        """
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    def _reset(self) -> None:
        for b in self._buckets:
            b.pending = len(b.members)
            b.request = None
        self._ready = [False] * len(self._params)
        self._used = [True] * len(self._params)
        self._next = 0
        self.started_at = []

    def _check_previous_reduction(self) -> None:
        if not self._expect_sync or not any(self._ready):
            return  # no backward since the last forward, or its reduction finished
        missing = [n for n, r in zip(self._names, self._ready) if not r]
        self._expect_sync = False
        raise RuntimeError(
            "DistributedDataParallel: the previous backward did not produce a gradient for "
            f"every parameter, so its averaging never finished (no gradient for: "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}). Make every "
            "parameter take part in the loss, freeze the unused ones (requires_grad=False) "
            "before wrapping, or pass find_unused_parameters=True."
        )

    def _mark_unreachable(self, out: Any) -> None:
        """Count the parameters the graph of ``out`` does not reach as done (zero gradient)."""
        outs = list(_tensors_in(out))
        reached = {id(t) for t in outs if t.grad_fn is None}
        for node in graph.nodes(outs):  # a leaf input shows as (leaf, 0) in next_functions
            reached.update(id(fn) for fn, _ in node.next_functions if isinstance(fn, Tensor))
        for i, p in enumerate(self._params):
            if id(p) not in reached:
                self._used[i] = False
                self._grad_ready(p)

    def _grad_ready(self, p: Tensor) -> None:
        """The hook: ``p.grad`` is final for this backward."""
        if not self._expect_sync:
            return
        i = self._index[id(p)]
        if self._ready[i]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[i]!r} was marked ready twice "
                "in one backward (its averaging had already started); this happens when "
                "backward runs twice through a forward (retain_graph=True) without a new "
                "forward, or a parameter is reached through two graphs. Run forward again, or "
                "accumulate inside no_sync()."
            )
        self._ready[i] = True
        bucket, j = self._slot[i]
        bucket.put(j, None if p.grad is None else p.grad.data, 1.0 / self._size)
        if self.find_unused_parameters:
            bucket.buffer[bucket.numel + j] = 1.0 if self._used[i] else 0.0
        bucket.pending -= 1
        if bucket.pending == 0:
            self._start_ready_buckets()
        elif self._size > 1 and self._next > 0:
            _mpi().Request.Testall([b.request for b in self._buckets[:self._next]])

    def _start_ready_buckets(self) -> None:
        MPI = _mpi() if self._size > 1 else None
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            b = self._buckets[self._next]
            if MPI is not None:
                b.request = self._comm.Iallreduce(MPI.IN_PLACE, b.mpi_buffer(), op=MPI.SUM)
            self.started_at.append(sum(self._ready))
            self._next += 1
        if self._next == len(self._buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait for every bucket and write the averages into ``.grad``."""
        if self._size > 1:
            _mpi().Request.Waitall([b.request for b in self._buckets])
        for b in self._buckets:
            for j, i in enumerate(b.members):
                p = self._params[i]
                avg = b.get(j, p.shape)
                if self.find_unused_parameters and b.buffer[b.numel + j] == 0:
                    continue  # no rank used it: its gradient stays as it was (None)
                _write_grad(p, avg)
            b.request = None
        self._expect_sync = False

    def extra_repr(self) -> str:
        return (f"world_size={self._size}, buckets={len(self._buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb:g}")


def _write_grad(p: Tensor, avg: Any) -> None:
    """Put the averaged gradient ``avg`` (host, or device with a device bucket) into ``p.grad``,
    in place where the existing gradient array allows it."""
    g = p.grad
    if g is not None and _device.is_cuda(g.data):
        if _device.is_cuda(avg):
            g.data[...] = avg
        else:
            g.data._set_from_host(avg)
    elif g is not None and g.data.flags.writeable:
        np.copyto(g.data, avg)
    else:  # no gradient yet (unused here, used elsewhere), or a read-only / aliased array
        new = avg.copy() if _device.is_cuda(avg) else np.array(avg, dtype=p.dtype)
        p.grad = Tensor._make(_device.move(new, "cuda") if p.is_cuda else new)


def _tensors_in(out: Any) -> Iterator[Tensor]:
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, dict):
        for v in out.values():
            yield from _tensors_in(v)
    elif isinstance(out, list | tuple):
        for v in out:
            yield from _tensors_in(v)

