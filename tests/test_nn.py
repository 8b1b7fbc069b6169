"""minigrad.nn: Module mechanics, state dicts and checkpoints, every layer's forward against an
independent NumPy computation, init and clipping against their formulas (and torch when present),
and a whole small CNN through gradcheck in float64."""

from __future__ import annotations

import copy
import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.nn import init
from minigrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)
from minigrad.testing import gradcheck

RNG = np.random.default_rng(1234)


def _t(a, requires_grad=False):
    return mg.tensor(np.asarray(a), requires_grad=requires_grad)


def _np(t):
    return np.asarray(t.data)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(9, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 2)
        self.register_buffer("steps", mg.tensor(np.zeros((), dtype=np.int64)))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ---------------------------------------------------------------------------------------------
# Parameter and Module mechanics
# ---------------------------------------------------------------------------------------------


def test_parameter_defaults_and_storage():
    a = np.ones((2, 3), dtype=np.float32)
    p = nn.Parameter(a)
    assert p.requires_grad and p.is_leaf and p.dtype == np.float32
    a[0, 0] = 5  # wraps, does not copy (as torch.nn.Parameter(tensor))
    assert p.data[0, 0] == 5
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert nn.Parameter(np.zeros(2)).dtype == np.float64
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:")
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.data is not p.data
    np.testing.assert_array_equal(q.data, p.data)


def test_registration_by_assignment():
    m = MLP()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                     "fc2.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(m.children())[0] is m.fc1
    assert len(list(m.modules())) == 4
    assert m.fc1.weight.shape == (16, 9) and m.fc1.bias.shape == (16,)
    # re-assigning a plain value over a registered name
    with pytest.raises(TypeError, match="Parameter or None"):
        m.fc1.weight = mg.ones(16, 9)
    m.fc1.bias = None
    assert [n for n, _ in m.fc1.named_parameters()] == ["weight"]
    del m.act
    assert "act" not in dict(m.named_children())
    with pytest.raises(AttributeError):
        _ = m.nothing_here


def test_assignment_before_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Bad()


def test_shared_parameters_counted_once():
    shared = nn.Linear(4, 4)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 20
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_num_parameters_and_trainable_only():
    m = nn.Linear(9, 16)
    assert m.weight.numel() == 144 and m.bias.numel() == 16
    assert m.num_parameters() == 160
    model = MLP()
    model.fc1.requires_grad_(False)
    assert model.num_parameters() == 160 + 34
    assert model.num_parameters(trainable_only=True) == 34


def test_train_eval_and_apply_and_zero_grad():
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(3)))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())

    order = []
    m.apply(lambda mod: order.append(type(mod).__name__))
    assert order == ["Linear", "Dropout", "BatchNorm1d", "Sequential", "Sequential"]

    x = mg.randn(4, 3)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_forward_hooks_and_removal():
    m = nn.Linear(2, 2)
    seen = []
    h = m.register_forward_hook(lambda mod, inp, out: seen.append(out.shape))
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))
    y = m(mg.ones(3, 2))
    np.testing.assert_allclose(y.data, np.broadcast_to(m.bias.data, (3, 2)))
    assert seen == [(3, 2)]
    h.remove()
    pre.remove()
    m(mg.ones(1, 2))
    assert seen == [(3, 2)]


def test_repr_tree():
    m = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding="same", bias=False),
                                  block=nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)),
                                  fc=nn.Linear(4, 2)))
    assert repr(m) == (
        "Sequential(\n"
        "  (conv): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding='same', bias=False)\n"
        "  (block): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  )\n"
        "  (fc): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )


def test_buffers_persistent_submodule_lookup_and_freezing():
    m = MLP()
    m.register_buffer("scratch", mg.zeros(3), persistent=False)
    assert "scratch" in dict(m.named_buffers()) and "scratch" not in m.state_dict()
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("bad", np.zeros(2))
    with pytest.raises(KeyError):
        m.register_buffer("a.b", mg.zeros(1))
    outer = nn.Sequential(OrderedDict(body=m))
    assert outer.get_submodule("body.fc2") is m.fc2
    with pytest.raises(AttributeError, match="nope"):
        outer.get_submodule("body.nope")
    outer.requires_grad_(False)
    assert not any(p.requires_grad for p in outer.parameters())


def test_to_double_keeps_identity():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    w = m[0].weight
    m.double()
    assert m[0].weight is w and w.dtype == np.float64
    assert m[1].running_mean.dtype == np.float64
    assert m[1].num_batches_tracked.dtype == np.int64
    assert m(mg.randn(4, 2, dtype=np.float64)).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# state_dict, load_state_dict, save/load
# ---------------------------------------------------------------------------------------------


def _snapshot(m):
    return {k: v.data.copy() for k, v in m.state_dict().items()}


def test_state_dict_round_trip_exact():
    mg.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    a.train()
    a(mg.randn(5, 2, 4, 4))  # move the running stats away from their init
    mg.manual_seed(1)
    b = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias"]
    assert not any(v.requires_grad for v in sd.values())
    w_before = b[0].weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is w_before  # loaded in place
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.data, sd[k].data)
        assert v.dtype == sd[k].dtype
    x = mg.randn(3, 2, 4, 4)
    np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)


