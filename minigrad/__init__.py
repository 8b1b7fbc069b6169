"""minigrad: a small reverse-mode autodiff engine with Numba CPU kernels.

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

# These two come first. _malloc: glibc keeps freed array buffers for the next step instead of
# unmapping them; _threading: makes TBB loadable and sets Numba's threading-layer priority before
# any kernel can run (see each module for why).
import minigrad._malloc  # noqa: F401
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

# isort: split
# -- issue 14 (h14a): elementwise maths, integer and bitwise ops, creation, type promotion --
# -- issue 14 (h14b): reductions, scans, sorting, selection and scatter, shape, products ------
from minigrad import linalg
from minigrad.ops._args import AxisError
from minigrad.ops.bitwise import (
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    floor_divide,
    fmod,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    remainder,
)
from minigrad.ops.creation import (
    bernoulli,
    empty,
    empty_like,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    rand_like,
    randint,
    randn_like,
    randperm,
    tril_indices,
    triu_indices,
)
from minigrad.ops.einsum import einsum, tensordot
from minigrad.ops.elementwise import promote_types, result_type
from minigrad.ops.index import (
    argwhere,
    bincount,
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    scatter_reduce,
    take_along_dim,
    unique,
)
from minigrad.ops.linalg import addmm, baddbmm, bmm, dot, ger, kron, mm, mv, outer
from minigrad.ops.math import (
    acos,
    acosh,
    allclose,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    copysign,
    cosh,
    erf,
    erfc,
    erfinv,
    exp2,
    expm1,
    fix,
    floor,
    frac,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    lerp,
    log1p,
    log2,
    log10,
    logaddexp,
    reciprocal,
    round,
    rsqrt,
    signbit,
    sinh,
    square,
    tan,
    trunc,
)
from minigrad.ops.reduce import (
    all,
    any,
    count_nonzero,
    norm,
    prod,
    std_mean,
    var_mean,
)
from minigrad.ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from minigrad.ops.shape import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_tensors,
    chunk,
    diag,
    diag_embed,
    diagonal,
    flip,
    fliplr,
    flipud,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    repeat_interleave,
    roll,
    rot90,
    tile,
    trace,
    tril,
    triu,
    unbind,
    unflatten,
)
from minigrad.ops.sort import argsort, kthvalue, median, mode, sort, topk

# -- end of issue 14 (h14b) --------------------------------------------------------------------

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
    # issue 14 (h14a): elementwise maths, integer and bitwise ops, creation, type promotion
    "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin",
    "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "log2", "log10", "log1p",
    "expm1", "exp2", "rsqrt", "reciprocal", "square", "erf", "erfc", "erfinv", "floor", "ceil",
    "trunc", "fix", "round", "frac", "copysign", "logaddexp", "lerp", "hypot", "isinf", "isnan",
    "isfinite", "isclose", "allclose", "signbit",
    "floor_divide", "remainder", "fmod", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "logical_and", "logical_or",
    "logical_xor", "logical_not",
    "empty", "empty_like", "full_like", "linspace", "logspace", "randint", "rand_like",
    "randn_like", "randperm", "normal", "bernoulli", "multinomial", "tril_indices",
    "triu_indices", "result_type", "promote_types",
]

__all__ += [  # issue 14 (h14b)
    "AxisError", "linalg", "einsum", "tensordot", "argwhere", "bincount", "gather", "index_add",
    "index_select", "masked_fill", "masked_select", "nonzero", "scatter", "scatter_add",
    "scatter_reduce", "take_along_dim", "unique", "addmm", "baddbmm", "bmm", "dot", "ger", "kron",
    "mm", "mv", "outer", "all", "any", "count_nonzero", "norm", "prod", "std_mean", "var_mean",
    "cummax", "cummin", "cumprod", "cumsum", "logcumsumexp", "atleast_1d", "atleast_2d",
    "atleast_3d", "broadcast_tensors", "chunk", "diag", "diag_embed", "diagonal", "flip", "fliplr",
    "flipud", "meshgrid", "moveaxis", "movedim", "narrow", "repeat_interleave", "roll", "rot90",
    "tile", "trace", "tril", "triu", "unbind", "unflatten", "argsort", "kthvalue", "median",
    "mode", "sort", "topk",
]

# An unknown attribute whose PyTorch name we know gets a hint (`mg.float` -> use `mg.float32`).
__getattr__ = _hints.module_getattr(__name__)
