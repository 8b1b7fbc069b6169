"""Conv CPU fast paths: the batch split over threads, Winograd F(2x2, 3x3) for 3x3 stride-1
layers, the direct input gradient and the packed-plane kernels.

Both are tuning, not semantics: with any thread count, split threshold, chunking or Winograd
threshold, the kernels must equal the NumPy-loop references (minigrad.testing.conv_reference).
Timings live in bench/, not here.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minigrad.ops.kernels.cpu import conv as K
from minigrad.ops.kernels.cpu import conv_direct as D
from minigrad.ops.kernels.cpu import conv_planes as PL
from minigrad.ops.kernels.cpu import conv_split as S
from minigrad.ops.kernels.cpu import conv_winograd as WG
from minigrad.testing import conv_reference as R
from tests.test_conv import _layout

DTYPES = [np.float32, np.float64]

# S.MAX_THREADS: how many threads split the batch; S.SPLIT_FLOPS = 0 forces the split even for
# these tiny problems. The batch is split by chunks of samples, so the split plans also make the
# chunks small (K._FOLD_BELOW=0: one sample per chunk; or a small K._COLS_BUDGET), else a tiny
# batch is one chunk and nothing splits.
# The packed planes (tested below) would take most of these geometries: off here.
NO_PLANES = {(PL, "use_planes"): lambda oh, ow: False}
PLANS = {
    "serial": {(S, "MAX_THREADS"): 1},
    "split2_per_sample": {(S, "MAX_THREADS"): 2, (S, "SPLIT_FLOPS"): 0, (K, "_FOLD_BELOW"): 0},
    "split3_folded": {(S, "MAX_THREADS"): 3, (S, "SPLIT_FLOPS"): 0, (K, "_FOLD_BELOW"): 10**9,
                      (K, "_COLS_BUDGET"): 5000},
    "split2_folded": {(S, "MAX_THREADS"): 2, (S, "SPLIT_FLOPS"): 0, (K, "_FOLD_BELOW"): 10**9,
                      (K, "_COLS_BUDGET"): 3000},
    "one_chunk": {(S, "SPLIT_FLOPS"): 0, (K, "_FOLD_BELOW"): 10**9, (K, "_COLS_BUDGET"): 1 << 30},
}


def _tol(dtype, scale=1.0):
    return (dict(rtol=1e-4, atol=1e-4 * scale) if dtype == np.float32
            else dict(rtol=1e-10, atol=1e-10 * scale))


@st.composite
def geometries(draw):
    """conv2d geometry with asymmetric padding, strides, dilations, groups, batch up to 7."""
    g = draw(st.integers(1, 2))
    cg, kg, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 7))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    assume(R.out_size(h, r, stride[0], padding[0], padding[1], dilation[0]) >= 1)
    assume(R.out_size(w, s, stride[1], padding[2], padding[3], dilation[1]) >= 1)
    return dict(x_shape=(n, g * cg, h, w), w_shape=(g * kg, cg, r, s), stride=stride,
                padding=padding, dilation=dilation, groups=g)


def _args(geo):
    return geo["stride"], geo["padding"], geo["dilation"], geo["groups"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_kernels_match_loops_under_every_plan(plan, dtype, geo, layout, with_bias, seed):
    with pytest.MonkeyPatch.context() as mp:
        for (module, name), value in {**NO_PLANES, **PLANS[plan]}.items():
            mp.setattr(module, name, value)
        _check_kernels(dtype, geo, layout, with_bias, seed)


def _check_kernels(dtype, geo, layout, with_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geo["x_shape"]).astype(dtype)
    w = rng.standard_normal(geo["w_shape"]).astype(dtype)
    b = rng.standard_normal(geo["w_shape"][0]).astype(dtype) if with_bias else None

    y = K.conv2d_forward(_layout(x, layout), _layout(w, layout), *_args(geo), bias=b)
    expected = R.conv2d_ref(x, w, b, *_args(geo)[:3], groups=geo["groups"])
    assert y.dtype == dtype and y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **_tol(dtype, 10))

    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = K.conv2d_grad_input(_layout(gy, layout), _layout(w, layout), x.shape[2:], *_args(geo))
    np.testing.assert_allclose(gx, R.conv2d_grad_input_ref(gy, w, x.shape[2:], *_args(geo)),
                               **_tol(dtype, 10))
    gw = K.conv2d_grad_weight(_layout(x, layout), _layout(gy, layout), w.shape[2:], *_args(geo))
    assert gw.dtype == dtype and gw.shape == w.shape
    np.testing.assert_allclose(gw, R.conv2d_grad_weight_ref(x, gy, w.shape[2:], *_args(geo)),
                               **_tol(dtype, 30))


@st.composite
def winograd_geometries(draw):
    """3x3, stride 1, no dilation, one group: Winograd's domain. Padding 3 is allowed: the
    forward still takes Winograd, the input gradient falls back to col2im."""
    c, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(4))
    assume(h + padding[0] + padding[1] >= 3 and w + padding[2] + padding[3] >= 3)
    return dict(x_shape=(n, c, h, w), w_shape=(k, c, 3, 3), stride=(1, 1), padding=padding,
                dilation=(1, 1), groups=1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=winograd_geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_winograd_matches_loops(threads, dtype, geo, layout, with_bias, seed):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(WG, "MIN_CHANNELS", 1)
        mp.setattr(PL, "use_planes", NO_PLANES[PL, "use_planes"])
        mp.setattr(S, "MAX_THREADS", threads)
        mp.setattr(S, "SPLIT_FLOPS", 0)
        _check_kernels(dtype, geo, layout, with_bias, seed)


def test_winograd_is_taken_where_documented(monkeypatch):
    """Guards the dispatch (a silent fall-back would leave the tests above testing im2col)."""
    calls = []
    real = WG.conv
    monkeypatch.setattr(WG, "conv", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(WG, "MIN_CHANNELS", 2)
    rng = np.random.default_rng(4)
    # 3x3 planes: under the 16 pixels of the packed-plane kernels
    x, w = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((4, 3, 3, 3))
    y = K.conv2d_forward(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    K.conv2d_grad_input(y, w, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert len(calls) == 2
    K.conv2d_forward(x, w, (2, 1), (1, 1, 1, 1), (1, 1), 1)  # strided: im2col
    K.conv2d_forward(x, w, (1, 1), (1, 1, 1, 1), (1, 2), 1)  # dilated: im2col
    K.conv2d_forward(x[:, :1], w[:, :1], (1, 1), (1, 1, 1, 1), (1, 1), 1)  # 1 channel: im2col
    assert len(calls) == 2


def test_split_runs_in_threads_on_a_plain_install(monkeypatch):
    """threadpoolctl is a dependency, so a large conv's batch is split on any install (it used
    to be split only when some other package had happened to install threadpoolctl)."""
    import threadpoolctl

    if not threadpoolctl.ThreadpoolController().select(user_api="blas").info():
        pytest.skip("threadpoolctl finds no BLAS library in this NumPy")
    monkeypatch.setattr(S, "MAX_THREADS", 2)
    monkeypatch.setattr(S._Blas, "ready", False)  # set up afresh, as in a new process
    monkeypatch.setattr(S._Blas, "controller", None)
    threads = set()

    def work(lo, hi):
        threads.add(threading.get_ident())
        return hi - lo

    assert S.split(4, work, 4 * S.SPLIT_FLOPS) == [2, 2]
    assert S._Blas.controller is not None
    assert len(threads) == 2


def test_split_restores_the_blas_thread_count(monkeypatch):
    import threadpoolctl

    monkeypatch.setattr(S, "SPLIT_FLOPS", 0)
    monkeypatch.setattr(K, "_FOLD_BELOW", 0)  # one sample per chunk, so the batch does split

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"}

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3))
    before = blas_threads()
    y = K.conv2d_forward(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    np.testing.assert_allclose(y, R.conv2d_ref(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1)),
                               rtol=1e-10, atol=1e-10)
    after = blas_threads()
    assert {k: v for k, v in after.items() if k in before} == before


def test_concurrent_callers_get_correct_results(monkeypatch):
    """Two user threads in split convs at once: one splits, the other runs serially."""
    monkeypatch.setattr(S, "SPLIT_FLOPS", 0)
    monkeypatch.setattr(S, "MAX_THREADS", 2)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((6, 4, 12, 11)) for _ in range(2)]
    w = rng.standard_normal((5, 4, 3, 3))
    geo = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    expected = [R.conv2d_ref(x, w, None, *geo[:3]) for x in xs]
    results: dict[int, list[np.ndarray]] = {0: [], 1: []}

    def run(i):
        for _ in range(20):
            results[i].append(K.conv2d_forward(xs[i], w, *geo))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert len(results[i]) == 20
        for y in results[i]:
            np.testing.assert_allclose(y, expected[i], rtol=1e-10, atol=1e-10)


def _conv_in_child(x, w, expected, q):
    y = K.conv2d_forward(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    q.put(bool(np.allclose(y, expected, rtol=1e-10, atol=1e-10)))


def test_split_works_in_a_forked_child(monkeypatch):
    """A forked process inherits the thread pool object but not its threads: no hang."""
    mp = pytest.importorskip("multiprocessing")
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(S, "SPLIT_FLOPS", 0)
    monkeypatch.setattr(S, "MAX_THREADS", 2)
    monkeypatch.setattr(K, "_FOLD_BELOW", 0)  # one sample per chunk, so the batch does split
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3))
    expected = R.conv2d_ref(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1))
    K.conv2d_forward(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1)  # the parent's pool exists
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_conv_in_child, args=(x, w, expected, q))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("conv2d_forward hung in a forked child")
    assert child.exitcode == 0 and q.get(timeout=5)


# ------------------------------------------------------------------------------------------------
# the direct CHWN input gradient (small channel counts, stride 1 along the width)

# every shape through the direct kernel (the real thresholds leave most tiny geometries to others)
DIRECT_ON = dict(MAX_TAPS=10**9, MAX_CHANNELS=10**9, MIN_LANES=1)


@st.composite
def direct_geometries(draw):
    """One group, stride 1 along the width (the direct path's domain); channel counts around the
    blocks of 4 written channels and 4 taps, asymmetric padding, row stride and dilations."""
    c, k, n = draw(st.integers(1, 7)), draw(st.integers(1, 9)), draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), 1)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    assume(R.out_size(h, r, stride[0], padding[0], padding[1], dilation[0]) >= 1)
    assume(R.out_size(w, s, 1, padding[2], padding[3], dilation[1]) >= 1)
    return dict(x_shape=(n, c, h, w), w_shape=(k, c, r, s), stride=stride, padding=padding,
                dilation=dilation, groups=1)


def _force_direct(mp: pytest.MonkeyPatch) -> None:
    for name, value in DIRECT_ON.items():
        mp.setattr(D, name, value)
    real = D.use_direct
    # also the input gradient with 1-2 channels (the C >= 3 rule sends those elsewhere)
    mp.setattr(D, "use_direct", lambda *a, min_out=1: real(*a))
    mp.setattr(PL, "planes_grad_input", lambda *a: False)


def _taken(monkeypatch, module, names=("forward", "grad_input", "grad_weight")) -> list[str]:
    calls: list[str] = []
    for name in names:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    return calls


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=direct_geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_direct_grad_input_matches_loops(dtype, geo, layout, with_bias, seed):
    with pytest.MonkeyPatch.context() as mp:
        _force_direct(mp)
        calls = _taken(mp, D, ("grad_input",))
        _check_kernels(dtype, geo, layout, with_bias, seed)
        assert calls == ([] if _pointwise(geo) else ["grad_input"])  # 1x1: a plain GEMM


@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_path_on_the_lenet_layer(monkeypatch, dtype):
    """(N, 6, 14, 14) -> 16 5x5 (LeNet's second layer, the shape the path is kept for) with the
    real thresholds: the input gradient goes direct, forward and weight gradient to the planes,
    and all match the loops; a bigger batch than the drawn tests (lanes = 10 x 9 = 90 per row)."""
    calls = _taken(monkeypatch, D, ("grad_input",))
    planes = _taken(monkeypatch, PL)
    geo = dict(x_shape=(9, 6, 14, 14), w_shape=(16, 6, 5, 5), stride=(1, 1),
               padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    _check_kernels(dtype, geo, "contiguous", True, 3)
    assert calls == ["grad_input"] and planes == ["forward", "grad_weight"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_kernels_split_over_threads_match_loops(monkeypatch, dtype):
    """The direct kernel's work items split over Numba's threads (any size, here): same values."""
    import numba

    if numba.get_num_threads() < 2:
        pytest.skip("one Numba thread: nothing to split")
    monkeypatch.setattr(D, "SPLIT_MACS", 0)
    _force_direct(monkeypatch)
    parallel = _taken(monkeypatch, D, ("_rows_parallel",))
    geo = dict(x_shape=(5, 6, 11, 9), w_shape=(11, 6, 3, 4), stride=(2, 1),
               padding=(1, 0, 2, 1), dilation=(1, 2), groups=1)
    _check_kernels(dtype, geo, "contiguous", True, 4)
    assert parallel == ["_rows_parallel"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_padding_taps_do_not_spread_inf(monkeypatch, dtype):
    """Taps added to fill blocks of 4 read zeros with zero weights: an inf in gy must give
    inf/NaN exactly where the loops give them, nowhere else."""
    _force_direct(monkeypatch)
    calls = _taken(monkeypatch, D, ("grad_input",))
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 2, 3, 2)).astype(dtype)  # 12 taps per output, 3 channels of 4
    geo = ((1, 1), (1, 0, 0, 1), (1, 1))
    gy = rng.standard_normal((3, 3, 5, 7)).astype(dtype)
    gy[2, 1, 3, 4] = -np.inf
    gx = K.conv2d_grad_input(gy, w, (6, 7), *geo, 1)
    gx_ref = R.conv2d_grad_input_ref(gy, w, (6, 7), *geo)
    np.testing.assert_array_equal(np.isfinite(gx), np.isfinite(gx_ref))
    np.testing.assert_allclose(gx[np.isfinite(gx_ref)], gx_ref[np.isfinite(gx_ref)],
                               **_tol(dtype, 10))
    assert calls == ["grad_input"]


# ------------------------------------------------------------------------------------------------
# the packed-plane kernels (conv_planes.py, on microkernels.py's tiles)


def _force_planes(mp: pytest.MonkeyPatch) -> None:
    """Every product of every non-pointwise geometry through the planes (Winograd and the direct
    input gradient never see these small layers: fewer than 16 channels / planes first)."""
    mp.setattr(PL, "use_planes", lambda oh, ow: True)
    mp.setattr(PL, "planes_grad_input", lambda *a: True)


def _pointwise(geo) -> bool:
    return geo["w_shape"][2:] == (1, 1) and geo["stride"] == (1, 1) and not any(geo["padding"])


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_planes_kernels_match_loops(dtype, geo, layout, with_bias, seed):
    """Strides, asymmetric padding, dilations, groups, batch 1-7, through all three kernels."""
    with pytest.MonkeyPatch.context() as mp:
        _force_planes(mp)
        calls = _taken(mp, PL)
        _check_kernels(dtype, geo, layout, with_bias, seed)
        expected = [] if _pointwise(geo) else ["forward", "grad_input", "grad_weight"]
        assert calls == expected


# channel counts around the 8/6/4/2/1 channel blocks and the dots tile, groups, strides, batch 1
PLANE_LAYERS = [
    dict(x_shape=(1, 1, 12, 12), w_shape=(17, 1, 5, 5), stride=(1, 1), padding=(2, 2, 2, 2),
         dilation=(1, 1), groups=1),
    dict(x_shape=(3, 12, 9, 10), w_shape=(18, 4, 3, 2), stride=(2, 3), padding=(1, 0, 2, 1),
         dilation=(1, 2), groups=3),
    dict(x_shape=(2, 9, 11, 7), w_shape=(7, 9, 1, 1), stride=(2, 2), padding=(0, 0, 0, 0),
         dilation=(1, 1), groups=1),
    dict(x_shape=(5, 6, 14, 14), w_shape=(16, 6, 5, 5), stride=(1, 1), padding=(0, 0, 0, 0),
         dilation=(1, 1), groups=1),
]


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", PLANE_LAYERS)
def test_planes_blocks_and_threads_match_loops(monkeypatch, geo, dtype, threads):
    import numba

    _force_planes(monkeypatch)
    if threads == "parallel":
        if numba.get_num_threads() < 2:
            pytest.skip("one Numba thread: nothing to split")
        monkeypatch.setattr(PL, "SPLIT_MACS", 0)
        monkeypatch.setattr(PL, "DOT_LANES", 0)  # one sample per chunk: the chunks split too
    parallel = _taken(monkeypatch, PL, ("_rows_parallel", "_dots_parallel"))
    calls = _taken(monkeypatch, PL)
    _check_kernels(dtype, geo, "contiguous", True, 5)
    assert calls == ["forward", "grad_input", "grad_weight"]
    split = threads == "parallel" and geo["x_shape"][0] > 1  # samples split, not one sample
    assert parallel == (["_rows_parallel", "_rows_parallel", "_dots_parallel"] if split else [])


@pytest.mark.parametrize("dtype", DTYPES)
def test_planes_non_finite_values_match_loops(monkeypatch, dtype):
    """inf in x, gy or w: inf/NaN exactly where the loops give them. The planes form products
    the loops do not (garbage lanes, zeros around gy): the weight gradient's NaN falls back to
    im2col, and an input gradient with a non-finite weight never goes to the planes."""
    _force_planes(monkeypatch)
    calls = _taken(monkeypatch, PL)
    rng = np.random.default_rng(8)
    geo = ((1, 1), (1, 1, 1, 1), (1, 1))
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    x[0, 1, 3, 7] = np.inf  # the last column: read by the garbage lanes of row 3
    gy = rng.standard_normal((2, 4, 7, 8)).astype(dtype)
    w_inf = w.copy()
    w_inf[1, 2, 0, 2] = np.inf
    gy_inf = gy.copy()
    gy_inf[1, 2, 3, 3] = np.inf
    with np.errstate(invalid="ignore"):
        pairs = [
            (K.conv2d_forward(x, w, *geo, 1), R.conv2d_ref(x, w, None, *geo)),
            (K.conv2d_forward(x, w_inf, *geo, 1), R.conv2d_ref(x, w_inf, None, *geo)),
            (K.conv2d_grad_weight(x, gy, (3, 3), *geo, 1),
             R.conv2d_grad_weight_ref(x, gy, (3, 3), *geo)),
            (K.conv2d_grad_input(gy_inf, w, (7, 8), *geo, 1),
             R.conv2d_grad_input_ref(gy_inf, w, (7, 8), *geo)),
            (K.conv2d_grad_input(gy, w_inf, (7, 8), *geo, 1),
             R.conv2d_grad_input_ref(gy, w_inf, (7, 8), *geo)),
        ]
    for got, ref in pairs:
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(got[np.isinf(ref)], ref[np.isinf(ref)])
        fin = np.isfinite(ref)
        np.testing.assert_allclose(got[fin], ref[fin], **_tol(dtype, 10))
    assert calls == ["forward", "forward", "grad_weight", "grad_input"]


def test_planes_dispatch(monkeypatch):
    """Guards the dispatch on the bench's and the small ResNet's layers (batch cut to 2)."""
    direct = _taken(monkeypatch, D, ("grad_input",))
    planes = _taken(monkeypatch, PL)
    wino = _taken(monkeypatch, WG, ("conv", "grad_input"))
    rng = np.random.default_rng(9)

    def layer(x_shape, k, f, s, p):
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal((k, x_shape[1], f, f)).astype(np.float32)
        geo = ((s, s), (p,) * 4, (1, 1), 1)
        y = K.conv2d_forward(x, w, *geo)
        K.conv2d_grad_input(y, w, x_shape[2:], *geo)
        K.conv2d_grad_weight(x, y, (f, f), *geo)
        got = (list(planes), list(direct), list(wino))
        planes.clear()
        direct.clear()
        wino.clear()
        return got

    every = ["forward", "grad_input", "grad_weight"]
    assert layer((2, 1, 28, 28), 6, 5, 1, 2) == (every, [], [])
    # 6 written channels from 400 taps: the direct input gradient
    assert layer((16, 6, 14, 14), 16, 5, 1, 0) == (["forward", "grad_weight"], ["grad_input"], [])
    # 3 written channels from 288 taps: col2im
    assert layer((2, 3, 32, 32), 32, 3, 1, 1) == (["forward", "grad_weight"], [], [])
    assert layer((2, 64, 16, 16), 64, 3, 1, 1) == (every, [], [])
    # Winograd: 3x3 stride 1, >= 16 channels, planes under 16 pixels (its input gradient calls
    # its forward on the flipped kernel)
    assert layer((2, 64, 3, 3), 64, 3, 1, 1) == ([], [], ["conv", "grad_input", "conv"])
    assert layer((2, 32, 16, 16), 64, 3, 2, 1) == (every, [], [])
    assert layer((2, 3, 32, 32), 16, 3, 1, 1) == (every, [], [])
    assert layer((2, 16, 16, 16), 16, 3, 1, 1) == (every, [], [])
    # strided 1x1: the planes except for the input gradient; unstrided 1x1: plain GEMMs
    assert layer((2, 16, 16, 16), 32, 1, 2, 0) == (["forward", "grad_weight"], [], [])
    assert layer((2, 16, 8, 8), 32, 1, 1, 0) == ([], [], [])
    # 3x3 output planes (under 16 pixels): im2col; the input gradient writes 5x5 planes
    assert layer((2, 8, 5, 5), 8, 3, 1, 0) == (["grad_input"], [], [])
    assert layer((2, 8, 3, 3), 8, 3, 1, 0) == ([], [], [])