@pytest.mark.parametrize("problem", ["shape", "missing", "unexpected", "dtype"])
def test_bad_state_dict_raises_and_loads_nothing(problem):
    m = MLP()
    before = _snapshot(m)
    sd = {k: v.data.copy() + 1 for k, v in m.state_dict().items()}
    sd["steps"] = np.array(7, dtype=np.int64)
    if problem == "shape":
        sd["fc2.weight"] = np.zeros((3, 16), dtype=np.float32)
        match = "fc2.weight.*shape"
    elif problem == "missing":
        del sd["fc1.bias"]
        match = "missing key.*fc1.bias"
    elif problem == "unexpected":
        sd["fc3.weight"] = np.zeros(1)
        match = "unexpected key.*fc3.weight"
    else:
        sd["fc1.weight"] = sd["fc1.weight"].astype(np.float64)
        match = "fc1.weight.*dtype"
    with pytest.raises(RuntimeError, match=match):
        m.load_state_dict(sd)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])


def test_error_lists_every_problem():
    m = MLP()
    sd = {k: v.data for k, v in m.state_dict().items()}
    sd["fc1.weight"] = np.zeros((1, 1), dtype=np.float32)
    del sd["fc2.bias"]
    sd["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "fc1.weight" in msg and "fc2.bias" in msg and "extra" in msg


def test_non_strict_load_reports_keys_but_still_checks_shapes():
    m = MLP()
    src = MLP()
    sd = {k: v.data for k, v in src.state_dict().items() if not k.startswith("fc2")}
    sd["other"] = np.ones(2)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["fc2.weight", "fc2.bias"] and unexpected == ["other"]
    np.testing.assert_array_equal(m.fc1.weight.data, src.fc1.weight.data)
    sd["fc1.bias"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(RuntimeError, match="shape"):
        m.load_state_dict(sd, strict=False)


def test_save_load_npz_round_trip(tmp_path):
    mg.manual_seed(3)
    a = MLP()
    a.steps.data[...] = 11
    path = tmp_path / "ckpt.npz"
    a.save(path)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # no temporary file left behind
    with np.load(path) as f:
        assert sorted(f.files) == sorted(a.state_dict())
    b = MLP()
    b.load(path)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].data, v.data)
    # overwriting an existing checkpoint goes through a rename as well
    a.fc1.weight.data[...] = 0
    a.save(str(path))
    b.load(path)
    assert np.all(b.fc1.weight.data == 0)
    # a checkpoint of another architecture is refused and changes nothing
    other = nn.Sequential(nn.Linear(9, 3))
    before = _snapshot(other)
    with pytest.raises(RuntimeError):
        other.load(path)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])


def test_save_failure_leaves_old_file(tmp_path, monkeypatch):
    m = MLP()
    path = tmp_path / "ckpt.npz"
    m.save(path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError):
        m.save(path)
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------


