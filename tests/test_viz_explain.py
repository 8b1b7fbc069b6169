"""minigrad.explain (narrated backward) and minigrad.viz (DOT graphs), on a small CNN."""

from __future__ import annotations

import io
import re
import shutil
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import Function
from minigrad.explain import RULES, explain, graph_nodes, local_rule, op_name
from minigrad.viz import GraphvizNotFoundError, render, to_dot


def small_cnn(seed: int = 0):
    """conv -> relu -> max pool -> flatten -> linear -> cross-entropy, float64 leaves."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((2, 1, 6, 6)))
    w = mg.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(3), requires_grad=True)
    fc = mg.tensor(rng.standard_normal((3 * 2 * 2, 4)), requires_grad=True)
    target = mg.tensor(np.array([1, 3]))

    def loss():
        h = F.max_pool2d(F.relu(F.conv2d(x, w, b)), 2)      # (2, 3, 2, 2)
        return F.cross_entropy(h.flatten(1) @ fc, target)

    return loss, {"w": w, "b": b, "fc": fc}


def steps_of(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^step \d+/\d+  (\S+)", text, re.M)]


def test_explain_names_every_op_in_reverse_order_and_matches_backward():
    loss_fn, params = small_cnn()
    loss = loss_fn()
    expected = [op_name(n) for n in reversed(graph_nodes(loss))]
    kinds = {type(n).display_name() for n in graph_nodes(loss)}
    assert {"Conv2d", "Activation", "MaxPool2d", "MatMul"} <= kinds
    buf = io.StringIO()
    explain(loss, file=buf, params=params)
    text = buf.getvalue()
    assert steps_of(text) == expected
    assert len(expected) >= 6
    explained = {k: p.grad.numpy().copy() for k, p in params.items()}

    for p in params.values():
        p.grad = None
    loss_fn().backward()
    for k, p in params.items():
        np.testing.assert_array_equal(explained[k], p.grad.numpy())


def test_explain_states_the_local_rules_in_words():
    loss_fn, params = small_cnn()
    buf = io.StringIO()
    explain(loss_fn(), file=buf, params=params)
    text = buf.getvalue()
    lines = text.splitlines()

    def rule_of(op: str) -> str:
        i = next(k for k, line in enumerate(lines) if re.match(rf"step \d+/\d+  {op}", line))
        return lines[i + 1]

    assert "180" in rule_of("Conv2d")
    assert "mask of max positions" in rule_of("MaxPool2d")
    assert "positive" in rule_of(re.escape("Activation(relu)"))
    assert "dA = dY @ B^T" in rule_of("MatMul")
    for name in ("w (3, 1, 3, 3)", "b (3,)", "fc (12, 4)"):
        assert name in text                      # leaves listed by name with their grads


def test_explain_notes_broadcast_sums():
    a = mg.tensor(np.ones((4, 3)), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    buf = io.StringIO()
    explain((a * b).sum(), file=buf)
    assert "summed back to (3,)" in buf.getvalue()
    np.testing.assert_array_equal(b.grad.numpy(), np.full(3, 4.0))


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_user_function_is_named_with_a_user_defined_rule():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    buf = io.StringIO()
    explain(Cube.apply(x).sum(), file=buf)
    text = buf.getvalue()
    assert steps_of(text) == ["Sum", "Cube"]
    assert "user-defined rule" in text
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_backward_explain_flag_prints_and_accumulates(capsys):
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward(explain=True)
    out = capsys.readouterr().out
    assert steps_of(out) == ["Sum", "Mul"]
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])


def test_explain_follows_backward_semantics():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match="scalar"):
        explain(y, file=io.StringIO())
    explain(y, gradient=mg.tensor([1.0, 1.0]), file=io.StringIO())
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(mg.tensor([1.0, 1.0]))                 # buffers freed, as after backward()
    z = (x * x).sum()
    explain(z, retain_graph=True, file=io.StringIO())
    z.backward()                                          # retained: a second pass works
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 4.0, 3.0 + 8.0])
    x.grad = None
    explain((x**3).sum(), create_graph=True, file=io.StringIO())
    assert x.grad.requires_grad                           # differentiable gradient


def test_default_file_is_stdout_at_call_time(capsys):
    x = mg.tensor([1.0], requires_grad=True)
    explain((x * 2).sum())
    assert "rule:" in capsys.readouterr().out


def _function_classes() -> list[type]:
    import minigrad.nn.functional  # noqa: F401  (imports every op module)

    seen, stack = [], list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    # a private base other Functions derive from (_FusedNormFn) is shared code, not an op
    return [c for c in seen if c.__module__.startswith("minigrad.")
            and not (c.__name__.startswith("_") and c.__subclasses__())]


def test_every_builtin_op_has_a_rule_in_words():
    missing = [f"{c.__module__}.{c.__name__}" for c in _function_classes()
               if c.display_name() not in RULES]
    assert not missing, f"add these ops to minigrad.explain.RULES: {missing}"
    assert local_rule(Cube).startswith("user-defined rule")


# ---------------------------------------------------------------------------------------------
# viz


def test_to_dot_small_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w * 2.0).sum()
    dot = to_dot(y, params={"x": x, "w": w})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    # Mul(x, w), Mul(., const 2), Sum, output; edges: x, w -> Mul; Mul, const -> Mul; -> Sum; -> out
    assert dot.count("->") == 6
    for label in ('"x\\n(2,)"', '"w\\n(2,)"', '"Mul\\n(2,)"', '"Sum\\n()"', '"const ()"'):
        assert label in dot
    y.backward()
    assert to_dot(y).count("->") == 6                    # structure survives freed buffers


def test_to_dot_cnn_names_every_op():
    loss_fn, params = small_cnn()
    loss = loss_fn()
    dot = to_dot(loss, params=params)
    for node in graph_nodes(loss):
        assert f'"{op_name(node)}\\n' in dot
    assert '"w\\n(3, 1, 3, 3)"' in dot
    assert "Activation(relu)" in dot


def test_to_dot_of_a_leaf():
    x = mg.tensor([1.0])
    dot = to_dot(x)
    assert "->" not in dot and "(1,)" in dot


def test_render_without_graphviz_raises_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "graphviz", None)    # `import graphviz` fails
    x = mg.tensor([1.0], requires_grad=True)
    target = tmp_path / "g.png"
    with pytest.raises(GraphvizNotFoundError, match="dot"):
        render((x * 2).sum(), target)
    assert not target.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_png(tmp_path):
    x = mg.tensor([1.0], requires_grad=True)
    path = render((x * 2).sum(), tmp_path / "g.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
