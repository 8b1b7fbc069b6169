"""LambdaLR, MultiplicativeLR, LinearLR, ConstantLR, SequentialLR (warm-up) and OneCycleLR
against torch.optim.lr_scheduler step for step (learning rates and, for OneCycleLR, the
momentum or beta1), their closed forms where they have one, state-dict round trips (pickle and
minigrad.save) and bad arguments."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler as S


def _groups(lib, opt_name="SGD", **kw):
    if lib is S:
        ps = [mg.tensor(np.ones(2), requires_grad=True) for _ in range(2)]
        cls = getattr(optim, opt_name)
    else:
        torch = lib
        ps = [torch.zeros(2, requires_grad=True) for _ in range(2)]
        cls = getattr(torch.optim, opt_name)
    return cls([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.5}], **kw)


def _ours_or_torch(lib):
    return S if lib is S else lib.optim.lr_scheduler


class Halve:
    """A callable object: its attributes are saved by LambdaLR.state_dict (functions are not)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


CASES = {
    "lambda": lambda o, L: L.LambdaLR(o, lambda e: 0.9 ** e),
    "lambda-per-group": lambda o, L: L.LambdaLR(o, [lambda e: 0.9 ** e, Halve(3)]),
    "lambda-warmup": lambda o, L: L.LambdaLR(o, lambda e: min(1.0, (e + 1) / 5)),
    "multiplicative": lambda o, L: L.MultiplicativeLR(o, lambda e: 0.95),
    "linear-warmup": lambda o, L: L.LinearLR(o, 0.25, 1.0, 4),
    "linear-decay": lambda o, L: L.LinearLR(o, 1.0, 0.1, 6),
    "constant": lambda o, L: L.ConstantLR(o, 0.5, 3),
    "warmup-then-cosine": lambda o, L: L.SequentialLR(
        o, [L.LinearLR(o, 0.1, 1.0, 5), L.CosineAnnealingLR(o, 10)], milestones=[5]),
    "three-phases": lambda o, L: L.SequentialLR(
        o, [L.ConstantLR(o, 0.1, 2), L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)],
        milestones=[3, 8]),
    "warmup-then-multistep": lambda o, L: L.SequentialLR(
        o, [L.LambdaLR(o, lambda e: (e + 1) / 4), L.MultiStepLR(o, [3, 6], 0.2)],
        milestones=[4]),
    "onecycle": lambda o, L: L.OneCycleLR(o, [1.0, 2.0], total_steps=30),
    "onecycle-linear-3phase": lambda o, L: L.OneCycleLR(
        o, 1.0, epochs=3, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, base_momentum=[0.8, 0.7], max_momentum=0.9),
}
STEPS = 29  # OneCycleLR's 30 steps, less the constructor's


def _momentum(opt):
    g = opt.param_groups[1]
    return g["betas"][0] if "betas" in g else g.get("momentum", 0.0)


@pytest.mark.parametrize("opt_name, kw", [("SGD", {"momentum": 0.9}), ("Adam", {})])
@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_torch(case, opt_name, kw):
    torch = pytest.importorskip("torch")
    ours_opt, their_opt = _groups(S, opt_name, **kw), _groups(torch, opt_name, **kw)
    ours = CASES[case](ours_opt, S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "step before optimizer.step" warnings
        theirs = CASES[case](their_opt, torch.optim.lr_scheduler)
        for _ in range(STEPS):
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
            assert [g["lr"] for g in ours_opt.param_groups] == ours.get_last_lr()
            np.testing.assert_allclose(_momentum(ours_opt), _momentum(their_opt), rtol=1e-12)
            their_opt.step()
            theirs.step()
            ours_opt.step()
            ours.step()


def test_linear_warmup_closed_form_and_onecycle_shape():
    opt = _groups(S)
    s = S.LinearLR(opt, start_factor=0.2, end_factor=1.0, total_iters=4)
    for epoch in range(8):
        factor = 0.2 + 0.8 * min(epoch, 4) / 4
        np.testing.assert_allclose(s.get_last_lr(), [0.1 * factor, 0.5 * factor], rtol=1e-12)
        s.step()
    opt = _groups(S, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3)
    lrs, moms = [], []
    for _ in range(100):
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        s.step()
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0, rel=1e-3)
    assert int(np.argmax(lrs)) == 29 and lrs[-1] == pytest.approx(1 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85, rel=1e-3)
    with pytest.raises(ValueError, match="tried to step 101 times"):
        s.step()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("via", ["pickle", "minigrad.save"])
def test_state_dict_resumes_identically(case, via, tmp_path):
    opt = _groups(S, momentum=0.9)
    s = CASES[case](opt, S)
    for _ in range(7):
        opt.step()
        s.step()
    if via == "pickle":
        saved = pickle.loads(pickle.dumps((opt.state_dict(), s.state_dict())))
    else:
        path = tmp_path / "ckpt.npz"
        mg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, path)
        loaded = mg.load(path)
        saved = (loaded["opt"], loaded["sched"])
    want = []
    for _ in range(10):
        s.step()
        want.append((s.get_last_lr(), _momentum(opt)))

    opt2 = _groups(S, momentum=0.9)
    s2 = CASES[case](opt2, S)  # built with the same functions, then loaded
    opt2.load_state_dict(saved[0])
    s2.load_state_dict(saved[1])
    got = []
    for _ in range(10):
        s2.step()
        got.append((s2.get_last_lr(), _momentum(opt2)))
    for (a, ma), (b, mb) in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert ma == pytest.approx(mb, rel=1e-12)


def test_lambda_state_dict_saves_callable_objects_not_functions():
    opt = _groups(S)
    fn = Halve(2)
    s = S.LambdaLR(opt, [lambda e: 1.0, fn])
    state = s.state_dict()
    assert state["lr_lambdas"] == [None, {"every": 2}]
    fn.every = 5
    s.load_state_dict(state)
    assert fn.every == 2


@pytest.mark.parametrize("call, error, match", [
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 values of lr_lambda"),
    (lambda o: S.LambdaLR(o, 3.0), TypeError, "lr_lambda must be a function"),
    (lambda o: S.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: S.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: S.ConstantLR(o, factor=2.0), ValueError, "factor"),
    (lambda o: S.SequentialLR(o, [S.ExponentialLR(o, 0.9)], milestones=[3]), ValueError,
     "one milestone fewer"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], milestones=[]), ValueError,
     "ReduceLROnPlateau"),
    (lambda o: S.SequentialLR(o, [S.ExponentialLR(_groups(S), 0.9)], milestones=[]),
     ValueError, "another optimizer"),
    (lambda o: S.OneCycleLR(o, 1.0), ValueError, "total_steps or"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=0), ValueError, "positive int total_steps"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, [1.0], total_steps=10), ValueError, "expected 2 values"),
    (lambda o: S.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), 1.0, total_steps=10),
     ValueError, "cycle_momentum"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(_groups(S))


def test_cosine_after_warmup_reaches_eta_min():
    opt = _groups(S)
    s = S.SequentialLR(opt, [S.LinearLR(opt, 0.01, total_iters=3),
                             S.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)], milestones=[3])
    lrs = []
    for _ in range(10):
        lrs.append(s.get_last_lr()[0])
        s.step()
    np.testing.assert_allclose(lrs[:4], [0.001, 0.1 * (0.01 + 0.99 / 3),
                                         0.1 * (0.01 + 0.99 * 2 / 3), 0.1], rtol=1e-12)
    assert lrs[9] == pytest.approx(0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi)) / 2)