def test_summary_counts_shapes_and_restores_modes(capsys):
    m = nn.Sequential(nn.Linear(9, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    m[2].train()
    m[0].eval()
    text = m.summary((5, 9))
    assert capsys.readouterr().out.rstrip("\n") == text
    lines = text.splitlines()
    row = {line.split()[0]: line.split() for line in lines if line[:1].isdigit()}
    assert row["0"][-1] == "160" and row["0"][-3:-1] == ["(5,", "16)"]
    assert row["3"][-1] == "34" and row["3"][-3:-1] == ["(5,", "2)"]
    assert "Total params: 194" in text and "Trainable params: 194" in text
    assert m[2].training and not m[0].training  # modes restored
    assert not m[0]._forward_hooks and not m[0]._forward_pre_hooks
    assert m.summary((1, 9), print_fn=None) and capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------


def test_sequential_indexing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert list(s) == layers
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and isinstance(s[3], nn.Sigmoid)
    del s[1]
    assert [type(x).__name__ for x in s] == ["Linear", "Linear", "Sigmoid"]
    assert list(dict(s.named_children())) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        s[5]
    x = mg.randn(4, 2)
    np.testing.assert_allclose(s(x).data, s[2](s[1](s[0](x))).data)
    named = nn.Sequential(OrderedDict(a=nn.Linear(2, 2), b=nn.Tanh()))
    assert isinstance(named.b, nn.Tanh) and named[1] is named.b


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.Linear(2, 1))
    ml.insert(0, nn.ReLU())
    assert isinstance(ml[0], nn.ReLU) and len(ml) == 5
    assert [n for n, _ in ml.named_parameters()][:2] == ["1.weight", "1.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md.keys()) == ["enc", "dec"] and "enc" in md and len(md) == 2
    md["act"] = nn.ReLU()
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                     "dec.bias"]
    assert isinstance(md.pop("act"), nn.ReLU) and len(md) == 2


# ---------------------------------------------------------------------------------------------
# Linear, Flatten, Identity, F.linear, F.pad
# ---------------------------------------------------------------------------------------------


def test_linear_forward_and_default_init():
    mg.manual_seed(0)
    m = nn.Linear(50, 30)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) == U(+-1/sqrt(fan_in))
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.9 * bound
    assert np.abs(m.bias.data).max() <= bound
    x = RNG.standard_normal((7, 50)).astype(np.float32)
    np.testing.assert_allclose(m(_t(x)).data, x @ m.weight.data.T + m.bias.data, rtol=1e-5,
                               atol=1e-6)
    nb = nn.Linear(50, 30, bias=False)
    assert nb.bias is None and nb.num_parameters() == 1500
    x3 = RNG.standard_normal((2, 4, 50)).astype(np.float32)
    np.testing.assert_allclose(nb(_t(x3)).data, x3 @ nb.weight.data.T, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="in_features"):
        m(mg.randn(3, 49))


def test_seeded_init_is_reproducible():
    mg.manual_seed(42)
    a = nn.Linear(5, 4)
    mg.manual_seed(42)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


def test_flatten_identity():
    x = mg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    ident = nn.Identity(3, whatever=1)
    assert ident(x) is x


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 1), (0, 1, 2, 1, 1, 0)])
def test_pad_modes_vs_numpy(mode, pad):
    x = RNG.standard_normal((2, 3, 4, 5))
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    k = len(pad) // 2
    widths = [(0, 0)] * (4 - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    want = np.pad(x, widths, mode=np_mode)
    got = F.pad(_t(x), pad, mode=mode)
    np.testing.assert_array_equal(got.data, want)
    if mode == "constant":
        np.testing.assert_array_equal(F.pad(_t(x), pad, value=2.5).data,
                                      np.pad(x, widths, constant_values=2.5))
    xt = _t(x, requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, pad, mode=mode), [xt])


def test_pad_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((1, 2, 4, 5))
    for mode in ["reflect", "replicate", "circular"]:
        want = torch.nn.functional.pad(torch.tensor(x), (1, 2, 3, 0), mode=mode).numpy()
        np.testing.assert_array_equal(F.pad(_t(x), (1, 2, 3, 0), mode=mode).data, want)


def test_pad_errors():
    x = mg.randn(2, 3)
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="reflect"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="mirror")


# ---------------------------------------------------------------------------------------------
# Convolutions vs loops written from the definition
# ---------------------------------------------------------------------------------------------


