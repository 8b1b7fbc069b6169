"""Compare every CUDA kernel (minigrad/ops/kernels/cuda) with its CPU twin (kernels/cpu).

Run as a script in its own process, because the CUDA simulator must be chosen before numba.cuda
is first imported and the rest of the test-suite uses CPU Numba:

    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_sim_checks.py [conv|pool|activation|softmax|...]
    python tests/_cuda_sim_checks.py --real-gpu      # a real GPU; exits 77 when there is none

Fixed random inputs (no Hypothesis: the simulator is far too slow for fuzzing), small shapes,
float32 and float64. The CPU kernels are themselves tested against NumPy-loop references and
finite differences, so agreement here is the CUDA kernels' correctness check. Prints one line per
failed comparison and exits 1 if any failed, 0 otherwise.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

SKIP = 77
FAILURES: list[str] = []
CHECKS = [0]


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def close(what: str, got, ref, dtype) -> None:
    """Relative-to-scale comparison; NaN positions must agree; dtype must be kept."""
    CHECKS[0] += 1
    got, ref = _host(got), np.asarray(ref)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        FAILURES.append(f"{what}: shape/dtype {got.shape} {got.dtype} vs {ref.shape} {ref.dtype}")
        return
    if not np.array_equal(np.isnan(got), np.isnan(ref)):
        FAILURES.append(f"{what}: NaN positions differ")
        return
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    fin = np.isfinite(ref)
    if not np.array_equal(got[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)]):
        FAILURES.append(f"{what}: infinities differ")
        return
    scale = 1.0 + (np.abs(ref[fin]).max() if fin.any() else 0.0)
    err = np.abs(got[fin].astype(np.float64) - ref[fin]).max() if fin.any() else 0.0
    if err > tol * scale:
        FAILURES.append(f"{what}: max error {err:.3g} > {tol * scale:.3g}")


def equal(what: str, got, ref) -> None:
    CHECKS[0] += 1
    got, ref = _host(got), np.asarray(ref)
    if got.shape != ref.shape or not np.array_equal(got, ref):
        FAILURES.append(f"{what}: arrays differ")


# ------------------------------------------------------------------------------------------------


def check_conv(rng, dtypes) -> None:
    from minigrad.ops.kernels.cpu import conv as C
    from minigrad.ops.kernels.cuda import conv as G

    # (x shape, w shape, stride, padding (t, b, l, r), dilation, groups, bias)
    cases = [
        ((1, 1, 5, 5), (2, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, False),
        ((2, 3, 6, 6), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, True),  # 2 column tiles
        ((2, 2, 6, 5), (4, 1, 3, 2), (2, 1), (1, 0, 2, 1), (1, 2), 2, True),  # asymmetric pad
        ((1, 3, 6, 6), (3, 1, 2, 3), (2, 3), (0, 1, 1, 0), (2, 1), 3, False),  # depthwise
        ((2, 2, 5, 6), (3, 2, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, False),  # pointwise
    ]
    for dt in dtypes:
        for x_shape, w_shape, stride, pad, dil, groups, has_bias in cases:
            x = rng.standard_normal(x_shape).astype(dt)
            w = rng.standard_normal(w_shape).astype(dt)
            b = rng.standard_normal(w_shape[0]).astype(dt) if has_bias else None
            geo = (stride, pad, dil, groups)
            tag = f"conv {np.dtype(dt)} x{x_shape} w{w_shape} {geo}"
            yr = C.conv2d_forward(x, w, *geo, bias=b)
            close(f"{tag} forward", G.conv2d_forward(x, w, *geo, bias=b), yr, dt)
            gy = rng.standard_normal(yr.shape).astype(dt)
            close(f"{tag} grad_input",
                  G.conv2d_grad_input(gy, w, x_shape[2:], *geo),
                  C.conv2d_grad_input(gy, w, x_shape[2:], *geo), dt)
            close(f"{tag} grad_weight",
                  G.conv2d_grad_weight(x, gy, w_shape[2:], *geo),
                  C.conv2d_grad_weight(x, gy, w_shape[2:], *geo), dt)
    # more than one row tile (K > 32) and several reduction steps, float32 only (slow in the sim)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((34, 2, 3, 3)).astype(np.float32)
    geo = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    yr = C.conv2d_forward(x, w, *geo)
    close("conv K=34 forward", G.conv2d_forward(x, w, *geo), yr, np.float32)
    gy = rng.standard_normal(yr.shape).astype(np.float32)
    close("conv K=34 grad_input", G.conv2d_grad_input(gy, w, (4, 4), *geo),
          C.conv2d_grad_input(gy, w, (4, 4), *geo), np.float32)
    close("conv K=34 grad_weight", G.conv2d_grad_weight(x, gy, (3, 3), *geo),
          C.conv2d_grad_weight(x, gy, (3, 3), *geo), np.float32)
    # device arrays in (no host copy), mixed host/device
    from numba import cuda

    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((2, 2, 3, 3))
    geo = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    close("conv device-array input", G.conv2d_forward(cuda.to_device(x), w, *geo),
          C.conv2d_forward(x, w, *geo), np.float64)
    # a non-contiguous host input is fine (copied contiguous at the boundary)
    xt = np.asfortranarray(x)
    close("conv Fortran-order input", G.conv2d_forward(xt, w, *geo),
          C.conv2d_forward(x, w, *geo), np.float64)
    _raises("conv int inputs", TypeError, G.conv2d_forward, x.astype(np.int64),
            w.astype(np.int64), *geo)


def check_pool(rng, dtypes) -> None:
    from minigrad.ops.kernels.cpu import pool as C
    from minigrad.ops.kernels.cuda import pool as G

    geos = [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1)), ((3, 3), (2, 1), (1, 0))]
    for dt in dtypes:
        x = rng.standard_normal((2, 3, 6, 5)).astype(dt)
        x[0, 1, 2, 2] = np.nan  # NaN wins the windows that hold it
        x[1, 0, 0, :2] = 7.0  # a tie: the first maximum wins
        x[1, 0, 1, :2] = 7.0
        for geo in geos:
            tag = f"pool {np.dtype(dt)} {geo}"
            y, idx = G.max_pool2d_forward(x, *geo)
            yr, ir = C.max_pool2d_forward(x, *geo)
            close(f"{tag} max forward", y, yr, dt)
            equal(f"{tag} max indices", idx, ir)
            gy = rng.standard_normal(yr.shape).astype(dt)
            ref = C.scatter_add_planes(gy, ir, (6, 5))
            close(f"{tag} max backward (atomic)", G.scatter_add_planes(gy, ir, (6, 5)), ref, dt)
            if geo[0][0] <= geo[1][0] and geo[0][1] <= geo[1][1]:
                close(f"{tag} max backward (no overlap)",
                      G.scatter_add_planes(gy, ir, (6, 5), overlapping=False), ref, dt)
            close(f"{tag} gather", G.gather_planes(x, ir), C.gather_planes(x, ir), dt)
            xf = np.nan_to_num(x)
            for cip in (True, False):
                close(f"{tag} avg forward cip={cip}", G.avg_pool2d_forward(xf, *geo, cip),
                      C.avg_pool2d_forward(xf, *geo, cip), dt)
                close(f"{tag} avg backward cip={cip}",
                      G.avg_pool2d_backward(gy, (6, 5), *geo, cip),
                      C.avg_pool2d_backward(gy, (6, 5), *geo, cip), dt)
        x = rng.standard_normal((2, 3, 7, 5)).astype(dt)
        for out in ((3, 2), (4, 5), (1, 1)):
            tag = f"adaptive {np.dtype(dt)} {out}"
            y = C.adaptive_avg_pool2d_forward(x, out)
            close(f"{tag} forward", G.adaptive_avg_pool2d_forward(x, out), y, dt)
            gy = rng.standard_normal(y.shape).astype(dt)
            close(f"{tag} backward", G.adaptive_avg_pool2d_backward(gy, (7, 5)),
                  C.adaptive_avg_pool2d_backward(gy, (7, 5)), dt)
        xg = rng.standard_normal((2, 3, 13, 11)).astype(dt)  # 143 > 128 threads: 2 strides
        close(f"global avg {np.dtype(dt)} forward", G.adaptive_avg_pool2d_forward(xg, (1, 1)),
              C.adaptive_avg_pool2d_forward(xg, (1, 1)), dt)
        gy = rng.standard_normal((2, 3, 1, 1)).astype(dt)
        close(f"global avg {np.dtype(dt)} backward", G.adaptive_avg_pool2d_backward(gy, (13, 11)),
              C.adaptive_avg_pool2d_backward(gy, (13, 11)), dt)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
PARAMS = {"leaky_relu": (0.1, 0.0), "elu": (1.3, 1.0), "softplus": (1.5, 20.0),
          "hardtanh": (-1.0, 1.0)}


def check_activation(rng, dtypes) -> None:
    from minigrad.ops.kernels.cpu import activation as C
    from minigrad.ops.kernels.cuda import activation as G

    for dt in dtypes:
        x = (rng.standard_normal(40) * 4).astype(dt)
        x[:6] = [30.0, -30.0, 0.0, np.inf, -np.inf, np.nan]  # tails, kink, non-finite
        gy = rng.standard_normal(40).astype(dt)
        runs = [(n, *PARAMS.get(n, (0.0, 0.0))) for n in C.ACTIVATIONS]
        runs.append(("elu", SELU_ALPHA, SELU_SCALE))  # selu
        for name, a, b in runs:
            tag = f"activation {name}({a}, {b}) {np.dtype(dt)}"
            with np.errstate(all="ignore"):
                yr = C.forward(name, x, a, b)
                gr = C.backward(name, gy, x, a, b)
            close(f"{tag} forward", G.forward(name, x, a, b), yr, dt)
            close(f"{tag} backward", G.backward(name, gy, x, a, b), gr, dt)
            if name in C.FROM_OUTPUT:
                close(f"{tag} backward from output", G.backward_from_output(name, gy, yr, a, b),
                      C.backward_from_output(name, gy, yr, a, b), dt)
        x2 = rng.standard_normal((3, 4)).astype(dt)
        close(f"activation 2-D shape {np.dtype(dt)}", G.forward("tanh", x2), C.forward("tanh", x2),
              dt)
    _raises("activation unknown name", ValueError, G.forward, "nope", x)
    _raises("activation shape mismatch", ValueError, G.backward, "relu", x[:3], x)


def check_softmax(rng, dtypes) -> None:
    from minigrad.ops.kernels.cpu import softmax as C
    from minigrad.ops.kernels.cuda import softmax as G

    for dt in dtypes:
        x = (rng.standard_normal((2, 2, 70)) * 5).astype(dt)  # 70 > 64 threads: 2 strides
        x[0, 1, 3] = np.nan
        x[1, 1, :] = -np.inf
        x[1, 0, 5] = 800.0  # would overflow exp without the max shift
        with np.errstate(all="ignore"):
            for f in ("softmax_forward", "log_softmax_forward"):
                close(f"{f} {np.dtype(dt)}", getattr(G, f)(x), getattr(C, f)(x), dt)
        x = (rng.standard_normal((3, 9)) * 3).astype(dt)
        gy = rng.standard_normal(x.shape).astype(dt)
        for f, b in (("softmax_forward", "softmax_backward"),
                     ("log_softmax_forward", "log_softmax_backward")):
            y = getattr(C, f)(x)
            close(f"{b} {np.dtype(dt)}", getattr(G, b)(gy, y), getattr(C, b)(gy, y), dt)
        x = (rng.standard_normal((5, 7)) * 3).astype(dt)
        target = np.array([0, 6, 3, -100, 2])
        w = rng.uniform(0.5, 2.0, 7).astype(dt)
        g = rng.standard_normal(5).astype(dt)
        for eps in (0.0, 0.1):
            tag = f"cross_entropy eps={eps} {np.dtype(dt)}"
            loss, lse = G.cross_entropy_forward(x, target, w, -100, eps)
            loss_r, lse_r = C.cross_entropy_forward(x, target, w, -100, eps)
            close(f"{tag} loss", loss, loss_r, dt)
            close(f"{tag} lse", lse, lse_r, dt)
            close(f"{tag} backward", G.cross_entropy_backward(g, x, target, w, lse_r, -100, eps),
                  C.cross_entropy_backward(g, x, target, w, lse_r, -100, eps), dt)


def check_losses(rng, dtypes) -> None:
    """The on-device loss reductions and coefficient kernels against NumPy written from the
    definitions (and the CPU kernel module's coefficients of the double backward)."""
    from minigrad.ops.kernels.cpu import softmax as C
    from minigrad.ops.kernels.cuda import softmax as G

    target = np.array([0, 6, 3, -100, 2, 6])
    for dt in dtypes:
        w = rng.uniform(0.5, 2.0, 7).astype(dt)
        loss = rng.standard_normal(6).astype(dt)
        valid = target != -100
        wsum = w[target[valid]].sum(dtype=np.float64)
        for mean in (False, True):
            out, scale = G.cross_entropy_total(loss, target, w, -100, mean)
            s = 1.0 / wsum if mean else 1.0
            close(f"ce total mean={mean} {np.dtype(dt)}", out,
                  np.array([loss.sum(dtype=np.float64) * s], dtype=dt), dt)
            close(f"ce scale mean={mean} {np.dtype(dt)}", scale, np.array([s], dtype=dt), dt)
        _, scale = G.cross_entropy_total(None, np.full(3, -100), w, -100, True)
        close(f"ce scale all ignored {np.dtype(dt)}", scale, np.array([np.nan], dtype=dt), dt)
        for eps in (0.0, 0.2):
            a, b = G.cross_entropy_coefficients(target, w, -100, eps)
            ar, br = C.cross_entropy_coefficients(target, w, -100, eps)
            close(f"ce coefficients a eps={eps} {np.dtype(dt)}", a, ar, dt)
            close(f"ce coefficients b eps={eps} {np.dtype(dt)}", b, br, dt)


def check_norm(rng, dtypes) -> None:
    from minigrad.ops.kernels.cpu import norm as C
    from minigrad.ops.kernels.cuda import norm as G

    # (N, C, *): 2-D input, spatial input with N*S > the block width (several strides)
    for dt in dtypes:
        for shape in ((5, 3), (3, 2, 5, 7), (2, 4, 3)):
            tag = f"batch_norm {np.dtype(dt)} {shape}"
            x = (rng.standard_normal(shape) * 2 + 3).astype(dt)
            c = shape[1]
            eps, mom = 1e-3, 0.2
            rm0 = rng.standard_normal(c).astype(dt)
            rv0 = rng.uniform(0.5, 2, c).astype(dt)
            rm_h, rv_h = rm0.copy(), rv0.copy()
            mean_r, inv_r = C.batch_stats(x, eps, rm_h, rv_h, mom)
            from numba import cuda

            rm, rv = cuda.to_device(rm0), cuda.to_device(rv0)
            mean, invstd = G.batch_stats(x, eps, rm, rv, mom)
            # (float32 tolerance: the simulator runs `0.0 + float32` as NumPy, in float32)
            close(f"{tag} mean", mean, mean_r, dt)
            close(f"{tag} invstd", invstd, inv_r, dt)
            close(f"{tag} running_mean", rm, rm_h, dt)
            close(f"{tag} running_var", rv, rv_h, dt)
            # and the definitions, in float64
            axes = (0, *range(2, x.ndim))
            var_r = x.var(axis=axes, dtype=np.float64)
            count = x.size // c
            close(f"{tag} mean (NumPy)", mean, x.mean(axis=axes, dtype=np.float64), dt)
            close(f"{tag} invstd (NumPy)", invstd, 1 / np.sqrt(var_r + eps), dt)
            close(f"{tag} running_var (NumPy)", rv,
                  ((1 - mom) * rv0 + mom * var_r * count / (count - 1)).astype(dt), dt)
            mean_h, inv_h = mean_r, inv_r
            w = rng.standard_normal(c).astype(dt)
            b = rng.standard_normal(c).astype(dt)
            close(f"{tag} forward affine", G.batch_norm_forward(x, mean_h, inv_h, w, b),
                  C.batch_norm_forward(x, mean_h, inv_h, w, b), dt)
            close(f"{tag} forward plain", G.batch_norm_forward(x, mean_h, inv_h),
                  C.batch_norm_forward(x, mean_h, inv_h, np.ones(c), np.zeros(c)), dt)
            g = rng.standard_normal(shape).astype(dt)
            for weight in (w, None):
                gx, gw, gb = G.batch_norm_backward(g, x, mean_h, inv_h, weight)
                gxr, gwr, gbr = C.batch_norm_backward(g, x, mean_h, inv_h,
                                                      np.ones(c) if weight is None else weight)
                aff = "affine" if weight is not None else "plain"
                close(f"{tag} backward {aff} gx", gx, gxr, dt)
                close(f"{tag} backward {aff} gw", gw, gwr.astype(dt), dt)
                close(f"{tag} backward {aff} gb", gb, gbr.astype(dt), dt)
        # no running statistics: nothing to update, the statistics still come back
        x = rng.standard_normal((4, 2)).astype(dt)
        mean, _ = G.batch_stats(x, 1e-5)
        close(f"batch_norm {np.dtype(dt)} stats without running", mean,
              C.batch_stats(x, 1e-5)[0], dt)


def check_dropout(rng, dtypes) -> None:
    from minigrad.ops.kernels.cuda import dropout as G

    for dt in dtypes:
        keep = rng.random((3, 5, 4)) >= 0.3
        ref = keep.astype(dt) * np.dtype(dt).type(1 / 0.7)
        close(f"dropout mask {np.dtype(dt)}", G.scaled_mask(keep, 1 / 0.7, dt), ref, dt)
    close("dropout mask empty", G.scaled_mask(np.zeros((0, 3), bool), 2.0, np.float32),
          np.zeros((0, 3), np.float32), np.float32)


def check_common(rng, dtypes) -> None:
    from numba import cuda

    from minigrad.ops.kernels.cuda import _common

    d = cuda.to_device(np.ones((3, 4)))
    CHECKS[0] += 1
    if not _common.is_device_array(d) or _common.is_device_array(np.ones(2)):
        FAILURES.append("is_device_array: wrong answer for a device / host array")
    CHECKS[0] += 1
    if _common.to_device(d) is not d:  # a device array passes through (no copy)
        FAILURES.append("to_device copied a device array")
    equal("device_zeros", _common.device_zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    a = _common.from_device(cuda.to_device(np.arange(6.0).reshape(2, 3)))
    equal("from_device", a.get(), np.arange(6.0).reshape(2, 3))


def _raises(what, exc, fn, *args) -> None:
    CHECKS[0] += 1
    try:
        fn(*args)
    except exc:
        return
    except Exception as e:  # noqa: BLE001
        FAILURES.append(f"{what}: raised {type(e).__name__}: {e}, expected {exc.__name__}")
        return
    FAILURES.append(f"{what}: did not raise {exc.__name__}")


def main(argv: list[str]) -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from minigrad.ops.kernels.cuda import is_available

    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if "--real-gpu" in argv and simulated:
        print("--real-gpu given but NUMBA_ENABLE_CUDASIM=1")
        return 2
    if not is_available():
        print("no CUDA device" + (" (simulator requested but unavailable)" if simulated else ""))
        return SKIP
    if simulated:
        # the simulator runs kernels as NumPy scalar code: inf/NaN inputs warn where a GPU is silent
        warnings.simplefilter("ignore", RuntimeWarning)
    only = [a for a in argv if not a.startswith("--")]
    rng = np.random.default_rng(1234)
    dtypes = (np.float32, np.float64)
    for name, check in (("conv", check_conv), ("pool", check_pool),
                        ("activation", check_activation), ("softmax", check_softmax),
                        ("losses", check_losses), ("norm", check_norm),
                        ("dropout", check_dropout), ("common", check_common)):
        if not only or name in only:
            check(rng, dtypes)
    print(f"{'simulator' if simulated else 'GPU'}: {CHECKS[0]} comparisons, "
          f"{len(FAILURES)} failed")
    for f in FAILURES:
        print("FAIL", f)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
