"""Version counters for in-place writes, kept per storage as PyTorch keeps them.

Every in-place write bumps the version of the written storage (the memory a NumPy array or a GPU
buffer owns, shared by all its views and by ``detach()``ed aliases; see ``_device.storage``).
A recorded node remembers the global write count (``epoch``) when it saved its tensors; reading
them back in backward re-checks them only when some write happened since, so the check costs one
integer comparison when nothing was modified.

Recorded ops whose output shares storage with an input (reshape, transpose, basic indexing) are
noted too: an in-place op on such storage would leave the other tensor with a stale graph, so
the in-place rules refuse it.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from minigrad import _device

__all__ = ["epoch", "bump", "version", "written_since", "note_views", "is_graph_view"]

epoch = [0]  #: in-place writes so far in this process (one counter in a list, so it can be bumped)
_writes: dict[int, list[int]] = {}  # id(storage) -> [version, epoch of its last write]
_viewed: dict[int, weakref.ref] = {}  # id(storage) -> weak reference to it
_viewed_limit = [1024]  # purge dead entries when the dict grows past this


def bump(arr: Any) -> None:
    """Record an in-place write to ``arr``'s storage."""
    st = _device.storage(arr)
    key = id(st)
    epoch[0] += 1
    entry = _writes.get(key)
    if entry is None:
        _writes[key] = [1, epoch[0]]
        try:
            weakref.finalize(st, _writes.pop, key, None)  # forget it with the storage
        except TypeError:  # not weak-referenceable: the entry stays (a few bytes)
            pass
    else:
        entry[0] += 1
        entry[1] = epoch[0]


def version(arr: Any) -> int:
    """How many in-place writes ``arr``'s storage has had (``Tensor._version``)."""
    entry = _writes.get(id(_device.storage(arr)))
    return entry[0] if entry is not None else 0


def written_since(arr: Any, when: int) -> bool:
    """Whether ``arr``'s storage was written in place after the write count was ``when``."""
    entry = _writes.get(id(_device.storage(arr)))
    return entry is not None and entry[1] > when


def note_views(inputs: list[Any], outputs: list[Any]) -> None:
    """Remember the storage a recorded op's output array shares with one of its input arrays
    (``inputs`` may hold None for arguments that are not tensors)."""
    for a in outputs:
        # an array that owns its memory (what most kernels return) shares it only by being an
        # input itself; only views need their storage looked up
        st = a if type(a) is np.ndarray and a.base is None else _device.storage(a)
        for x in inputs:
            if x is None:
                continue
            if (x is a) if st is a else (_device.storage(x) is st):
                _viewed[id(st)] = weakref.ref(st)
                if len(_viewed) > _viewed_limit[0]:
                    _purge_views()
                return


def _purge_views() -> None:
    for key in [k for k, ref in _viewed.items() if ref() is None]:
        del _viewed[key]
    _viewed_limit[0] = max(1024, 2 * len(_viewed))


def is_graph_view(arr: Any) -> bool:
    """Whether a recorded op made a view of (or from) ``arr``'s storage."""
    st = _device.storage(arr)
    ref = _viewed.get(id(st))
    return ref is not None and ref() is st
