"""Optimizers against their update equations written out here, and against torch.optim."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler as sched

SHAPES = [(3, 4), (4,)]
STEPS = 6


def _grads(seed: int = 0, steps: int = STEPS) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def _init(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _run_minigrad(make, grads, dtype=np.float64, params=None):
    ps = [mg.tensor(p.astype(dtype), requires_grad=True) for p in (params or _init())]
    opt = make(ps)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = mg.tensor(g.astype(dtype))
        opt.step()
    return [p.data.copy() for p in ps], opt


# ---------------------------------------------------------------------------------------------
# Reference updates, written from the methods' equations (float64, one parameter at a time)
# ---------------------------------------------------------------------------------------------


def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    p = p.copy()
    buf = None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def ref_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False, maximize=False):
    p = p.copy()
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    p = p.copy()
    s = np.zeros_like(p)
    a = np.zeros_like(p)
    b = np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = np.sqrt(s - a**2) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum > 0:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
    return p


def ref_adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    p = p.copy()
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


CASES = [
    ("SGD", dict(lr=0.1), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9), ref_sgd),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), ref_sgd),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True), ref_sgd),
    ("Adam", dict(lr=0.01), ref_adam),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1), ref_adam),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05), ref_adam),
    ("Adam", dict(lr=0.01, maximize=True), ref_adam),
    ("AdamW", dict(lr=0.01), lambda p, g, **kw: ref_adam(p, g, decoupled=True,
                                                         weight_decay=1e-2, **kw)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True),
     lambda p, g, **kw: ref_adam(p, g, decoupled=True, **kw)),
    ("RMSprop", dict(lr=0.01), ref_rmsprop),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1), ref_rmsprop),
    ("RMSprop", dict(lr=0.01, centered=True), ref_rmsprop),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, eps=1e-4), ref_rmsprop),
    ("Adagrad", dict(lr=0.1), ref_adagrad),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5),
     ref_adagrad),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _ in CASES]


@pytest.mark.parametrize(("name", "kwargs", "ref"), CASES, ids=IDS)
def test_update_equations(name, kwargs, ref):
    grads = _grads()
    got, _ = _run_minigrad(lambda ps: getattr(optim, name)(ps, **kwargs), grads)
    for i, p0 in enumerate(_init()):
        want = ref(p0, [gs[i] for gs in grads], **kwargs)
        np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs", "ref"), CASES, ids=IDS)
def test_float32_stays_float32_and_close(name, kwargs, ref):
    grads = _grads()
    got, _ = _run_minigrad(lambda ps: getattr(optim, name)(ps, **kwargs), grads,
                           dtype=np.float32)
    for i, p0 in enumerate(_init()):
        assert got[i].dtype == np.float32
        want = ref(p0.astype(np.float32).astype(np.float64),
                   [gs[i].astype(np.float32).astype(np.float64) for gs in grads], **kwargs)
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "kwargs", "ref"), CASES, ids=IDS)
def test_against_torch(name, kwargs, ref):
    torch = pytest.importorskip("torch")
    grads = _grads(seed=3)
    got, _ = _run_minigrad(lambda ps: getattr(optim, name)(ps, **kwargs), grads)
    tps = [torch.tensor(p, requires_grad=True) for p in _init()]
    topt = getattr(torch.optim, name)(tps, **kwargs)
    for gs in grads:
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        topt.step()
    for a, b in zip(got, tps):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)


FUSED = [(n, kw, r) for n, kw, r in CASES if n in ("SGD", "Adam", "AdamW")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs", "ref"), FUSED,
                         ids=[i for i, c in zip(IDS, CASES) if c in FUSED])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN and inf on purpose
def test_fused_update_equals_numpy_update_bit_for_bit(name, kwargs, ref, dtype, monkeypatch):
    """SGD and Adam(W) run one fused Numba pass per parameter on contiguous host arrays; it
    must give exactly the parameters and state of the NumPy update it replaces (same operation
    order, same roundings), on parameters large enough for the parallel kernel too."""
    import minigrad.optim.adam as adam_mod
    import minigrad.optim.sgd as sgd_mod
    from minigrad.ops.kernels.cpu import optim as kernels

    rng = np.random.default_rng(7)
    shapes = [(3, 4), (), (40_000,)]  # the last runs the parallel variant
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) * 3 for s in shapes] for _ in range(5)]
    grads[2][0][1, 1] = np.nan  # NaN and inf go through both paths alike
    grads[3][2][7] = np.inf

    def run(fused: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
        calls = [0]

        def spy(*arrays):
            ok = kernels.fusable(*arrays)
            calls[0] += ok
            return ok and fused

        monkeypatch.setattr(sgd_mod, "fusable", spy)
        monkeypatch.setattr(adam_mod, "fusable", spy)
        ps = [mg.tensor(p.copy(), requires_grad=True) for p in init]
        opt = getattr(optim, name)(ps, **kwargs)
        for gs in grads:
            for p, g in zip(ps, gs):
                p.grad = mg.tensor(g)
            opt.step()
        assert calls[0] == len(shapes) * len(grads)  # every update could take the kernel
        state = [v for p in ps for v in opt.state[p].values() if isinstance(v, np.ndarray)]
        return [p.data for p in ps], state

    (p_fused, s_fused), (p_numpy, s_numpy) = run(True), run(False)
    for a, b in zip(p_fused + s_fused, p_numpy + s_numpy, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_fused_update_falls_back_on_strided_arrays():
    """A parameter whose storage is a strided view (or a gradient of another dtype) takes the
    NumPy update, with the same result as the same update on a contiguous copy."""
    base = np.arange(24, dtype=np.float32).reshape(4, 6) / 7
    strided = mg.tensor(np.zeros(1), requires_grad=True)
    strided.data = base[:, ::2]
    plain = mg.tensor(base[:, ::2].copy(), requires_grad=True)
    g = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    for p in (strided, plain):
        opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
        for _ in range(3):
            p.grad = mg.tensor(g)
            opt.step()
    np.testing.assert_array_equal(strided.data, plain.data)
    assert np.shares_memory(strided.data, base)


@pytest.mark.parametrize(("name", "kwargs", "ref"), CASES, ids=IDS)
def test_state_dict_resumes_identically(name, kwargs, ref):
    grads = _grads(steps=8)
    make = lambda ps: getattr(optim, name)(ps, **kwargs)  # noqa: E731
    straight, _ = _run_minigrad(make, grads, dtype=np.float32)

    half, opt = _run_minigrad(make, grads[:4], dtype=np.float32)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))  # a checkpoint survives pickling
    for gs in grads[4:]:  # training goes on: the saved state must not change with it
        for p, g in zip(opt.param_groups[0]["params"], gs):
            p.grad = mg.tensor(g.astype(np.float32))
        opt.step()

    ps = [mg.tensor(h, requires_grad=True) for h in half]
    fresh = make(ps)
    fresh.load_state_dict(saved)
    for gs in grads[4:]:
        for p, g in zip(ps, gs):
            p.grad = mg.tensor(g.astype(np.float32))
        fresh.step()
    for a, b in zip(straight, ps):
        np.testing.assert_array_equal(a, b.data)


def test_param_groups_have_their_own_options():
    grads = _grads()
    w0, b0 = _init()
    w = mg.tensor(w0, requires_grad=True)
    b = mg.tensor(b0, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [b], "weight_decay": 0.0, "lr": 0.5}],
                    lr=0.1, momentum=0.9, weight_decay=0.1)
    assert opt.param_groups[0]["weight_decay"] == 0.1
    assert opt.param_groups[1]["momentum"] == 0.9
    for gw, gb in grads:
        w.grad, b.grad = mg.tensor(gw), mg.tensor(gb)
        opt.step()
    np.testing.assert_allclose(w.data, ref_sgd(w0, [g[0] for g in grads], 0.1, momentum=0.9,
                                               weight_decay=0.1), rtol=1e-12)
    np.testing.assert_allclose(b.data, ref_sgd(b0, [g[1] for g in grads], 0.5, momentum=0.9),
                               rtol=1e-12)


def test_add_param_group_and_duplicates():
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD({a}, lr=0.1)
    with pytest.raises(ValueError, match="floating-point"):
        optim.SGD([mg.tensor(np.ones(2, dtype=np.int64))], lr=0.1)
    frozen = mg.tensor(np.ones(2))  # accepted and skipped while it has no gradient (PyTorch)
    opt = optim.SGD([frozen, a], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_params_without_grad_are_skipped_and_zero_grad():
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(2))
    assert b not in opt.state and opt.state[a]["step"] == 1
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data, 0)
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_step_records_no_graph_and_runs_closure():
    x = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    for _ in range(3):
        loss = opt.step(closure)
    assert x.is_leaf and x.grad_fn is None
    np.testing.assert_allclose(x.data, np.array([1.0, -2.0]) * 0.5**3)
    assert float(loss) == pytest.approx(((np.array([1.0, -2.0]) * 0.25) ** 2).sum())


def test_load_state_dict_mismatch_leaves_optimizer_unchanged():
    a = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    a.grad = mg.tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros(4)
    sd["param_groups"][0]["lr"] = 123.0
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    np.testing.assert_array_equal(after["state"][0]["exp_avg"], before["state"][0]["exp_avg"])
    other = optim.Adam([a, mg.tensor(np.ones(1), requires_grad=True)])
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(before)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------------

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
]


def _closed_form(name, kw, base, epoch):
    if name == "StepLR":
        return base * kw["gamma"] ** (epoch // kw["step_size"])
    if name == "MultiStepLR":
        return base * kw["gamma"] ** sum(m <= epoch for m in kw["milestones"])
    if name == "ExponentialLR":
        return base * kw["gamma"] ** epoch
    eta = kw.get("eta_min", 0.0)
    return eta + (base - eta) * (1 + math.cos(math.pi * epoch / kw["T_max"])) / 2


def _two_group_sgd(lrs=(0.1, 0.5)):
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(2), requires_grad=True)
    return optim.SGD([{"params": [a], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}])


@pytest.mark.parametrize(("name", "kw"), SCHEDULES)
def test_schedule_closed_form(name, kw):
    opt = _two_group_sgd()
    s = getattr(sched, name)(opt, **kw)
    for epoch in range(20):
        want = [_closed_form(name, kw, base, epoch) for base in (0.1, 0.5)]
        if name == "CosineAnnealingLR" and epoch > kw["T_max"]:
            break  # past T_max the recursive form is PyTorch's own definition (checked vs torch)
        np.testing.assert_allclose(s.get_last_lr(), want, rtol=1e-10)
        assert [g["lr"] for g in opt.param_groups] == s.get_last_lr()
        opt.step()
        s.step()


@pytest.mark.parametrize(("name", "kw"), SCHEDULES)
def test_schedule_against_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt = _two_group_sgd()
    s = getattr(sched, name)(opt, **kw)
    tp = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [tp[0]], "lr": 0.1}, {"params": [tp[1]], "lr": 0.5}])
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(25):
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        topt.step()
        ts.step()
        s.step()


@pytest.mark.parametrize(("name", "kw"), SCHEDULES)
def test_schedule_state_dict_resumes(name, kw):
    opt = _two_group_sgd()
    s = getattr(sched, name)(opt, **kw)
    for _ in range(5):
        s.step()
    saved = pickle.loads(pickle.dumps((opt.state_dict(), s.state_dict())))
    for _ in range(6):
        s.step()
    want = s.get_last_lr()

    opt2 = _two_group_sgd()
    opt2.load_state_dict(saved[0])
    s2 = getattr(sched, name)(opt2, **kw)
    s2.load_state_dict(saved[1])
    for g, lr in zip(opt2.param_groups, s2.get_last_lr()):
        g["lr"] = lr
    for _ in range(6):
        s2.step()
    np.testing.assert_allclose(s2.get_last_lr(), want, rtol=1e-12)


PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=1, threshold=0.1, threshold_mode="abs"),
    dict(patience=2, cooldown=2, min_lr=[0.02, 0.001], factor=0.5),
]


@pytest.mark.parametrize("kw", PLATEAU)
def test_reduce_on_plateau_against_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 5), 0.5 + 0.01 * rng.standard_normal(40)])
    opt = _two_group_sgd()
    s = sched.ReduceLROnPlateau(opt, **kw)
    tp = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [tp[0]], "lr": 0.1}, {"params": [tp[1]], "lr": 0.5}])
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    lrs = []
    for m in metrics:
        s.step(m)
        ts.step(m)
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        lrs.append(s.get_last_lr()[0])
    assert len(set(lrs)) > 1  # the sequence did trigger reductions


def test_reduce_on_plateau_rules():
    opt = _two_group_sgd((1.0, 1.0))
    s = sched.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    for m in [1.0, 1.0, 1.0]:  # best=1, then 2 bad epochs: not more than patience
        s.step(m)
    assert s.get_last_lr() == [1.0, 1.0]
    s.step(1.0)  # third bad epoch > patience: halve
    assert s.get_last_lr() == [0.5, 0.5]
    s.step(1.0)  # cooldown epoch: not counted
    s.step(1.0)
    s.step(1.0)
    assert s.get_last_lr() == [0.5, 0.5]
    s.step(1.0)
    assert s.get_last_lr() == [0.25, 0.25]
    s.step(0.1)  # an improvement resets the count
    s.step(0.1)
    s.step(0.1)
    assert s.get_last_lr() == [0.25, 0.25]
