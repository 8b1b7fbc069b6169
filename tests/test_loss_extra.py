"""The losses and distances of issue 15 against PyTorch (forward and the gradient of every float
input, float64, modules and functions), their PyTorch-specific rules (KL 'mean' warning,
class-probability targets, clamped norms), and bad arguments. Forward references in NumPy and
gradchecks come from the registry (tests/test_forward.py, tests/test_gradients.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

RNG = np.random.default_rng(0)
TOL = 1e-10


def _torch():
    return pytest.importorskip("torch")


def _compare(ours, theirs, arrays, tol=TOL):
    """ours(*tensors) vs theirs(*torch tensors): value and the gradient of every float input."""
    torch = _torch()
    ms = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    y, yt = ours(*ms), theirs(*ts)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = RNG.standard_normal(yt.shape)
    (y * mg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for i, (m, t) in enumerate(zip(ms, ts)):
        if t.requires_grad:
            assert m.grad is not None, f"input {i}: no gradient"
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol,
                                       err_msg=f"gradient of input {i}")


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 5, 3)])
@pytest.mark.parametrize("smoothing, weighted", [(0.0, False), (0.2, False), (0.1, True)])
def test_cross_entropy_with_probability_targets_matches_torch(reduction, shape, smoothing,
                                                              weighted):
    torch = _torch()
    x = RNG.standard_normal(shape) * 2
    t = RNG.uniform(0.01, 1, shape)
    t /= t.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    c = shape[1] if len(shape) > 1 else shape[0]
    w = RNG.uniform(0.5, 2, c) if weighted else None
    ours = nn.CrossEntropyLoss(None if w is None else mg.tensor(w), reduction=reduction,
                               label_smoothing=smoothing)
    theirs = torch.nn.CrossEntropyLoss(None if w is None else torch.tensor(w),
                                       reduction=reduction, label_smoothing=smoothing)
    _compare(ours, theirs, [x, t])  # the target's gradient too


def test_cross_entropy_probability_target_rules():
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match="ignore_index is not supported with class-probability"):
        F.cross_entropy(x, mg.rand(3, 4), ignore_index=0)
    with pytest.raises(TypeError, match=r"class indices \(int64\) or class probabilities of the "
                                        r"input's shape, got dtype float32 of shape \(3,\)"):
        F.cross_entropy(x, mg.rand(3))
    assert F.cross_entropy(x, np.full((3, 4), 0.25)).shape == ()  # an array target works too


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    torch = _torch()
    x = np.log(RNG.dirichlet(np.ones(5), 4))
    t = RNG.dirichlet(np.ones(5), 4)
    if log_target:
        t = np.log(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare(nn.KLDivLoss(reduction, log_target=log_target),
                 torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), [x, t])


def test_kl_div_mean_warns_and_zero_targets_have_zero_terms():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(mg.tensor([[-1.0, -2.0]]), mg.tensor([[0.5, 0.5]]))
    x = mg.tensor([[-1.0, -2.0]], requires_grad=True)
    t = mg.tensor([[0.0, 1.0]], requires_grad=True)
    loss = F.kl_div(x, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), 1.0 * (0.0 + 2.0))  # the t = 0 term is 0
    loss.backward()
    # d/dt = log t + 1 - x; at t = 0 the t log t term contributes 0 (PyTorch: NaN), -x = 1 stays
    np.testing.assert_allclose(t.grad.numpy(), [[1.0, 0.0 + 1.0 + 2.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_and_smooth_l1_match_torch(reduction, delta):
    torch = _torch()
    x, t = RNG.standard_normal((6, 3)) * 2, RNG.standard_normal((6, 3))
    _compare(nn.HuberLoss(reduction, delta), torch.nn.HuberLoss(reduction, delta), [x, t])
    _compare(nn.SmoothL1Loss(reduction, beta=delta),
             torch.nn.SmoothL1Loss(reduction=reduction, beta=delta), [x, t])
    w = RNG.uniform(0, 2, (6, 3))
    _compare(lambda a, b, c: F.huber_loss(a, b, reduction, delta, weight=c),
             lambda a, b, c: torch.nn.functional.huber_loss(a, b, reduction, delta, weight=c),
             [x, t, w])


def test_smooth_l1_with_beta_zero_is_l1():
    torch = _torch()
    x, t = RNG.standard_normal(7), RNG.standard_normal(7)
    _compare(nn.SmoothL1Loss(beta=0.0), torch.nn.SmoothL1Loss(beta=0.0), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_weight_matches_torch(reduction):
    torch = _torch()
    p, t = RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(0, 1, (4, 3))
    for w in (RNG.uniform(0, 2, (4, 3)), RNG.uniform(0, 2, 3)):  # full and broadcast weights
        _compare(nn.BCELoss(mg.tensor(w), reduction),
                 torch.nn.BCELoss(torch.tensor(w), reduction=reduction), [p, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_margin_ranking_loss_matches_torch(reduction, margin):
    torch = _torch()
    a, b = RNG.standard_normal(8), RNG.standard_normal(8)
    y = RNG.choice([-1.0, 1.0], 8)
    _compare(nn.MarginRankingLoss(margin, reduction),
             torch.nn.MarginRankingLoss(margin, reduction=reduction), [a, b, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [-0.3, 0.0, 0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    torch = _torch()
    a, b = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
    y = np.array([1, -1, 1, -1, -1, 1])
    ours = nn.CosineEmbeddingLoss(margin, reduction)
    theirs = torch.nn.CosineEmbeddingLoss(margin, reduction=reduction)
    _compare(lambda p, q: ours(p, q, mg.tensor(y)), lambda p, q: theirs(p, q, torch.tensor(y)),
             [a, b])
    _compare(lambda p, q: ours(p, q, mg.tensor(-1)), lambda p, q: theirs(p, q, torch.tensor(-1)),
             [a[0], b[0]])  # unbatched: (D,) inputs, 0-d target


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_loss_matches_torch(p, swap, reduction):
    torch = _torch()
    a, pos, neg = (RNG.standard_normal((5, 4)) for _ in range(3))
    _compare(nn.TripletMarginLoss(1.5, p, swap=swap, reduction=reduction),
             torch.nn.TripletMarginLoss(1.5, p, swap=swap, reduction=reduction), [a, pos, neg])


@pytest.mark.parametrize("p", [1.0, 2.0, 0.5, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(p, keepdim):
    torch = _torch()
    a, b = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))
    _compare(nn.PairwiseDistance(p, keepdim=keepdim),
             torch.nn.PairwiseDistance(p, keepdim=keepdim), [a, b])
    _compare(nn.PairwiseDistance(p), torch.nn.PairwiseDistance(p), [a, b[0]])  # broadcast


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cosine_similarity_matches_torch(dim):
    torch = _torch()
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    _compare(nn.CosineSimilarity(dim), torch.nn.CosineSimilarity(dim), [a, b])
    _compare(nn.CosineSimilarity(dim), torch.nn.CosineSimilarity(dim), [a, b[:1]])


def test_cosine_similarity_clamped_norms_match_torch():
    """A norm below eps is clamped in the forward and its gradient passes unchanged (PyTorch's
    rule); an all-zero vector gets a zero gradient for its norm."""
    torch = _torch()
    b = RNG.standard_normal((2, 3))
    tiny = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]]) * 1e-9
    _compare(lambda x, y: F.cosine_similarity(x, y), lambda x, y:
             torch.nn.functional.cosine_similarity(x, y), [tiny, b], tol=1e-7)


def test_pairwise_distance_of_equal_points_has_a_zero_gradient():
    a = mg.tensor([[1.0, 2.0]], requires_grad=True)
    d = F.pairwise_distance(a, mg.tensor([[1.0, 2.0]]), eps=0.0)
    d.sum().backward()
    assert d.item() == 0 and np.all(a.grad.numpy() == 0)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.huber_loss(mg.randn(3), mg.randn(3), delta=0.0), ValueError, "delta must be > 0"),
    (lambda: F.huber_loss(mg.randn(3), mg.randn(3), weight=mg.randn(2)), ValueError,
     "weight of shape"),
    (lambda: F.smooth_l1_loss(mg.randn(3), mg.randn(3), beta=-1.0), ValueError, "beta must be"),
    (lambda: F.smooth_l1_loss(mg.randn(3), mg.randn(4)), ValueError, "target shape"),
    (lambda: F.kl_div(mg.randn(3), mg.randn(3), reduction="avg"), ValueError, "batchmean"),
    (lambda: F.margin_ranking_loss(mg.randn(3), mg.randn(3), mg.randn(1, 3)), ValueError,
     "same number of dimensions"),
    (lambda: F.cosine_embedding_loss(mg.randn(3, 2), mg.randn(3, 2), mg.tensor(1)), ValueError,
     r"\(N, D\) with target \(N,\)"),
    (lambda: F.triplet_margin_loss(mg.randn(3, 2), mg.randn(3, 2), mg.randn(2)), ValueError,
     "same number of dimensions"),
    (lambda: F.triplet_margin_loss(mg.randn(1, 3, 2), mg.randn(1, 3, 2), mg.randn(1, 3, 2)),
     ValueError, r"\(N, D\) or \(D,\)"),
    (lambda: F.pairwise_distance(mg.randn(3), mg.randn(3), p=0), ValueError, "p must be"),
    (lambda: F.pairwise_distance(mg.randn(3), mg.randn(4)), ValueError, "broadcast"),
    (lambda: F.cosine_similarity(mg.randn(3, 2), mg.randn(3, 2), dim=2), ValueError,
     "dim 2 is out of range"),
    (lambda: F.cosine_similarity(mg.randn(3, 2), np.ones((3, 2))), TypeError, "x2 must be"),
    (lambda: nn.HuberLoss(delta=-1), ValueError, "HuberLoss: delta"),
    (lambda: nn.TripletMarginLoss(p=-2), ValueError, "TripletMarginLoss: p"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- CTC -----------------------------------------------------------------------------------------

CTC_T, CTC_N, CTC_C = 12, 4, 6
CTC_TARGETS = np.array([[1, 2, 2, 5, 0], [3, 3, 3, 0, 0], [4, 0, 0, 0, 0], [1, 5, 2, 4, 3]])
CTC_INPUT_LENGTHS = [12, 9, 3, 10]
CTC_TARGET_LENGTHS = [4, 3, 1, 5]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["padded", "concatenated", "unbatched"])
@pytest.mark.parametrize("blank", [0, 5])
def test_ctc_loss_through_log_softmax_matches_torch(reduction, layout, blank):
    torch = _torch()
    z = RNG.standard_normal((CTC_T, CTC_N, CTC_C))
    targets = np.where(CTC_TARGETS == blank, 5 - blank, CTC_TARGETS)  # no blank in a target
    il, tl = CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS
    if layout == "concatenated":
        targets = np.concatenate([targets[i, :tl[i]] for i in range(CTC_N)])
    if layout == "unbatched":
        z, targets, il, tl = z[:, 0], targets[0, :tl[0]], il[:1], tl[:1]

    def run(module, zz):
        t = torch.tensor(targets) if module is torch.nn.functional else mg.tensor(targets)
        lp = zz.log_softmax(-1) if module is torch.nn.functional else F.log_softmax(zz, -1)
        return module.ctc_loss(lp, t, il, tl, blank=blank, reduction=reduction)

    _compare(lambda zz: run(F, zz), lambda zz: run(torch.nn.functional, zz), [z])


def test_ctc_loss_module_zero_infinity_and_empty_inputs_match_torch():
    torch = _torch()
    z = RNG.standard_normal((5, 3, 4))
    targets = np.array([[1, 1, 1], [2, 3, 0], [1, 0, 0]])
    il, tl = [5, 0, 0], [3, 0, 1]  # 1 1 1 needs 5 frames; an empty input with an empty target
    # is certain (loss 0); an empty input with a label is impossible
    for zero_infinity in (False, True):
        ours = nn.CTCLoss(blank=0, reduction="none", zero_infinity=zero_infinity)
        theirs = torch.nn.CTCLoss(blank=0, reduction="none", zero_infinity=zero_infinity)
        zm, zt = mg.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        y = ours(F.log_softmax(zm, 2), mg.tensor(targets), mg.tensor(il), mg.tensor(tl))
        yt = theirs(zt.log_softmax(2), torch.tensor(targets), torch.tensor(il),
                    torch.tensor(tl))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=TOL, atol=TOL)
        assert np.isinf(y.numpy()[2]) != zero_infinity
        if zero_infinity:
            y.sum().backward()
            yt.sum().backward()
            np.testing.assert_allclose(zm.grad.numpy(), zt.grad.numpy(), rtol=TOL, atol=TOL)


def test_ctc_loss_gradient_is_the_exact_derivative_on_unnormalised_inputs():
    """PyTorch's backward adds exp(log_probs) (right only after a log_softmax); ours is the
    derivative of the value, so the two differ here by exactly that term."""
    torch = _torch()
    lp = RNG.standard_normal((6, 2, 4)) - 1.0
    targets, il, tl = np.array([[1, 2], [3, 0]]), [6, 4], [2, 1]
    ours = mg.tensor(lp, requires_grad=True)
    F.ctc_loss(ours, targets, il, tl, reduction="sum").backward()
    theirs = torch.tensor(lp, requires_grad=True)
    torch.nn.functional.ctc_loss(theirs, torch.tensor(targets), il, tl,
                                 reduction="sum").backward()
    used = (np.arange(6)[:, None] < np.array(il))[:, :, None]
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy() - np.exp(lp) * used,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 0], [2, 2]]), [5, 5], [2, 2]),
     ValueError, "other than blank=0"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 4], [2, 2]]), [5, 5], [2, 2]),
     ValueError, r"class indices in \[0, 4\)"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 2], [2, 2]]), [6, 5], [2, 2]),
     ValueError, r"input_lengths must be in \[0, 5\]"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 2], [2, 2]]), [5, 5], [2, 3]),
     ValueError, "shorter than the longest target length 3"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([1, 2, 3]), [5, 5], [2, 2]),
     ValueError, "sum\\(target_lengths\\) = 4"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 2], [2, 2]]), [5], [2, 2]),
     ValueError, r"input_lengths must have one entry per sample \(2\)"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1.0, 2.0], [2.0, 2.0]]), [5, 5], [2, 2]),
     TypeError, "targets must hold integers"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 4), np.array([[1, 2], [2, 2]]), [5, 5], [2, 2],
                        blank=4), ValueError, r"blank must be in \[0, 4\)"),
    (lambda: F.ctc_loss(mg.randn(5, 2, 2, 4), np.array([[1, 2]]), [5], [2]), ValueError,
     r"\(T, N, C\) or \(T, C\)"),
    (lambda: nn.CTCLoss(reduction="avg"), ValueError, "CTCLoss: reduction"),
])
def test_ctc_loss_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
