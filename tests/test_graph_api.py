"""The public graph API (``minigrad.autograd.graph``, ``Function.next_functions``, metadata,
``backward(on_node=...)``) and the engine's layout promises."""

import inspect
import pathlib
import re

import numpy as np

import minigrad as mg
from minigrad.autograd import Function, graph
from minigrad.autograd.graph import TensorMeta

PKG = pathlib.Path(mg.__file__).parent


def _net():
    x = mg.tensor(np.ones((2, 3)))                          # a constant
    w = mg.tensor(np.full((3, 4), 0.5), requires_grad=True)
    b = mg.tensor(np.zeros(4), requires_grad=True)
    h = x @ w
    y = (h + b).tanh()
    return x, w, b, h, y, y.sum()


def test_nodes_in_creation_order_and_next_functions():
    x, w, b, h, y, loss = _net()
    nodes = graph.nodes(loss)
    assert [n.display_name() for n in nodes] == ["MatMul", "Add", "Activation", "Sum"]
    matmul, add, tanh, total = nodes
    assert matmul.next_functions == ((None, 0), (w, 0))     # constant, leaf
    assert add.next_functions == ((matmul, 0), (b, 0))      # (node, output index), leaf
    assert tanh.next_functions == ((add, 0),)
    assert graph.nodes([h, loss]) == nodes and graph.nodes(w) == []
    assert loss.grad_fn is total and h.grad_fn is matmul


def test_metadata_describes_inputs_and_outputs_and_outlives_backward():
    x, w, b, h, y, loss = _net()
    matmul = h.grad_fn
    assert matmul.input_metadata == (TensorMeta((2, 3), np.dtype(np.float64), "cpu"),
                                     TensorMeta((3, 4), np.dtype(np.float64), "cpu"))
    assert matmul.output_metadata[0].shape == (2, 4)
    assert matmul.output_metadata[0].device == mg.device("cpu")
    loss.backward()
    assert matmul.inputs is None                            # freed ...
    assert matmul.input_metadata[1].shape == (3, 4)         # ... the metadata stays
    scaled = mg.tensor(np.ones(3), requires_grad=True) * 2.0
    assert scaled.grad_fn.input_metadata[1].shape == ()    # the scalar became a 0-d constant
    assert scaled.grad_fn.next_functions[1] == (None, 0)


def test_on_node_sees_every_node_in_backward_order_with_its_gradients():
    x, w, b, h, y, loss = _net()
    seen = []

    def on_node(node, grad_outputs, grad_inputs):
        seen.append((node.display_name(), [g.shape for g in grad_outputs],
                     [None if g is None else g.shape for g in grad_inputs]))

    mg.autograd.backward(loss, on_node=on_node)
    assert [s[0] for s in seen] == ["Sum", "Activation", "Add", "MatMul"]
    assert seen[2] == ("Add", [(2, 4)], [(2, 4), (2, 4)])  # as returned: b's not yet summed
    assert b.grad.shape == (4,)                              # the engine sums it back
    np.testing.assert_allclose(b.grad.numpy(), (1 - y.numpy() ** 2).sum(0))


def test_site_is_the_user_line_that_created_the_node():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    lin = mg.nn.Linear(2, 3)
    z = lin(y)                                               # through nn.Module and F.linear
    here = inspect.currentframe().f_lineno
    assert y.grad_fn.site == (__file__, here - 3)
    assert z.grad_fn.site == (__file__, here - 1)
    assert all(n.site[0] == __file__ for n in graph.nodes(z))


def test_the_backward_loop_fits_on_one_screen():
    from minigrad.autograd import engine

    assert len(inspect.getsource(engine.run_backward).splitlines()) <= 60


def test_tools_use_only_the_public_graph_api():
    private = re.compile(r"\._(edges|in_meta|out_meta|run|topo_order|root_grads|fit_gradient)\b")
    for rel in ("explain.py", "viz.py", "testing/gradcheck.py"):
        text = (PKG / rel).read_text()
        assert not private.search(text), f"{rel} reaches into the engine's private fields"
        assert "_root_grads" not in text and "_topo_order" not in text


def test_the_engine_names_no_array_type():
    for path in (PKG / "autograd").glob("*.py"):
        text = path.read_text()
        assert "CudaArray" not in text and "minigrad.cuda" not in text, path.name
        assert "isinstance(item, np.ndarray)" not in text, path.name


class _Twice(Function):
    @staticmethod
    def forward(ctx, x):
        return x.data * 2, x.data * 3

    @staticmethod
    def backward(ctx, ga, gb):
        return ga * 2 + gb * 3


def test_multi_output_next_functions_name_the_output_index():
    x = mg.tensor([1.0], requires_grad=True)
    a, b = _Twice.apply(x)
    node = (b * 1).grad_fn
    assert node.next_functions[0] == (a.grad_fn, 1)
    assert len(a.grad_fn.output_metadata) == 2


def test_backward_runs_the_newest_node_first():
    """PyTorch's order (by sequence number): the side branch ``w.T``, created after ``x * 2``,
    runs right after the matmul that uses it, so ``w``'s gradient is complete before the earlier
    ops' backward (a depth-first order ran it last)."""
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones((4, 3)), requires_grad=True)
    h = x * 2
    y = (h @ w.T).sum()
    nodes = graph.nodes(y)
    assert [n.display_name() for n in nodes] == ["Mul", "Permute", "MatMul", "Sum"]
    assert [n.sequence_nr for n in nodes] == sorted(n.sequence_nr for n in nodes)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append("w ready"))
    mg.autograd.backward(y, on_node=lambda node, go, gi: seen.append(node.display_name()))
    assert seen == ["Sum", "MatMul", "Permute", "w ready", "Mul"]
