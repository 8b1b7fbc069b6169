"""01. Autodiff by hand: one small graph, its backward pass step by step, checked three ways.

    python examples/01_autodiff_by_hand.py [--fast] [--out-dir DIR]

A one-layer network on a batch of 4 inputs, L = sum(tanh(x @ W + b)^2), is recorded as a graph
of five ops. We print the graph in topological order with each op's output shape and local
gradient rule, let minigrad.explain narrate the real backward pass, redo the same chain rule by
hand in NumPy, and compare both with central finite differences. The graph is written as DOT
text (and drawn when Graphviz is installed).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

import numpy as np
from _common import claim, max_abs_diff, parse_args, say, show, title

import minigrad as mg
from minigrad.explain import explain, graph_nodes, local_rule, op_name
from minigrad.testing import gradcheck
from minigrad.viz import GraphvizNotFoundError, render, to_dot


def forward(x: mg.Tensor, W: mg.Tensor, b: mg.Tensor) -> mg.Tensor:
    """x: (N, 3), W: (3, 2), b: (2,) -> scalar loss."""
    h = (x @ W + b).tanh()
    return (h**2).sum()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    rng = np.random.default_rng(args.seed)
    x_np = rng.standard_normal((4, 3))
    W_np = rng.standard_normal((3, 2)) * 0.5
    b_np = rng.standard_normal(2) * 0.1

    title("1. The graph")
    say("""Every op applied to a tensor that requires grad is recorded as a node that remembers
        its inputs. Reading the nodes in topological order (each after the ops that feed it) is
        the forward pass; backward walks the same list in reverse.""")
    x = mg.tensor(x_np)  # data: no gradient wanted
    W = mg.tensor(W_np, requires_grad=True)
    b = mg.tensor(b_np, requires_grad=True)
    L = forward(x, W, b)
    nodes = graph_nodes(L)
    for k, node in enumerate(nodes, 1):
        shape = node.output_metadata[0].shape
        print(f"  {k}. {op_name(node):<16} -> {str(shape):<8} {local_rule(node)}")
    names = [op_name(n) for n in nodes]
    claim(names == ["MatMul", "Add", "Activation(tanh)", "PowScalar", "Sum"],
          "L = sum(tanh(x @ W + b)^2) is recorded as MatMul, Add, Activation(tanh), PowScalar, "
          "Sum")

    dot = to_dot(L, params={"x": x, "W": W, "b": b})
    dot_path = args.out_dir / "01_graph.dot"
    dot_path.write_text(dot)
    try:
        render(L, args.out_dir / "01_graph.png", params={"x": x, "W": W, "b": b})
        print(f"  wrote {args.out_dir / '01_graph.png'}")
    except GraphvizNotFoundError:
        print(f"  wrote {dot_path} (Graphviz's `dot` is not installed, so no PNG: "
              f"`dot -Tpng {dot_path.name} -o graph.png` draws it)")

    title("2. Backward, narrated")
    say("""explain() runs the real backward pass and prints every step as the engine takes it:
        the op, its shapes, its local rule, and the size of the gradient coming in (dY) and
        going out to each input (dX).""")
    buf = io.StringIO()
    explain(L, retain_graph=True, file=buf, params={"x": x, "W": W, "b": b})
    sys.stdout.write(buf.getvalue())
    steps = [line.split()[2] for line in buf.getvalue().splitlines() if line.startswith("step ")]
    claim(steps == names[::-1], "backward visits the ops in reverse topological order")
    gW, gb = W.grad.numpy().copy(), b.grad.numpy().copy()

    title("3. The same chain rule by hand")
    say("""Walk the list backwards, multiplying each incoming gradient by the op's local
        derivative: dL/dh = 2h; dL/dz = dL/dh * (1 - h^2); then z = xW + b gives
        dW = x^T dz and db = dz summed over the batch (b was broadcast over it).""")
    z = x_np @ W_np + b_np
    h = np.tanh(z)
    dh = 2 * h                    # PowScalar: d(h^2)/dh, times dL/dL = 1 from Sum
    dz = dh * (1 - h**2)          # Tanh
    dW = x_np.T @ dz              # MatMul, right input
    db = dz.sum(axis=0)           # Add with a broadcast b: summed back over the batch axis
    show("dW by hand:", np.round(dW, 5))
    print(f"  db by hand: {np.array2string(db, precision=5)}")
    claim(max_abs_diff(dW, gW) < 1e-12 and max_abs_diff(db, gb) < 1e-12,
          "backward() equals the hand-derived dW and db (to 1e-12 in float64)")

    title("4. Finite differences")
    say("""Finally, nudge every parameter by +-eps and watch the loss:
        (L(w + eps) - L(w - eps)) / 2eps. gradcheck compares that with backward() for every
        element, in float64.""")
    ok = gradcheck(lambda W, b: forward(x, W, b), [W.detach().requires_grad_(),
                                                   b.detach().requires_grad_()])
    claim(ok, "gradcheck: analytic gradients match central finite differences")
    eps = 1e-6
    Wp, Wm = W_np.copy(), W_np.copy()
    Wp[0, 1] += eps
    Wm[0, 1] -= eps
    num = (forward(x, mg.tensor(Wp), b).item() - forward(x, mg.tensor(Wm), b).item()) / (2 * eps)
    print(f"  dL/dW[0,1]: backward {gW[0, 1]:.8f}, finite difference {num:.8f}")
    claim(abs(num - gW[0, 1]) < 1e-6, "one element by hand agrees too")


if __name__ == "__main__":
    main()
