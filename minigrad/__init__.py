"""minigrad: a small reverse-mode autodiff engine with Numba CPU kernels.

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

# _threading comes first: importing it makes TBB loadable and sets Numba's threading-layer
# priority before any kernel can run (see that module for why).
import minigrad._threading  # noqa: F401
from minigrad import _hints, autograd, cuda, data, distributed, nn, optim, random, testing, viz
from minigrad._device import device
from minigrad.autograd import (
    Function,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from minigrad.explain import explain  # the function; the module stays importable
from minigrad.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sign,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from minigrad.ops.linalg import matmul
from minigrad.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    std,
    sum,
    sum_to,
    var,
)
from minigrad.ops.shape import (
    broadcast_to,
    cat,
    clone,
    concatenate,
    expand,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from minigrad.random import manual_seed
from minigrad.serialization import load, save
from minigrad.tensor import (
    Tensor,
    arange,
    as_tensor,
    bool_,
    eye,
    float32,
    float64,
    from_numpy,
    full,
    int32,
    int64,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)

# issue 15, sequence models (h15b)
from minigrad.ops.rnn import unbind  # noqa: E402  # isort: skip

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "arange", "eye",
    "rand", "randn", "zeros_like", "ones_like", "float32", "float64", "int32", "int64", "bool_",
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad",
    "inference_mode", "is_inference_mode_enabled",
    "manual_seed", "autograd", "cuda", "data", "device", "distributed", "nn", "optim", "random",
    "testing", "viz", "explain", "save", "load",
    "abs", "add", "clamp", "clip", "cos", "div", "exp", "log", "maximum", "minimum", "mul", "neg",
    "pow", "sign", "sin", "sqrt", "sub", "tanh", "where", "matmul",
    "amax", "amin", "argmax", "argmin", "logsumexp", "max", "mean", "min", "std", "sum", "sum_to",
    "var",
    "broadcast_to", "cat", "clone", "concatenate", "expand", "flatten", "pad", "permute", "reshape",
    "split", "squeeze", "stack", "swapaxes", "transpose", "unsqueeze",
    # issue 15, sequence models (h15b)
    "unbind",
]

# An unknown attribute whose PyTorch name we know gets a hint (`mg.float` -> use `mg.float32`).
__getattr__ = _hints.module_getattr(__name__)
