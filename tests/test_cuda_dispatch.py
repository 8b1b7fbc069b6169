"""One dispatch: ``kernels_for(array)`` picks the CPU or CUDA kernel package, the two packages
export the same functions with the same signatures, and no Function in ``minigrad/ops`` asks
which device it is on."""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np
import pytest

import minigrad.cuda as mcuda
import minigrad.ops
from minigrad.autograd import Function
from minigrad.ops.kernels import api, cpu, kernels_for


def test_kernels_for_a_host_array_is_the_cpu_package():
    assert kernels_for(np.ones(3)) is cpu
    assert kernels_for(np.float32(1.0)) is cpu


@pytest.mark.cuda
def test_kernels_for_a_gpu_array_is_the_cuda_package():
    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    from minigrad.cuda import array as ca
    from minigrad.ops.kernels import cuda

    assert kernels_for(ca.from_host(np.ones(3))) is cuda


def _parameters(fn) -> list[tuple[str, object, object]]:
    """(name, kind, default) of every parameter: annotations differ (np.ndarray vs Any)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("family", sorted(api.FAMILIES))
def test_both_backends_export_the_family_with_the_same_signatures(family):
    c = importlib.import_module(f"minigrad.ops.kernels.cpu.{family}")
    g = importlib.import_module(f"minigrad.ops.kernels.cuda.{family}")
    for name in api.FAMILIES[family]:
        assert name in c.__all__ and name in g.__all__, f"{family}.{name} not exported"
        fc, fg = getattr(c, name), getattr(g, name)
        if callable(fc):
            assert _parameters(fc) == _parameters(fg), f"{family}.{name}: signatures differ"
        else:
            assert fc is fg or fc == fg, f"{family}.{name}: values differ"


def _functions() -> list[type[Function]]:
    found = []
    for info in (m for m in vars(minigrad.ops).values() if inspect.ismodule(m)):
        for obj in vars(info).values():
            if (inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function
                    and obj.__module__ == info.__name__):
                found.append(obj)
    return found


DEVICE_WORDS = re.compile(r"is_cuda|CudaArray|kernels\.cuda|kernels\.cpu|device_of")


def test_no_function_in_ops_branches_on_the_device():
    functions = _functions()
    assert len(functions) > 20  # the scan sees the op modules
    for fn in functions:
        if fn.__module__ == "minigrad.ops.to_device":
            continue  # ToDevice: moving a tensor between devices is its job
        for method in ("forward", "backward"):
            source = inspect.getsource(getattr(fn, method))
            assert not DEVICE_WORDS.search(source), f"{fn.__name__}.{method} asks for a device"
