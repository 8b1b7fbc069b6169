"""Module conveniences against PyTorch: full backward hooks (grad_input / grad_output, replacing
them), forward (pre-)hooks with kwargs and prepend, named_modules with memo and prefix,
requires_grad_ for freezing, ParameterList / ParameterDict, parameters_to_vector /
vector_to_parameters and weight_norm."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.nn.utils import (
    parameters_to_vector,
    remove_weight_norm,
    vector_to_parameters,
    weight_norm,
)

RNG = np.random.default_rng(0)


def _torch():
    return pytest.importorskip("torch")


def _np(v):
    if v is None:
        return None
    return v.detach().numpy() if hasattr(v, "detach") else v.numpy()


def _same_grads(ours, theirs, tol=1e-12):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None), (a, b)
        if a is not None:
            np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def _pair_linear(torch):
    ours = nn.Linear(3, 2).double()
    theirs = torch.nn.Linear(3, 2).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


# -- full backward hooks -----------------------------------------------------------------------


def test_full_backward_hook_sees_what_torch_sees():
    torch = _torch()
    ours, theirs = _pair_linear(torch)
    got, want = [], []
    ours.register_full_backward_hook(lambda m, gi, go: got.append((gi, go)))
    theirs.register_full_backward_hook(lambda m, gi, go: want.append((gi, go)))
    x = RNG.standard_normal((4, 3))
    g = RNG.standard_normal((4, 2))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xm) * mg.tensor(g)).sum().backward()
    (theirs(xt) * torch.tensor(g)).sum().backward()
    assert len(got) == len(want) == 1
    _same_grads(got[0][0], want[0][0])  # grad_input: (dL/dx,)
    _same_grads(got[0][1], want[0][1])  # grad_output: (dL/dy,)


class TwoInputs:
    """forward(a, scale, b) -> (a * b * scale, a + b): two tensor inputs, a float between them,
    two outputs."""

    @staticmethod
    def make(base):
        class M(base):
            def forward(self, a, scale, b):
                return a * b * scale, a + b
        return M()


@pytest.mark.parametrize("b_requires_grad", [True, False])
def test_full_backward_hook_with_several_inputs_and_outputs(b_requires_grad):
    torch = _torch()
    ours, theirs = TwoInputs.make(nn.Module), TwoInputs.make(torch.nn.Module)
    got, want = [], []
    ours.register_full_backward_hook(lambda m, gi, go: got.append((gi, go)))
    theirs.register_full_backward_hook(lambda m, gi, go: want.append((gi, go)))
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    am, bm = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=b_requires_grad)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=b_requires_grad)
    y1, y2 = ours(am, 2.0, bm)
    t1, t2 = theirs(at, 2.0, bt)
    (y1 * 3 + y2 * y2).sum().backward()
    (t1 * 3 + t2 * t2).sum().backward()
    gi, go = got[0]
    assert len(gi) == 3 and gi[1] is None  # one entry per positional argument (zeros for b
    # when it does not require grad)
    _same_grads(gi, want[0][0])
    _same_grads(go, want[0][1])


def test_hooks_can_replace_grad_input_and_grad_output_like_torch():
    torch = _torch()
    ours, theirs = _pair_linear(torch)
    for m in (ours, theirs):
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1,))
    x = RNG.standard_normal((4, 3))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xm).sum().backward()
    theirs(xt).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backward_hook_when_no_input_requires_grad():
    torch = _torch()
    ours, theirs = _pair_linear(torch)
    got, want = [], []
    ours.register_full_backward_hook(lambda m, gi, go: got.append((gi, go)))
    theirs.register_full_backward_hook(lambda m, gi, go: want.append((gi, go)))
    x = RNG.standard_normal((2, 3))
    ours(mg.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    assert got[0][0] == (None,) and want[0][0] == (None,)
    _same_grads(got[0][1], want[0][1])
    bad = nn.Linear(3, 2)
    bad.register_full_backward_hook(lambda m, gi, go: (mg.ones(2, 3),))
    with pytest.raises(RuntimeError, match="no input of the call requires grad"):
        bad(mg.randn(2, 3)).sum().backward()


def test_backward_hooks_removal_no_grad_and_wrong_returns():
    calls = []
    lin = nn.Linear(3, 2)
    handle = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = mg.randn(2, 3, requires_grad=True)
    for _ in range(2):  # every call sets up its own nodes
        lin(x).sum().backward()
    assert len(calls) == 2
    with mg.no_grad():
        lin(x)
    handle.remove()
    lin(x).sum().backward()
    assert len(calls) == 2
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="returned 2 grad_input values"):
        lin(x).sum().backward()
    with pytest.raises(NotImplementedError, match="register_full_backward_hook"):
        lin.register_backward_hook(lambda *a: None)


def test_backward_hook_on_a_container_and_create_graph():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    seen = []
    model.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0].shape))
    x = mg.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    (gx,) = mg.grad(model(x).sum(), x, create_graph=True)
    (gg,) = mg.grad((gx * gx).sum(), x)  # second order through the hooked call
    plain = nn.Sequential(*model)  # the same layers without the hook
    (gx2,) = mg.grad(plain(x).sum(), x, create_graph=True)
    (gg2,) = mg.grad((gx2 * gx2).sum(), x)
    np.testing.assert_allclose(gg.numpy(), gg2.numpy(), rtol=1e-12)
    assert seen and seen[0] == (5, 3)


# -- forward hooks -----------------------------------------------------------------------------


def test_forward_pre_hooks_prepend_and_kwargs_like_torch():
    torch = _torch()
    logs = {"ours": [], "theirs": []}

    def build(base, key):
        class M(base):
            def forward(self, x, scale=1.0):
                return x * scale
        m = M()
        log = logs[key]
        m.register_forward_pre_hook(lambda mod, args: log.append("a") or (args[0] + 1,))
        m.register_forward_pre_hook(lambda mod, args: log.append("b"), prepend=True)
        m.register_forward_pre_hook(
            lambda mod, args, kwargs: (log.append("c") or args, {**kwargs, "scale": 10.0}),
            with_kwargs=True)
        m.register_forward_hook(lambda mod, args, kwargs, out: log.append(kwargs["scale"]),
                                with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append("first"), prepend=True)
        return m

    y = build(nn.Module, "ours")(mg.tensor([1.0, 2.0]), scale=3.0)
    yt = build(torch.nn.Module, "theirs")(torch.tensor([1.0, 2.0]), scale=3.0)
    np.testing.assert_allclose(y.numpy(), yt.numpy())
    assert logs["ours"] == logs["theirs"] == ["b", "a", "c", "first", 10.0]


def test_forward_hook_always_call_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    calls = []
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(mg.ones(1))
    assert calls == [None]


# -- named_modules, requires_grad_ -------------------------------------------------------------


def _tree(torch_nn):
    shared = torch_nn.Linear(2, 2)
    inner = torch_nn.Sequential(shared, torch_nn.ReLU())
    return torch_nn.Sequential(inner, shared, torch_nn.Sequential(inner)), shared


@pytest.mark.parametrize("kw", [{}, {"prefix": "net"}, {"remove_duplicate": False},
                                {"prefix": "p", "remove_duplicate": False}])
def test_named_modules_matches_torch(kw):
    torch = _torch()
    ours, _ = _tree(nn)
    theirs, _ = _tree(torch.nn)
    names = [n for n, _ in ours.named_modules(**kw)]
    assert names == [n for n, _ in theirs.named_modules(**kw)]
    assert ([n for n, _ in ours.named_parameters(remove_duplicate=kw.get("remove_duplicate",
                                                                         True))]
            == [n for n, _ in theirs.named_parameters(
                remove_duplicate=kw.get("remove_duplicate", True))])


def test_named_modules_memo_holds_modules_as_in_torch():
    torch = _torch()
    ours, shared = _tree(nn)
    theirs, tshared = _tree(torch.nn)
    memo, tmemo = {shared}, {tshared}
    assert ([n for n, _ in ours.named_modules(memo=memo)]
            == [n for n, _ in theirs.named_modules(memo=tmemo)])
    assert len(memo) == len(tmemo)


def test_requires_grad_freezes_layers_for_transfer_learning():
    torch = _torch()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 3)).double()
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    assert model.requires_grad_(False) is model
    model[2].requires_grad_()
    tmodel.requires_grad_(False)
    tmodel[2].requires_grad_()
    frozen = model[0].weight.numpy().copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    x, y = RNG.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        nn.functional.cross_entropy(model(mg.tensor(x)), y).backward()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
        topt.step()
    assert model[0].weight.grad is None
    np.testing.assert_array_equal(model[0].weight.numpy(), frozen)
    for (k, v), tv in zip(model.state_dict().items(), tmodel.state_dict().values()):
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-12, err_msg=k)
    assert model.num_parameters(trainable_only=True) == 8 * 3 + 3


# -- ParameterList, ParameterDict --------------------------------------------------------------


def test_parameter_list_registers_converts_and_matches_torch_names():
    torch = _torch()
    ours = nn.ParameterList([nn.Parameter(np.ones((2, 3))), mg.tensor(np.zeros(4))])
    ours.append(mg.randn(1))
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)), torch.zeros(4)])
    theirs.append(torch.randn(1))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours)
    assert len(ours) == 3 and ours[-1].shape == (1,) and len(ours[:2]) == 2
    ours[1] = nn.Parameter(np.full(4, 7.0))
    np.testing.assert_array_equal(ours[1].numpy(), 7.0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList(nn.Parameter(np.eye(2)) for _ in range(3))

        def forward(self, x):
            for w in self.ws:
                x = x @ w
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["ws.0", "ws.1", "ws.2"]
    net(mg.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert "(0): Parameter containing: [float64 of size 2x2]" in repr(net)
    with pytest.raises(TypeError, match="Parameter or a Tensor"):
        ours.append(3.0)
    with pytest.raises(IndexError, match="out of range"):
        ours[5]


def test_parameter_dict_behaves_like_a_dict_and_registers():
    torch = _torch()
    ours = nn.ParameterDict({"a": mg.ones(2), "b": nn.Parameter(np.zeros(3))})
    theirs = torch.nn.ParameterDict({"a": torch.ones(2), "b": torch.nn.Parameter(torch.zeros(3))})
    ours["c"] = mg.randn(1)
    theirs["c"] = torch.randn(1)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == ["a", "b", "c"] and "b" in ours and len(ours) == 3
    assert ours.get("zz") is None and ours.setdefault("d", mg.ones(1)) is ours["d"]
    del ours["d"]
    popped = ours.pop("c")
    assert isinstance(popped, nn.Parameter) and list(ours.keys()) == ["a", "b"]
    m = nn.Module()
    m.p = ours
    assert [n for n, _ in m.named_parameters()] == ["p.a", "p.b"]
    m.double()
    assert m.p["a"].dtype == np.float64
    with pytest.raises(TypeError, match="keys must be strings"):
        ours[1] = mg.ones(1)


# -- parameters_to_vector, vector_to_parameters ------------------------------------------------


def test_parameters_to_vector_is_differentiable_and_round_trips():
    torch = _torch()
    lin = nn.Linear(3, 2).double()
    vec = parameters_to_vector(lin.parameters())
    tlin = torch.nn.Linear(3, 2).double()
    tlin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in lin.state_dict().items()})
    tvec = torch.nn.utils.parameters_to_vector(tlin.parameters())
    np.testing.assert_array_equal(vec.numpy(), tvec.detach().numpy())
    (vec * vec).sum().backward()  # as in PyTorch, the vector is part of the graph
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * lin.weight.numpy())
    new = mg.tensor(np.arange(8.0))
    weight = lin.weight
    vector_to_parameters(new, lin.parameters())
    assert lin.weight is weight  # identity kept: copied in, not re-pointed
    np.testing.assert_array_equal(lin.weight.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(lin.bias.numpy(), [6.0, 7.0])
    with pytest.raises(ValueError, match="does not hold the 8"):
        vector_to_parameters(mg.tensor(np.arange(7.0)), lin.parameters())
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.arange(8.0), lin.parameters())


# -- weight_norm -------------------------------------------------------------------------------


@pytest.mark.parametrize("make, dim, shape", [
    (lambda m: m.Linear(3, 4), 0, (5, 3)),
    (lambda m: m.Linear(3, 4), None, (5, 3)),
    (lambda m: m.Conv2d(2, 3, 3), 1, (2, 2, 5, 5)),
])
def test_weight_norm_matches_torch(make, dim, shape):
    torch = _torch()
    ours = make(nn).double()
    theirs = make(torch.nn).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    weight_norm(ours, dim=dim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(theirs, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = RNG.standard_normal(shape)
    y, yt = ours(mg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    for name in ("weight_g", "weight_v", "bias"):
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(),
                                   getattr(theirs, name).grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="already has a weight_norm"):
        weight_norm(ours, dim=dim)
    remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), yt.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="not found"):
        remove_weight_norm(ours)
