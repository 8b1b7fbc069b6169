"""Run backward and narrate it: each step's op, shapes, and its local gradient rule in words.

    >>> import minigrad as mg
    >>> a = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> b = mg.tensor([3.0, 4.0], requires_grad=True)
    >>> mg.explain((a * b).sum(), params={"a": a, "b": b})  # doctest: +SKIP
    backward from a tensor of shape () through 2 ops, output first:
    step 1/2  Sum   (2,) -> ()
              rule: dX = dY copied to every summed element (d(sum x)/dx_i = 1)
    ...

This is the real backward (the engine's ``on_node`` hook reports each node as it is processed),
so the gradients it leaves in ``.grad`` are exactly those of ``tensor.backward()``.
``tensor.backward(explain=True)`` calls :func:`explain`, and ``minigrad.explain`` is this function
(import the module's other names with ``from minigrad.explain import RULES, local_rule``).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Mapping
from typing import Any, TextIO

import numpy as np

from minigrad import _device, autograd
from minigrad import tensor as _tensor_module
from minigrad.autograd import Function, graph
from minigrad.ops.kernels.scalar import ACTIVATIONS
from minigrad.tensor import Tensor

__all__ = ["explain", "local_rule", "op_name", "graph_nodes", "RULES"]

#: The local gradient rule of each built-in op, keyed by its Function's display name (the class
#: name without its ``Fn`` suffix: ``Conv2dFn`` -> ``Conv2d``). dY is the gradient arriving at the
#: op's output, dX (dA, dB, dW, db...) what the rule sends to each input.
#:
#: :meta hide-value:
RULES: dict[str, str] = {
    # elementwise arithmetic
    "Add": "d(a+b)/da = 1, d/db = 1: dY passes unchanged to both inputs",
    "Sub": "d(a-b)/da = 1, d/db = -1: dA = dY, dB = -dY",
    "Mul": "d(a*b)/da = b, d/db = a: dA = dY*b, dB = dY*a",
    "Div": "d(a/b)/da = 1/b, d/db = -a/b^2",
    "Neg": "d(-x)/dx = -1: dX = -dY",
    "Pow": "d(a^b)/da = b*a^(b-1) (0 where b = 0), d/db = a^b*log(a) (0 where a = 0, b >= 0)",
    "PowScalar": "d(x^p)/dx = p*x^(p-1)",
    "Exp": "d(e^x)/dx = e^x: dX = dY*out",
    "Log": "d(log x)/dx = 1/x: dX = dY/x",
    "Sqrt": "d(sqrt x)/dx = 1/(2 sqrt x): dX = dY/(2*out)",
    "Abs": "d|x|/dx = sign(x) (0 at x = 0)",
    "Sin": "d(sin x)/dx = cos x",
    "Cos": "d(cos x)/dx = -sin x",
    "Clip": "dX = dY where lo <= x <= hi, 0 where x was clipped",
    "Maximum": "dY goes to the larger input (split in half at ties)",
    "Minimum": "dY goes to the smaller input (split in half at ties)",
    "Where": "dY goes to a where the condition holds, to b elsewhere",
    "Cast": "dX = dY cast back to the input's dtype",
    "ToDevice": "dX = dY copied back to the input's device (cpu <-> cuda)",
    # linear algebra
    "MatMul": "d(A@B): dA = dY @ B^T, dB = A^T @ dY",
    "Linear": "d(X@W^T + b): dX = dY @ W, dW = dY^T @ X, db = dY summed over the rows",
    # reductions
    "Sum": "d(sum x)/dx_i = 1: dX = dY copied to every summed element",
    "SumTo": "dX = dY broadcast back over the summed axes",
    "MaxMin": "dY goes to the position of the max (min); ties share it equally",
    "MaxMinDim": "max(x, dim): dY goes to the index returned (the first max or min along dim)",
    "LogSumExp": "d(logsumexp x)/dx = softmax(x): dX = dY*softmax(x)",
    # shape
    "Reshape": "dX = dY reshaped back to the input's shape",
    "Permute": "dX = dY with the axes permuted back (inverse permutation)",
    "Expand": "broadcast copies one value many times: dX = dY summed over the broadcast axes",
    "GetItem": "dX = zeros with dY added at the indexed positions",
    "IndexAdd": "dG = dY read at the indexed positions (the adjoint of scatter-add is gather)",
    "Cat": "dY is split back into the pieces that were concatenated",
    "Pad": "dX = dY with the padding cropped away",
    "Clone": "a copy: dX = dY",
    # convolution
    "Conv2d": "dX = full convolution of dY with the kernel rotated by 180 degrees "
              "(a transposed convolution); dW = correlation of X with dY; db = sum of dY "
              "over batch and positions",
    "ConvTranspose2d": "the adjoint of conv2d: dG = conv2d of dY with the same kernel; "
                       "dW = correlation of dY with G",
    "Conv2dWeightGrad": "the weight-gradient op of conv2d: its gradients are a transposed "
                        "convolution (for X) and a convolution (for dY)",
    # fused layer + ReLU (minigrad.ops.fused)
    "Conv2dRelu": "relu's mask from the output folded into dY first: dZ = dY where y > 0, "
                  "else 0; then conv2d's rule on dZ (dX = transposed convolution of dZ, "
                  "dW = correlation of X with dZ, db = sum of dZ)",
    "Conv2dReluMaxPool2d": "the pooled dY masked by relu' of the pooled value, added at each "
                           "window's argmax (dZ, zero elsewhere); then conv2d's rule on dZ",
    "LinearRelu": "relu's mask from the output folded into dY first: dZ = dY where y > 0, "
                  "else 0; then dX = dZ @ W, dW = dZ^T @ X, db = sum of dZ over the rows",
    # pooling
    "MaxPool2d": "route dY through the mask of max positions: each window's dY goes to the "
                 "input that was the max, the others get 0",
    "AvgPool2d": "each window's dY is spread evenly over its k*k inputs (dY / k^2 each)",
    "AdaptiveAvgPool2d": "each output's dY is spread evenly over the inputs of its window",
    "PlaneScatter": "the adjoint of a scatter-add is a gather: dSrc = dY read at the indices",
    "PlaneGather": "the adjoint of a gather is a scatter-add: dSrc = dY added at the indices",
    "AvgPool2dGrad": "linear in dY; its adjoint is average pooling again",
    "AdaptiveAvgPool2dGrad": "linear in dY; its adjoint is adaptive average pooling again",
    # upsampling and dense prediction
    "AdaptiveMaxPool2d": "route dY through the mask of max positions: each adaptive window's dY "
                         "goes to the input that was its max",
    "Interpolate": "linear: each output read one input (nearest) or blended two with weights "
                   "w0, w1; dX = dY added back to those inputs with the same weights",
    "InterpolateGrad": "linear in dY (a scatter-add); its adjoint is the interpolation again",
    "Unfold": "im2col copies pixels into columns: dX = col2im(dY), each column entry added "
              "back onto its pixel (fold)",
    "Fold": "col2im adds columns onto pixels: dCols = im2col(dY) (unfold), each entry reads "
            "its pixel's gradient",
    # activations: one Function class, one kernel per name; the rules sit beside the scalar
    # functions (kernels/scalar.py)
    **{f"Activation[{name}]": act.explain for name, act in ACTIVATIONS.items()},
    "Activation": "dX = dY * f'(x) for the activation f",
    "ActivationGrad": "the activation's backward g*f'(x): d/dg = f'(x), d/dx = g*f''(x)",
    "ActivationOutputGrad": "sigmoid/tanh backward from the output y: g*y(1-y) or g*(1-y^2); "
                            "d/dg = f'(y), d/dy = g*(1-2y) or g*(-2y)",
    # softmax and losses
    "Softmax": "dX = out * (dY - sum(dY*out)) (the softmax Jacobian times dY)",
    "SoftmaxGrad": "linear and symmetric in dY, so its adjoint is itself; d/d(out) by the "
                       "product rule",
    "LogSoftmax": "dX = dY - softmax(x) * sum(dY)",
    "LogSoftmaxGrad": "dG = dY - softmax * sum(dY); d/d(out) by the product rule",
    "CrossEntropy": "d(loss)/d(logits) = (softmax(logits) - onehot(target)) / N "
                    "(class weights and label smoothing reshape the one-hot)",
    "BinaryCrossEntropy": "d/dp = (p - t) / (p(1 - p)) (denominator floored at 1e-12); "
                          "d/dt = log(1 - p) - log p",
    "CrossEntropyGrad": "the cross-entropy's backward, (softmax - onehot) * g, differentiated "
                        "again through softmax",
    # normalization
    "BatchNormTrain": "with x_hat = (x - mean) * invstd: dX = w * invstd * (dY - mean(dY) - "
                      "x_hat * mean(dY * x_hat)); dW = sum(dY * x_hat); db = sum(dY)",
    "SyncBatchNormTrain": "BatchNormTrain's rule with mean(dY) and mean(dY * x_hat) over every "
                          "rank's batch (one all-reduce of the two sums); dW, db local",
    "LayerNorm": "per row, with x_hat = (x - mean) * rstd and dH = dY * w: dX = rstd * (dH - "
                 "mean(dH) - x_hat * mean(dH * x_hat)); dW = sum over rows of dY * x_hat; "
                 "db = sum over rows of dY",
    "GroupNorm": "LayerNorm's rule on each sample's group of channels (w, b per channel): "
                 "dW[c], db[c] summed over samples and positions",
    "GatherRows": "rows looked up (an embedding): dW = zeros with each row of dY added at its "
                  "index (repeated indices accumulate; padding entries add nothing)",
    "ScatterAddRows": "rows added at indices (an embedding's gradient, a bag's sum): dG = dY read "
                      "at the indices (the adjoint of scatter-add is gather)",
    "BackwardHook": "identity (a module's full backward hooks see the gradients here): dX = dY, "
                    "or what a hook returns",
    # collectives (minigrad.distributed)
    "AllGather": "y_r = x of rank r: dX = sum over ranks of dY_(this rank) (a reduce-scatter), "
                 "or this rank's own with sum_grads=False",
    "AllGatherGrad": "a reduce-scatter, y = sum over ranks of g_(this rank): dG_r = dY of rank r "
                     "(an all-gather)",
    "AllReduceSum": "y = sum over ranks of x: dX = sum over ranks of dY (an all-reduce)",
    # issue 14 (h14a): elementwise maths (ops/math.py), integer ops (ops/bitwise.py), activations
    "Tan": "d(tan x)/dx = 1 + tan(x)^2: dX = dY*(1 + out^2)",
    "Asin": "d(asin x)/dx = 1/sqrt(1 - x^2)",
    "Acos": "d(acos x)/dx = -1/sqrt(1 - x^2)",
    "Atan": "d(atan x)/dx = 1/(1 + x^2)",
    "Sinh": "d(sinh x)/dx = cosh x",
    "Cosh": "d(cosh x)/dx = sinh x",
    "Asinh": "d(asinh x)/dx = 1/sqrt(x^2 + 1)",
    "Acosh": "d(acosh x)/dx = 1/sqrt(x^2 - 1)",
    "Atanh": "d(atanh x)/dx = 1/(1 - x^2)",
    "Log2": "d(log2 x)/dx = 1/(x ln 2)",
    "Log10": "d(log10 x)/dx = 1/(x ln 10)",
    "Log1p": "d(log(1 + x))/dx = 1/(1 + x)",
    "Expm1": "d(e^x - 1)/dx = e^x: dX = dY*(out + 1)",
    "Exp2": "d(2^x)/dx = 2^x ln 2: dX = dY*out*ln 2",
    "Rsqrt": "d(x^-1/2)/dx = -x^(-3/2)/2: dX = -dY*out^3/2",
    "Reciprocal": "d(1/x)/dx = -1/x^2: dX = -dY*out^2",
    "Square": "d(x^2)/dx = 2x",
    "Erf": "d erf(x)/dx = 2/sqrt(pi) e^(-x^2)",
    "Erfc": "d erfc(x)/dx = -2/sqrt(pi) e^(-x^2)",
    "Erfinv": "d erfinv(y)/dy = sqrt(pi)/2 e^(erfinv(y)^2): dX = dY*sqrt(pi)/2*e^(out^2)",
    "Floor": "a step function: dX = 0 everywhere",
    "Ceil": "a step function: dX = 0 everywhere",
    "Trunc": "a step function: dX = 0 everywhere",
    "Round": "a step function: dX = 0 everywhere",
    "Frac": "d(x - trunc x)/dx = 1: dX = dY",
    "Atan2": "d atan2(a, b): dA = dY*b/(a^2 + b^2), dB = -dY*a/(a^2 + b^2)",
    "Copysign": "dA = dY*(+-1: -1 where a and b differ in sign; 0 at a = 0), dB = 0",
    "Logaddexp": "d log(e^a + e^b): dA = dY*e^(a - out), dB = dY*e^(b - out)",
    "Hypot": "d sqrt(a^2 + b^2): dA = dY*a/out, dB = dY*b/out",
    "Lerp": "d(s + w(e - s)): dS = dY*(1 - w), dE = dY*w, dW = dY*(e - s)",
    "DivRounded": "a step function of a and b (trunc or floor of a/b): dA = dB = 0",
    "Remainder": "a - b*floor(a/b): dA = dY, dB = -dY*floor(a/b)",
    "Fmod": "a - b*trunc(a/b): dA = dY, dB = -dY*trunc(a/b)",
    # scans, sorts and indexing (issue 14)
    "Cumsum": "y_i = sum of x_j for j <= i: dX = the reversed cumulative sum of dY",
    "Cumprod": "y_i = product of x_j for j <= i: dX_j = sum over i >= j of dY_i * y_i / x_j "
               "(computed without dividing by zeros)",
    "LogCumSumExp": "y_i = log sum_(j<=i) e^(x_j): dX_j = sum over i >= j of dY_i * e^(x_j - y_i)",
    "Prod": "d(prod x)/dx_i = product of the other elements (exact when some x are 0)",
    "VectorNorm": "d ||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1) (the max element for p = inf)",
    "Gather": "picks x at the indices: dX = zeros with dY added back at the same indices",
    "Scatter": "writes src at the indices: dX = dY with the overwritten places zeroed, "
               "dSrc = dY gathered at the indices",
    "Einsum": "Y[o] = sum of A[a] * B[b] over the labels o drops: dA = einsum(dY, B -> a), "
              "dB = einsum(dY, A -> b) (each operand's labels from the other two)",
    "EinsumDiagonal": "one operand's diagonal (a repeated label), summed over the labels the "
                      "output drops: dX = zeros with dY written on that diagonal",
    "EinsumDiagonalGrad": "writes dY on a diagonal of zeros: dG = the diagonal of dZ (summed as "
                          "the forward was)",
    "ScatterAdd": "adds src at the indices: dX = dY, dSrc = dY gathered at the indices",
    "ScatterReduce": "reduces src into x at the indices: dY goes to the elements that made each "
                     "result (split evenly at ties for amax/amin, divided by the count for mean)",
    "IndexSelect": "picks slices along dim: dX = zeros with dY's slices added at the indices",
    "GetItemGrad": "the gradient of indexing (x[idx]), itself differentiable: dG = dY picked at "
                   "the same idx",
    # linear algebra (issue 14)
    "Inv": "d(A^-1) = -A^-1 dA A^-1: dA = -out^T dY out^T",
    "Det": "d det(A)/dA = det(A) A^-T: dA = dY * out * A^-T",
    "Solve": "X = A^-1 B: dB = A^-T dY, dA = -dB X^T",
    "Cholesky": "A = L L^T: dA from dY through L's triangular solves (symmetric part)",
    # attention and recurrent cells (issue 15)
    "ScaledDotProductAttention": "P = softmax(Q K^T * scale + mask), Y = P V: dV = P^T dY, "
                                 "dP = dY V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K * scale, "
                                 "dK = dS^T Q * scale",
    "LSTMCell": "gates i, f, g, o from x W_ih^T + h W_hh^T + b; c' = f c + i g, h' = o tanh(c'): "
                "each gate's gradient dG through its sigmoid/tanh; dx = dG W_ih, dh = dG W_hh, "
                "dW_ih = dG^T x, dW_hh = dG^T h, db = sum(dG)",
    "LSTM": "the LSTM step over all T steps: backward walks the steps in reverse (dh_t = "
            "dY_t + dG_{t+1} W_hh, dc_t through the forget gates), then dX = dG W_ih, dW_ih = "
            "dG^T X, dW_hh = dG^T H_prev, db = sum(dG) over the stacked steps",
    "GRU": "the GRU step over all T steps: backward walks the steps in reverse (dh_t = dY_t + "
           "z dh_{t+1} + dGh_{t+1} W_hh), then dX = dGx W_ih, dW_ih = dGx^T X, dW_hh = dGh^T "
           "H_prev, biases = sums of dGx, dGh over the stacked steps",
    "RNN": "h_t = tanh (or relu) of x_t W_ih^T + h_{t-1} W_hh^T + b over all T steps: backward "
           "walks the steps in reverse (dG_t = (dY_t + dG_{t+1} W_hh) * act'), then dX = dG "
           "W_ih, dW_ih = dG^T X, dW_hh = dG^T H_prev, db = sum(dG)",
    "GRUCell": "gates r, z, n; h' = (1 - z) n + z h: each gate's gradient through its "
               "sigmoid/tanh, then back through the products",
    "Unbind": "splits x into its slices along dim: dX = the slices' gradients stacked back",
    "PointwiseActivation": "dX = dY * f'(x) for the activation f (hardsigmoid, hardswish, "
                           "softsign, mish, tanhshrink, softshrink, hardshrink, threshold)",
}


def graph_nodes(tensor: Tensor) -> list[Function]:
    """The ops that produced ``tensor`` in forward (creation) order; backward visits them
    reversed."""
    return graph.nodes(tensor)


def op_name(op: Function) -> str:
    """The op's display name: its class, and its kernel for ops that serve several
    (``Activation(sigmoid)``)."""
    variant = _variant(op)
    return type(op).display_name() + (f"({variant})" if variant else "")


def _variant(op: Function | type[Function]) -> str | None:
    kwargs = getattr(op, "kwargs", None) if not isinstance(op, type) else None
    name = (kwargs or {}).get("name")
    return name if isinstance(name, str) else None


def local_rule(op: Function | type[Function]) -> str:
    """The local gradient rule of an op (a node or its class), in words."""
    cls = op if isinstance(op, type) else type(op)
    variant = _variant(op)
    rule = RULES.get(f"{cls.display_name()}[{variant}]") if variant else None
    rule = rule or RULES.get(cls.display_name())
    if rule is not None and cls.__module__.startswith("minigrad."):
        return rule
    if cls.__module__.startswith("minigrad."):
        return f"(no description; see {cls.__module__}.{cls.__name__}.backward)"
    return f"user-defined rule ({cls.__module__}.{cls.__name__}.backward)"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{_shape(v.shape)}"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(site: tuple[str, int]) -> str:
    path = site[0]
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:  # another drive on Windows
        pass
    return f"{path}:{site[1]}"


def _norm(g: Tensor | None) -> str:
    if g is None:
        return "-"
    return f"{float(np.linalg.norm(g.numpy().astype(np.float64))):.3g}"


def explain(
    tensor: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    file: TextIO | None = None,
    *,
    params: Mapping[str, Tensor] | None = None,
) -> None:
    """Back-propagate from ``tensor`` exactly as ``tensor.backward(...)`` and print every step.

    Each step names the op, its input and output shapes, its settings (stride, axis, ...), the
    local gradient rule in words, the norms of the gradient arriving (dY) and leaving (one per
    input), and the line of user code that created the op. Leaf gradients are listed at the end
    (named through ``params``). ``file`` defaults to ``sys.stdout`` (looked up at call time).
    """
    out = sys.stdout if file is None else file
    total = len(graph_nodes(tensor))
    names = {id(t): n for n, t in (params or {}).items()}
    leaves: dict[int, Tensor] = {}
    step = 0

    def p(text: str = "") -> None:
        print(text, file=out)

    p(f"backward from a tensor of shape {_shape(tensor.shape)} through {total} "
      f"op{'s' if total != 1 else ''}, output first:")

    def on_node(node: Function, gouts: tuple[Tensor, ...], gins: tuple[Any, ...]) -> None:
        nonlocal step
        step += 1
        ins, sent, notes = [], [], []
        inputs = node.inputs or ()
        for i, ((fn, _), meta) in enumerate(zip(node.next_functions, node.input_metadata)):
            if meta is None:  # a plain Python value, not a tensor
                continue
            t = inputs[i] if i < len(inputs) else None
            tag = " const" if fn is None else ""
            if isinstance(fn, Tensor):
                leaves[id(fn)] = fn
            if t is not None and id(t) in names:
                tag = f" {names[id(t)]}"
            ins.append(_shape(meta.shape) + tag)
            g = gins[i] if fn is not None else None
            if g is not None:
                g = g if isinstance(g, Tensor) else Tensor._make(_device.wrap(g))
                if tuple(g.shape) != tuple(meta.shape):  # the engine sums broadcast axes back
                    notes.append(f"input {i}'s dY {_shape(g.shape)} summed back to "
                                 f"{_shape(meta.shape)} (it was broadcast)")
                    g = g.sum_to(meta.shape)
            sent.append(_norm(g))
        outs = ", ".join(_shape(m.shape) for m in node.output_metadata)
        settings = ", ".join(f"{k}={_fmt_value(v)}" for k, v in (node.kwargs or {}).items()
                             if k != "name")
        head = f"step {step}/{total}  {op_name(node)}  {', '.join(ins)} -> {outs}"
        p(head + (f"   [{settings}]" if settings else ""))
        p(textwrap.fill(local_rule(node), width=100, initial_indent="          rule: ",
                        subsequent_indent="                "))
        for note in notes:
            p(f"          note: {note}")
        p(f"          |dY| = {', '.join(_norm(g) for g in gouts)}  ->  |dX| = {', '.join(sent)}")
        if node.site is not None:
            p(f"          created at {_where(node.site)}")

    if tensor.grad_fn is None:
        leaves[id(tensor)] = tensor
    autograd.backward(tensor, gradient, retain_graph, create_graph, on_node=on_node)
    for leaf in leaves.values():
        name = names.get(id(leaf), "leaf")
        p(f"{name} {_shape(leaf.shape)}: .grad norm {_norm(leaf.grad)}")


# ``Tensor.backward(explain=True)`` calls this module's ``explain``; minigrad.tensor sits below this
# module and cannot import it, so the link is made here.
_tensor_module._explain = explain