def ref_conv2d(x, w, b, stride, pads, dilation, groups):
    """pads: ((top, bottom), (left, right)) of zeros; y[n,k,i,j] = sum w * window."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    n_, _, h, wd = xp.shape
    k_, cg, r_, s_ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (h - dh * (r_ - 1) - 1) // sh + 1
    ow = (wd - dw * (s_ - 1) - 1) // sw + 1
    y = np.zeros((n_, k_, oh, ow))
    kg = k_ // groups
    for n in range(n_):
        for k in range(k_):
            g = k // kg
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for c in range(cg):
                        for r in range(r_):
                            for s in range(s_):
                                acc += w[k, c, r, s] * xp[n, g * cg + c, i * sh + r * dh,
                                                          j * sw + s * dw]
                    y[n, k, i, j] = acc + (b[k] if b is not None else 0.0)
    return y


CONV_CASES = [
    dict(padding=0),
    dict(padding=1, stride=2),
    dict(padding=(2, 1), dilation=2),
    dict(padding="valid", stride=(1, 2)),
    dict(padding="same"),
    dict(padding="same", dilation=(2, 1)),
    dict(padding="full"),
    dict(padding=1, groups=2),
    dict(padding=0, bias=False),
    dict(padding=1, padding_mode="reflect"),
    dict(padding="same", padding_mode="replicate", kernel_size=(2, 3)),
    dict(padding=(1, 2), padding_mode="circular", stride=2),
]


def _pads_for(kw, k, d):
    p = kw.get("padding", 0)
    if p == "valid":
        return ((0, 0), (0, 0))
    if p == "same":
        tot = [dd * (kk - 1) for dd, kk in zip(d, k)]
        return tuple((t // 2, t - t // 2) for t in tot)
    if p == "full":
        return tuple((dd * (kk - 1),) * 2 for dd, kk in zip(d, k))
    p = (p, p) if isinstance(p, int) else p
    return ((p[0], p[0]), (p[1], p[1]))


@pytest.mark.parametrize("kw", CONV_CASES, ids=[str(c) for c in CONV_CASES])
def test_conv2d_vs_loop(kw):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    m = nn.Conv2d(4, 6, k, **kw).double()
    x = RNG.standard_normal((2, 4, 7, 6))
    ks = (k, k) if isinstance(k, int) else k
    d = kw.get("dilation", 1)
    d = (d, d) if isinstance(d, int) else d
    s = kw.get("stride", 1)
    s = (s, s) if isinstance(s, int) else s
    pads = _pads_for(kw, ks, d)
    mode = kw.get("padding_mode", "zeros")
    if mode != "zeros":
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        xin = np.pad(x, ((0, 0), (0, 0)) + pads, mode=np_mode)
        pads = ((0, 0), (0, 0))
    else:
        xin = x
    b = m.bias.data if m.bias is not None else None
    want = ref_conv2d(xin, m.weight.data, b, s, pads, d, m.groups)
    got = m(_t(x))
    np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-10)
    if kw.get("padding") == "same":
        assert got.shape[2:] == x.shape[2:]


def test_conv2d_against_torch_including_padding_modes():
    torch = pytest.importorskip("torch")
    for kw in CONV_CASES:
        kw = dict(kw)
        if kw.get("padding") == "full":
            continue  # not a torch option
        k = kw.pop("kernel_size", 3)
        m = nn.Conv2d(4, 6, k, **kw)
        t = torch.nn.Conv2d(4, 6, k, **kw)
        with torch.no_grad():
            t.weight.copy_(torch.tensor(m.weight.data))
            if m.bias is not None:
                t.bias.copy_(torch.tensor(m.bias.data))
        x = RNG.standard_normal((2, 4, 7, 6)).astype(np.float32)
        np.testing.assert_allclose(m(_t(x)).data, t(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding="same", dilation=2),
                                dict(stride=2, groups=3, bias=False),
                                dict(padding=2, padding_mode="circular")])
def test_conv1d_vs_loop(kw):
    m = nn.Conv1d(3, 6, 3, **kw).double()
    x = RNG.standard_normal((2, 3, 9))
    d = kw.get("dilation", 1)
    p = kw.get("padding", 0)
    if p == "same":
        t = d * 2
        pads = (t // 2, t - t // 2)
    else:
        pads = (p, p)
    xin = x
    if kw.get("padding_mode") == "circular":
        xin = np.pad(x, ((0, 0), (0, 0), pads), mode="wrap")
        pads = (0, 0)
    b = m.bias.data if m.bias is not None else None
    want = ref_conv2d(xin[:, :, None, :], m.weight.data[:, :, None, :], b,
                      (1, kw.get("stride", 1)), ((0, 0), pads), (1, d), m.groups)[:, :, 0, :]
    np.testing.assert_allclose(m(_t(x)).data, want, rtol=1e-10, atol=1e-10)
    assert m.weight.shape == (6, 3 // m.groups, 3)


def ref_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    n_, cin, h, wd = x.shape
    _, coutg, r_, s_ = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    full_h = (h - 1) * sh + dh * (r_ - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (s_ - 1) + 1 + opw
    full = np.zeros((n_, coutg * groups, full_h, full_w))
    cing = cin // groups
    for n in range(n_):
        for ci in range(cin):
            g = ci // cing
            for i in range(h):
                for j in range(wd):
                    for co in range(coutg):
                        for r in range(r_):
                            for s in range(s_):
                                full[n, g * coutg + co, i * sh + r * dh, j * sw + s * dw] += \
                                    x[n, ci, i, j] * w[ci, co, r, s]
    oh, ow = full_h - 2 * ph, full_w - 2 * pw
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y + (b.reshape(1, -1, 1, 1) if b is not None else 0)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1), groups=2, bias=False),
                                dict(dilation=2, padding=(1, 0))])
def test_conv_transpose2d_vs_loop(kw):
    m = nn.ConvTranspose2d(4, 6, 3, **kw).double()
    assert m.weight.shape == (4, 6 // m.groups, 3, 3)
    x = RNG.standard_normal((2, 4, 4, 5))

    def pair(v, default):
        v = kw.get(v, default)
        return (v, v) if isinstance(v, int) else v

    b = m.bias.data if m.bias is not None else None
    want = ref_conv_transpose2d(x, m.weight.data, b, pair("stride", 1), pair("padding", 0),
                                pair("output_padding", 0), m.groups, pair("dilation", 1))
    np.testing.assert_allclose(m(_t(x)).data, want, rtol=1e-10, atol=1e-10)


def test_conv_transpose2d_output_size():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = mg.randn(1, 2, 5, 5)
    assert m(x).shape == (1, 2, 9, 9)
    assert m(x, output_size=(10, 10)).shape == (1, 2, 10, 10)
    with pytest.raises(ValueError, match="not reachable"):
        m(x, output_size=(12, 12))


def test_conv_errors_and_defaults():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="in_channels = 3"):
        nn.Conv2d(3, 4, 3)(mg.randn(1, 2, 5, 5))
    mg.manual_seed(0)
    m = nn.Conv2d(8, 4, 3)
    bound = 1 / math.sqrt(8 * 9)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------


def _windows(x, k, s, p, fill):
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    oh = (xp.shape[2] - k) // s + 1
    ow = (xp.shape[3] - k) // s + 1
    return np.stack([[xp[:, :, i * s:i * s + k, j * s:j * s + k] for j in range(ow)]
                     for i in range(oh)])  # (OH, OW, N, C, k, k)


def test_pooling_vs_numpy():
    x = RNG.standard_normal((2, 3, 7, 8))
    want = _windows(x, 3, 2, 1, -np.inf).max(axis=(4, 5)).transpose(2, 3, 0, 1)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(_t(x)).data, want)
    want = _windows(x, 2, 2, 0, 0).max(axis=(4, 5)).transpose(2, 3, 0, 1)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(_t(x)).data, want)
    y, idx = nn.MaxPool2d(2, return_indices=True)(_t(x))
    assert idx.shape == y.shape
    win = _windows(x, 3, 2, 1, 0)
    want = win.mean(axis=(4, 5)).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, 1)(_t(x)).data, want, rtol=1e-12)
    ones = _windows(np.ones_like(x), 3, 2, 1, 0).sum(axis=(4, 5)).transpose(2, 3, 0, 1)
    want = win.sum(axis=(4, 5)).transpose(2, 3, 0, 1) / ones
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, 1, count_include_pad=False)(_t(x)).data, want,
                               rtol=1e-12)
    # adaptive windows: rows floor(i*H/OH) .. ceil((i+1)*H/OH)
    oh, ow = 3, 5
    want = np.empty((2, 3, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * 7) // oh, -((-(i + 1) * 7) // oh)
            c0, c1 = (j * 8) // ow, -((-(j + 1) * 8) // ow)
            want[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((oh, ow))(_t(x)).data, want, rtol=1e-12)
    np.testing.assert_allclose(nn.GlobalAvgPool2d()(_t(x)).data, x.mean(axis=(2, 3)),
                               rtol=1e-12)
    assert nn.GlobalAvgPool2d(keepdim=True)(_t(x)).shape == (2, 3, 1, 1)


# ---------------------------------------------------------------------------------------------
# Activations, dropout
# ---------------------------------------------------------------------------------------------

_ERF = np.vectorize(math.erf)
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.CELU(0.5), lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * (np.exp(x / 0.5) - 1))),
    (nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (nn.SELU(), lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + _ERF(x / math.sqrt(2)))),
    (nn.GELU("tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    (nn.Softplus(2.0, 3.0), lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Hardtanh(-0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    (nn.Maxout(3), lambda x: x.reshape(x.shape[0], 2, 3, *x.shape[2:]).max(axis=2)),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(axis=-1, keepdims=True))),
]


@pytest.mark.parametrize(("module", "ref"), ACTIVATIONS,
                         ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activation_modules_vs_numpy(module, ref):
    x = RNG.standard_normal((4, 6, 3)) * 2
    np.testing.assert_allclose(module(_t(x)).data, ref(x), rtol=1e-7, atol=1e-10)


def test_dropout2d_drops_whole_channels_and_unpool_inverts_pool():
    mg.manual_seed(2)
    y = nn.Dropout2d(0.5)(mg.ones(8, 16, 3, 3)).data
    per_plane = y.reshape(8, 16, 9)
    assert np.all((per_plane == 0).all(axis=2) | (per_plane == 2).all(axis=2))
    assert 0.3 < (per_plane[:, :, 0] == 0).mean() < 0.7
    x = RNG.standard_normal((2, 3, 4, 6))
    pooled, idx = nn.MaxPool2d(2, return_indices=True)(_t(x))
    back = nn.MaxUnpool2d(2)(pooled, idx).data
    win = x.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    is_max = (x == np.repeat(np.repeat(win.max(axis=-1), 2, axis=2), 2, axis=3))
    np.testing.assert_array_equal(back, np.where(is_max, x, 0))


def test_softmax_implicit_dim_warns_like_torch():
    x = RNG.standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(_t(x))
    np.testing.assert_allclose(y.data.sum(axis=1), 1.0)


def test_dropout_train_and_eval():
    x = mg.ones(200, 100)
    d = nn.Dropout(0.3)
    mg.manual_seed(5)
    y = d(x).data
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    mg.manual_seed(5)
    np.testing.assert_array_equal(d(x).data, y)  # seeded masks repeat
    d.eval()
    np.testing.assert_array_equal(d(x).data, x.data)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ---------------------------------------------------------------------------------------------
# Batch norm
# ---------------------------------------------------------------------------------------------


def _bn_ref(x, w, b, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize(("cls", "shape"), [(nn.BatchNorm1d, (8, 3)),
                                            (nn.BatchNorm1d, (4, 3, 5)),
                                            (nn.BatchNorm2d, (4, 3, 3, 2))])
def test_batchnorm_train_eval_and_running_stats(cls, shape):
    bn = cls(3, momentum=0.2).double()
    bn.weight.data[...] = [0.5, 1.5, -1.0]
    bn.bias.data[...] = [0.1, 0.0, -0.3]
    axes = (0,) + tuple(range(2, len(shape)))
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = RNG.standard_normal(shape) * 2 + 1
        y = bn(_t(x))
        np.testing.assert_allclose(y.data, _bn_ref(x, bn.weight.data, bn.bias.data, 1e-5),
                                   rtol=1e-9, atol=1e-12)
        n = x.size // 3
        rm = 0.8 * rm + 0.2 * x.mean(axis=axes)
        rv = 0.8 * rv + 0.2 * x.var(axis=axes) * n / (n - 1)
    np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 3
    bn.eval()
    x = RNG.standard_normal(shape)
    cs = (1, -1) + (1,) * (len(shape) - 2)
    want = ((x - rm.reshape(cs)) / np.sqrt(rv.reshape(cs) + 1e-5) * bn.weight.data.reshape(cs)
            + bn.bias.data.reshape(cs))
    np.testing.assert_allclose(bn(_t(x)).data, want, rtol=1e-9)
    assert int(bn.num_batches_tracked.data) == 3  # eval does not count


def test_batchnorm_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    xs = [RNG.standard_normal((6, 2)) for _ in range(4)]
    for x in xs:
        bn(_t(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(axis=0) for x in xs],
                                                             axis=0), rtol=1e-12)


def test_batchnorm_without_running_stats_or_affine():
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False).double()
    assert list(bn.parameters()) == [] and list(bn.buffers()) == []
    x = RNG.standard_normal((2, 3, 4, 4))
    bn.eval()  # no running stats: batch statistics even in eval, as PyTorch
    np.testing.assert_allclose(bn(_t(x)).data, _bn_ref(x, np.ones(3), np.zeros(3), 1e-5),
                               rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="num_features = 3"):
        nn.BatchNorm2d(3)(mg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.BatchNorm2d(3)(mg.randn(2, 3))


def test_batchnorm_against_torch():
    torch = pytest.importorskip("torch")
    for momentum in (0.1, None):
        bn = nn.BatchNorm2d(4, momentum=momentum)
        tb = torch.nn.BatchNorm2d(4, momentum=momentum)
        for step in range(4):
            x = (RNG.standard_normal((3, 4, 5, 5)) * (step + 1) + step).astype(np.float32)
            y = bn(_t(x)).data
            ty = tb(torch.tensor(x)).detach().numpy()
            np.testing.assert_allclose(y, ty, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(bn.running_mean.data, tb.running_mean.numpy(), rtol=1e-5)
        np.testing.assert_allclose(bn.running_var.data, tb.running_var.numpy(), rtol=1e-5)
        assert int(bn.num_batches_tracked.data) == int(tb.num_batches_tracked)
        bn.eval()
        tb.eval()
        x = RNG.standard_normal((2, 4, 5, 5)).astype(np.float32)
        np.testing.assert_allclose(bn(_t(x)).data, tb(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
        sd = {k: v.numpy() for k, v in tb.state_dict().items()}
        fresh = nn.BatchNorm2d(4)
        fresh.load_state_dict(sd)  # torch's key names and dtypes load as they are


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def test_cross_entropy_and_nll_vs_numpy():
    x = RNG.standard_normal((6, 4))
    t = np.array([0, 3, 1, 1, 2, 3])
    lp = _log_softmax(x)
    picked = -lp[np.arange(6), t]
    np.testing.assert_allclose(nn.CrossEntropyLoss()(_t(x), _t(t)).item(), picked.mean())
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction="sum")(_t(x), _t(t)).item(),
                               picked.sum())
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction="none")(_t(x), _t(t)).data, picked)
    np.testing.assert_allclose(nn.NLLLoss()(_t(lp), _t(t)).item(), picked.mean())
    w = np.array([1.0, 2.0, 0.5, 3.0])
    t2 = t.copy()
    t2[2] = -100  # ignored
    keep = t2 != -100
    num = (w[t2[keep]] * picked[keep]).sum()
    np.testing.assert_allclose(nn.CrossEntropyLoss(weight=_t(w))(_t(x), _t(t2)).item(),
                               num / w[t2[keep]].sum())
    eps = 0.1
    smooth = (1 - eps) * picked + eps * (-lp).mean(axis=1)
    np.testing.assert_allclose(nn.CrossEntropyLoss(label_smoothing=eps)(_t(x), _t(t)).item(),
                               smooth.mean())
    assert "weight" in dict(nn.CrossEntropyLoss(weight=_t(w)).named_buffers())


def test_regression_and_bce_losses_vs_numpy():
    x = RNG.standard_normal((5, 3))
    y = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(nn.MSELoss()(_t(x), _t(y)).item(), ((x - y) ** 2).mean())
    np.testing.assert_allclose(nn.L1Loss(reduction="sum")(_t(x), _t(y)).item(),
                               np.abs(x - y).sum())
    t = (RNG.random((5, 3)) > 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    want = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(nn.BCEWithLogitsLoss()(_t(x), _t(t)).item(), want.mean())
    np.testing.assert_allclose(nn.BCELoss(reduction="sum")(_t(p), _t(t)).item(), want.sum())
    pw = np.array([1.0, 2.0, 3.0])
    want = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(nn.BCEWithLogitsLoss(pos_weight=_t(pw), reduction="none")(
        _t(x), _t(t)).data, want)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ---------------------------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------------------------

FAN_SHAPES = [(5, 3), (8, 4, 3, 3), (6, 2, 5), (4, 6, 2, 3, 2), (3, 1)]


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans_vs_formula_and_torch(shape):
    t = mg.zeros(*shape)
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    assert init._calculate_fan_in_and_fan_out(t) == (shape[1] * rf, shape[0] * rf)
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(t) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(mg.zeros(3))


def test_calculate_gain_vs_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                        ("leaky_relu", math.sqrt(5)), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15)
    with pytest.raises(ValueError):
        init.calculate_gain("swishy")


@pytest.mark.parametrize(("fn", "kwargs", "kind", "scale"), [
    (init.kaiming_uniform_, {}, "uniform", math.sqrt(2) * math.sqrt(3 / 256)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, "uniform", 1 / math.sqrt(256)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, "uniform",
     math.sqrt(2) * math.sqrt(3 / 288)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, "normal", math.sqrt(2 / 256)),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "tanh"}, "normal",
     5 / 3 / math.sqrt(288)),
    (init.xavier_uniform_, {"gain": 2.0}, "uniform", 2 * math.sqrt(6 / (256 + 288))),
    (init.xavier_normal_, {}, "normal", math.sqrt(2 / (256 + 288))),
])
def test_random_inits_follow_their_formulas(fn, kwargs, kind, scale):
    t = mg.zeros(72, 64, 2, 2, dtype=np.float64)  # fan_in = 64 * 4 = 256, fan_out = 72 * 4
    mg.manual_seed(0)
    out = fn(t, **kwargs)
    assert out is t and t.grad_fn is None
    a = t.data
    if kind == "uniform":
        assert a.min() >= -scale and a.max() <= scale
        assert a.max() > 0.99 * scale and a.min() < -0.99 * scale
        assert a.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert a.std() == pytest.approx(scale, rel=0.02)
        assert abs(a.mean()) < 0.02 * scale
    mg.manual_seed(0)
    again = fn(mg.zeros(72, 64, 2, 2, dtype=np.float64), **kwargs)
    np.testing.assert_array_equal(again.data, a)


def test_simple_inits_and_generator_argument():
    t = mg.zeros(3, 4)
    assert np.all(init.ones_(t).data == 1)
    assert np.all(init.zeros_(t).data == 0)
    assert np.all(init.constant_(t, 0.25).data == 0.25)
    init.uniform_(t, -2, -1)
    assert t.data.min() >= -2 and t.data.max() <= -1 and t.dtype == np.float32
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    a = init.normal_(mg.zeros(5), 3.0, 0.5, generator=g1).data.copy()
    b = init.normal_(mg.zeros(5), 3.0, 0.5, generator=g2).data
    np.testing.assert_array_equal(a, b)
    p = nn.Parameter(np.zeros((2, 2), dtype=np.float32))
    init.ones_(p)  # in place on a leaf that requires grad: allowed (no_grad inside)
    assert np.all(p.data == 1) and p.requires_grad


# ---------------------------------------------------------------------------------------------
# utils: clipping and vector conversion
# ---------------------------------------------------------------------------------------------


def _with_grads(arrays):
    ps = []
    for a in arrays:
        p = nn.Parameter(np.zeros_like(a))
        p.grad = mg.tensor(a.copy())
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_vs_formula(norm_type):
    grads = [RNG.standard_normal((3, 4)), RNG.standard_normal(5)]
    flat = np.concatenate([g.ravel() for g in grads])
    total = np.abs(flat).max() if math.isinf(norm_type) else \
        (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    ps = _with_grads(grads)
    got = clip_grad_norm_(ps, 0.5, norm_type)
    assert float(got) == pytest.approx(total, rel=1e-12)
    coef = 0.5 / (total + 1e-6)
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
    ps = _with_grads(grads)
    clip_grad_norm_(ps, 1e6, norm_type)  # under the limit: untouched
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(p.grad.data, g)


def test_clip_grad_against_torch():
    torch = pytest.importorskip("torch")
    grads = [RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal(5)
             .astype(np.float32)]
    ps = _with_grads(grads)
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for tp, g in zip(tps, grads):
        tp.grad = torch.tensor(g)
    n = clip_grad_norm_(ps, 1.0)
    tn = torch.nn.utils.clip_grad_norm_(tps, 1.0)
    assert float(n) == pytest.approx(float(tn), rel=1e-6)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6)
    clip_grad_value_(ps, 0.1)
    torch.nn.utils.clip_grad_value_(tps, 0.1)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6)


def test_clip_grad_value_and_nonfinite():
    ps = _with_grads([np.array([-3.0, 0.5, 2.0])])
    clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(ps[0].grad.data, [-1.0, 0.5, 1.0])
    bad = _with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


def test_parameters_vector_round_trip():
    m = MLP()
    v = parameters_to_vector(m.parameters())
    assert v.shape == (194,)
    m2 = MLP()
    vector_to_parameters(v, m2.parameters())
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


# ---------------------------------------------------------------------------------------------
# A whole small CNN through gradcheck
# ---------------------------------------------------------------------------------------------


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(3 * 2 * 2, 4)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(F.relu(self.bn(self.conv(x))))))


@pytest.mark.parametrize("training", [True, False])
def test_small_cnn_gradcheck_float64(training):
    mg.manual_seed(11)
    model = SmallCNN().double()
    init.uniform_(model.bn.weight, 0.5, 1.5)
    init.uniform_(model.bn.bias, -0.5, 0.5)
    model.bn.running_mean.data[...] = [0.1, -0.2, 0.05]
    model.bn.running_var.data[...] = [0.9, 1.3, 0.7]
    model.train(training)
    x = mg.tensor(RNG.standard_normal((3, 2, 4, 4)), requires_grad=True)
    target = mg.tensor(np.array([0, 3, 1]))
    params = list(model.parameters())
    assert all(p.dtype == np.float64 for p in params)

    def loss(*inputs):
        # the parameters are gradcheck's inputs too: it perturbs them in place
        return F.cross_entropy(model(inputs[0]), target)

    assert gradcheck(loss, [x, *params], atol=1e-6, rtol=1e-4)
