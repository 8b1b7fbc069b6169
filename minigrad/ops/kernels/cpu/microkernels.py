"""Register-tiled multiply-add micro-kernels: the inner loops of the direct convolution
(``conv_planes.py``) and of attention (``attention.py``).

A direct convolution on packed planes (see ``conv_planes``) is two kinds of inner loop:

* **rows** (forward, input gradient): a tile of ``KB`` output channels x ``VB`` vectors of lanes,
  ``acc[kk][v] += w[t, kk] * src[off[t] + lane]`` over a list of taps ``t``;
* **dots** (weight gradient): ``KB`` x ``TB`` dot products over the same lanes,
  ``acc[kk][tt] += g[kk, lane] * src[off[tt] + lane]``.

Attention multiplies small matrices (K = 64 is typical) where NumPy's BLAS runs far
below the multiply-add peak: **matmul** (``C = A @ B`` for a row-major ``B``, a ``KB`` x ``VB``
tile of ``C`` per call, ``A`` read through two strides) and **transpose** (one square block of
``L`` x ``L`` values through registers, for packing ``B``).

All of them only run at the multiply-add peak when the accumulators stay in vector registers for the
whole tap (or lane) loop, which a Numba loop cannot express: LLVM vectorises innermost loops, so
the accumulators of a loop over lanes live in memory, one load and one store per multiply-add
group. These kernels are therefore written as LLVM IR (Numba ``@intrinsic``): explicit vectors of
``L`` lanes (one register), ``KB*VB`` accumulators held across the loop, a broadcast per weight,
``llvm.fma``. LLVM still does register allocation and instruction selection, so the same IR runs
on any CPU; the tile sizes are picked for the host's vector width and register count
(:data:`LANES_BYTES`, :func:`rows_shapes`) so that nothing spills.

Semantics are those of the scalar loop with fused multiply-adds (one rounding per step, as
``fastmath={"contract"}``): IEEE inf and NaN propagate, nothing is reassociated except the final
sum of a dot product's lanes (a fixed shuffle tree).
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES_BYTES", "lanes", "rows_shapes", "dots_shape", "rows_tile", "dots_tile",
           "matmul_shape", "matmul_tile", "transpose_tile"]


def _host_vectors() -> tuple[int, int]:
    """(bytes per vector register, number of vector registers) of the CPU Numba compiles for."""
    features = llvm.get_host_cpu_features()
    if features.get("avx512f", False):
        return 64, 32
    if features.get("avx", False):
        return 32, 16
    return 16, 16 if features.get("sse2", False) else 32  # SSE: 16 xmm; NEON and others: 32


LANES_BYTES, _REGISTERS = _host_vectors()


def lanes(dtype: np.dtype) -> int:
    """Values per vector register for ``dtype`` (16 float32 with AVX-512)."""
    return LANES_BYTES // np.dtype(dtype).itemsize


def rows_shapes() -> dict[int, int]:
    """{KB: VB}: the rows tile for each supported channel block (8, 6, 4, 2, 1 channels): the
    most vectors per tile such that KB*VB accumulators, VB inputs and a broadcast fit the
    registers. AVX-512: 8x3 (24 accumulators), 6x4, 4x5, 2x9, 1x12."""
    regs = _REGISTERS - 2
    return {kb: max(1, min(12, (regs - 1) // (kb + 1))) for kb in (8, 6, 4, 2, 1)}


def matmul_shape() -> tuple[int, int]:
    """(KB, VB) of the matmul tile: 6 rows x 4 vectors with 32 registers (24 sums, 4 operands, a
    broadcast), 4 x 3 with 16. 6 x 4 ran at 59-78 GMAC/s on one Sapphire Rapids core for the
    attention products (128-512 rows, K = 64); 8 x 3 and 4 x 4 were faster on some and slower on
    others (bench/RESULTS.md)."""
    return (6, 4) if _REGISTERS >= 32 else (4, 3)


def dots_shape() -> tuple[int, int]:
    """(KB, TB) of the dots tile: 4 x 6 with 32 registers (24 sums, 4 + 1 operands), 3 x 3
    with 16."""
    return (4, 6) if _REGISTERS >= 32 else (3, 3)


# ------------------------------------------------------------------------------------------------
# IR helpers


def _i64(builder: ir.IRBuilder, context, value, ty) -> ir.Value:
    return context.cast(builder, value, ty, types.int64)


def _data(context, builder, ty, value) -> ir.Value:
    """The data pointer of an array argument."""
    return context.make_array(ty)(context, builder, value).data


def _vec_ptr(builder, base, index, vty):
    return builder.bitcast(builder.gep(base, [index]), vty.as_pointer())


def _fma(builder, vty):
    suffix = "f32" if isinstance(vty.element, ir.FloatType) else "f64"
    name = f"llvm.fma.v{vty.count}{suffix}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)


def _broadcast(builder, scalar, vty):
    i32 = ir.IntType(32)
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(i32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(i32, vty.count), [0] * vty.count))


def _hsum(builder, vec):
    """Sum of a vector's lanes by halving (a fixed order: the same bits on every call)."""
    i32 = ir.IntType(32)
    n = vec.type.count
    while n > 1:
        half = n // 2
        lo = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(i32, half),
                                                          list(range(half))))
        hi = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(i32, half),
                                                          list(range(half, n))))
        vec = builder.fadd(lo, hi)
        n = half
    return builder.extract_element(vec, ir.Constant(i32, 0))


def _float_vector(context, arr_ty) -> tuple[ir.Type, int]:
    fty = context.get_value_type(arr_ty.dtype)
    n = LANES_BYTES // np.dtype(str(arr_ty.dtype)).itemsize
    return ir.VectorType(fty, n), np.dtype(str(arr_ty.dtype)).itemsize


def _check_arrays(*arrs) -> bool:
    return all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" for a in arrs)


def _unpack(context, builder, signature, args, arrays, ints):
    """A tile's codegen arguments: the data pointers of the array arguments at positions
    ``arrays``, the integer ones at ``ints`` as i64, and the vector type and item size of the
    first array's dtype."""
    tys = signature.args
    ptrs = [_data(context, builder, tys[i], args[i]) for i in arrays]
    ints_ = [_i64(builder, context, args[i], tys[i]) for i in ints]
    vty, itemsize = _float_vector(context, tys[arrays[0]])
    return ptrs, ints_, vty, itemsize


def _outer_fma(builder, fma, acc, scalars, xs, vty) -> None:
    """acc[kk][v] += broadcast(scalars[kk]) * xs[v]: one tap of a tile, kb x vb multiply-adds."""
    for kk, scalar in enumerate(scalars):
        sv = _broadcast(builder, scalar, vty)
        for v, x in enumerate(xs):
            builder.store(builder.call(fma, [sv, x, builder.load(acc[kk][v])]), acc[kk][v])


def _store_rows(builder, acc, dst_p, d0, pitch, vty, itemsize, add: bool = False) -> None:
    """dst[d0 + kk*pitch + v*L + lane] (+)= acc[kk][v]: a tile's sums written (or added) out."""
    i64 = ir.IntType(64)
    for kk, row_acc in enumerate(acc):
        row = builder.add(d0, builder.mul(pitch, ir.Constant(i64, kk)))
        for v, a in enumerate(row_acc):
            ptr = _vec_ptr(builder, dst_p, builder.add(row, ir.Constant(i64, v * vty.count)), vty)
            total = builder.load(a)
            if add:
                total = builder.fadd(builder.load(ptr, align=itemsize), total)
            builder.store(total, ptr, align=itemsize)


def _zeroed(builder, vty, rows: int, cols: int) -> list[list[ir.Value]]:
    """rows x cols vector accumulators (stack slots that LLVM keeps in registers), zeroed."""
    zero = ir.Constant(vty, [0.0] * vty.count)
    return [[cgutils.alloca_once_value(builder, zero) for _ in range(cols)] for _ in range(rows)]


# ------------------------------------------------------------------------------------------------
# the rows tile


@functools.cache
def rows_tile(kb: int, vb: int):
    """``tile(src, s0, off, ntaps, w, w0, wstep, bias, b0, dst, d0, pitch)``, all arrays 1-D::

        for kk < kb, lane < vb*L:
            dst[d0 + kk*pitch + lane] = bias[b0 + kk]
                + sum_{t < ntaps} w[w0 + t*wstep + kk] * src[s0 + off[t] + lane]

    (the sum in tap order, one fused multiply-add per tap). ``src``, ``w``, ``bias``, ``dst`` of
    one float dtype, ``off`` int64. No bounds checks: the caller sizes the buffers.
    """

    @intrinsic
    def tile(typingctx, src, s0, off, ntaps, w, w0, wstep, bias, b0, dst, d0, pitch):
        floats = (src, w, bias, dst)
        if not (_check_arrays(*floats, off) and len({a.dtype for a in floats}) == 1
                and isinstance(src.dtype, types.Float) and off.dtype == types.int64):
            return None
        sig = types.void(src, s0, off, ntaps, w, w0, wstep, bias, b0, dst, d0, pitch)

        def codegen(context, builder, signature, args):
            (src_p, off_p, w_p, bias_p, dst_p), ints, vty, itemsize = _unpack(
                context, builder, signature, args, (0, 2, 4, 7, 9), (1, 3, 5, 6, 8, 10, 11))
            s0_, nt, w0_, wst, b0_, d0_, pit = ints
            n_l = vty.count
            i64 = ir.IntType(64)
            fma = _fma(builder, vty)
            acc = [[cgutils.alloca_once(builder, vty) for _ in range(vb)] for _ in range(kb)]
            for kk in range(kb):
                bv = _broadcast(builder, builder.load(builder.gep(
                    bias_p, [builder.add(b0_, ir.Constant(i64, kk))])), vty)
                for v in range(vb):
                    builder.store(bv, acc[kk][v])
            with cgutils.for_range(builder, nt) as loop:
                t = loop.index
                base = builder.add(s0_, builder.load(builder.gep(off_p, [t])))
                xs = [builder.load(_vec_ptr(builder, src_p,
                                            builder.add(base, ir.Constant(i64, v * n_l)), vty),
                                   align=itemsize) for v in range(vb)]
                wbase = builder.add(w0_, builder.mul(t, wst))
                _outer_fma(builder, fma, acc, [builder.load(builder.gep(
                    w_p, [builder.add(wbase, ir.Constant(i64, kk))])) for kk in range(kb)], xs, vty)
            _store_rows(builder, acc, dst_p, d0_, pit, vty, itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return tile


# ------------------------------------------------------------------------------------------------
# the dots tile


@functools.cache
def dots_tile(kb: int, tb: int):
    """``tile(g, g0, gpitch, src, s0, off, t0, nsamp, gstep, sstep, nvec, out, o0, opitch)``::

        for kk < kb, tt < tb:
            out[o0 + kk*opitch + tt] += sum_{m < nsamp} sum_{lane < nvec*L}
                g[g0 + m*gstep + kk*gpitch + lane] * src[s0 + m*sstep + off[t0 + tt] + lane]

    Each of the kb*tb sums is a vector of partial sums (one fused multiply-add per vector of
    lanes) reduced to a scalar at the end. Arrays 1-D, one float dtype, ``off`` int64.
    """

    @intrinsic
    def tile(typingctx, g, g0, gpitch, src, s0, off, t0, nsamp, gstep, sstep, nvec, out, o0,
             opitch):
        floats = (g, src, out)
        if not (_check_arrays(*floats, off) and len({a.dtype for a in floats}) == 1
                and isinstance(g.dtype, types.Float) and off.dtype == types.int64):
            return None
        sig = types.void(g, g0, gpitch, src, s0, off, t0, nsamp, gstep, sstep, nvec, out, o0,
                         opitch)

        def codegen(context, builder, signature, args):
            (g_p, src_p, off_p, out_p), ints, vty, itemsize = _unpack(
                context, builder, signature, args, (0, 3, 5, 11), (1, 2, 4, 6, 7, 8, 9, 10, 12, 13))
            g0_, gpit, s0_, t0_, nsm, gst, sst, nv, o0_, opit = ints
            n_l = vty.count
            i64 = ir.IntType(64)
            fma = _fma(builder, vty)
            acc = _zeroed(builder, vty, kb, tb)
            offs = [builder.load(builder.gep(off_p, [builder.add(t0_, ir.Constant(i64, tt))]))
                    for tt in range(tb)]
            with cgutils.for_range(builder, nsm) as sample:
                m = sample.index
                gbase = builder.add(g0_, builder.mul(m, gst))
                sbase = builder.add(s0_, builder.mul(m, sst))
                grows = [builder.add(gbase, builder.mul(gpit, ir.Constant(i64, kk)))
                         for kk in range(kb)]
                srows = [builder.add(sbase, offs[tt]) for tt in range(tb)]
                with cgutils.for_range(builder, nv) as vec:
                    lane = builder.mul(vec.index, ir.Constant(i64, n_l))
                    gv = [builder.load(_vec_ptr(builder, g_p, builder.add(grows[kk], lane), vty),
                                       align=itemsize) for kk in range(kb)]
                    for tt in range(tb):
                        sv = builder.load(_vec_ptr(builder, src_p, builder.add(srows[tt], lane),
                                                   vty), align=itemsize)
                        for kk in range(kb):
                            builder.store(builder.call(fma, [gv[kk], sv,
                                                             builder.load(acc[kk][tt])]),
                                          acc[kk][tt])
            for kk in range(kb):
                row = builder.add(o0_, builder.mul(opit, ir.Constant(i64, kk)))
                for tt in range(tb):
                    ptr = builder.gep(out_p, [builder.add(row, ir.Constant(i64, tt))])
                    builder.store(builder.fadd(builder.load(ptr),
                                               _hsum(builder, builder.load(acc[kk][tt]))), ptr)
            return context.get_dummy_value()

        return sig, codegen

    return tile


# ------------------------------------------------------------------------------------------------
# the matmul tile


@functools.cache
def matmul_tile(kb: int, vb: int, add: bool = False):
    """``tile(b, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch)``, all arrays 1-D::

        for kk < kb, lane < vb*L:
            c[c0 + kk*cpitch + lane] = sum_{t < ntaps} a[a0 + kk*apitch + t*astep]
                                                       * b[b0 + t*bstep + lane]

    that is, a ``kb x vb*L`` block of ``C = A @ B`` with row-major ``B`` (rows ``bstep`` apart) and
    ``A`` read one value at a time through any two strides (``apitch`` between rows, ``astep``
    between columns: ``A`` may be transposed). The sum runs in tap order, one fused multiply-add
    per tap, from zero (0 for ``ntaps = 0``); with ``add`` the tile's sum is then added to ``c``
    instead of written. Arrays of one float dtype; no bounds checks.
    """

    @intrinsic
    def tile(typingctx, b, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch):
        floats = (b, a, c)
        if not (_check_arrays(*floats) and len({x.dtype for x in floats}) == 1
                and isinstance(b.dtype, types.Float)):
            return None
        sig = types.void(b, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch)

        def codegen(context, builder, signature, args):
            (b_p, a_p, c_p), ints, vty, itemsize = _unpack(
                context, builder, signature, args, (0, 4, 8), (1, 2, 3, 5, 6, 7, 9, 10))
            b0_, bst, nt, a0_, ast, api, c0_, cpi = ints
            n_l = vty.count
            i64 = ir.IntType(64)
            fma = _fma(builder, vty)
            acc = _zeroed(builder, vty, kb, vb)
            arows = [builder.add(a0_, builder.mul(api, ir.Constant(i64, kk))) for kk in range(kb)]
            with cgutils.for_range(builder, nt) as loop:
                t = loop.index
                brow = builder.add(b0_, builder.mul(t, bst))
                xs = [builder.load(_vec_ptr(builder, b_p,
                                            builder.add(brow, ir.Constant(i64, v * n_l)), vty),
                                   align=itemsize) for v in range(vb)]
                acol = builder.mul(t, ast)
                _outer_fma(builder, fma, acc, [builder.load(builder.gep(
                    a_p, [builder.add(arows[kk], acol)])) for kk in range(kb)], xs, vty)
            _store_rows(builder, acc, c_p, c0_, cpi, vty, itemsize, add)
            return context.get_dummy_value()

        return sig, codegen

    return tile


# ------------------------------------------------------------------------------------------------
# the transpose tile


def _swap_masks(n: int, s: int) -> tuple[list[int], list[int]]:
    """Shuffle masks for rows (i, i + s) of an n x n block: the first result keeps the columns
    whose bit s is clear from row i and takes the others from row i + s (shifted down by s), the
    second the reverse. Applied for s = n/2, n/4, ..., 1 this transposes the block (each stage
    swaps the off-diagonal s x s sub-blocks)."""
    lo = [c if c & s == 0 else n + c - s for c in range(n)]
    hi = [c + s if c & s == 0 else n + c for c in range(n)]
    return lo, hi


@functools.cache
def transpose_tile():
    """``tile(src, s0, spitch, dst, d0, dpitch)``, arrays 1-D of one float dtype::

        for r, c < L:  dst[d0 + c*dpitch + r] = src[s0 + r*spitch + c]

    ``L`` values per vector register (16 float32 with AVX-512): L vector loads, log2(L) stages of
    L two-register shuffles, L vector stores (a scalar loop ran 3x slower). No bounds checks.
    """

    @intrinsic
    def tile(typingctx, src, s0, spitch, dst, d0, dpitch):
        if not (_check_arrays(src, dst) and src.dtype == dst.dtype
                and isinstance(src.dtype, types.Float)):
            return None
        sig = types.void(src, s0, spitch, dst, d0, dpitch)

        def codegen(context, builder, signature, args):
            (src_p, dst_p), (s0_, spi, d0_, dpi), vty, itemsize = _unpack(
                context, builder, signature, args, (0, 3), (1, 2, 4, 5))
            n = vty.count
            i64, i32 = ir.IntType(64), ir.IntType(32)
            rows = [builder.load(_vec_ptr(builder, src_p, builder.add(
                s0_, builder.mul(spi, ir.Constant(i64, r))), vty), align=itemsize)
                for r in range(n)]
            s = n // 2
            while s >= 1:
                lo, hi = (ir.Constant(ir.VectorType(i32, n), m) for m in _swap_masks(n, s))
                swapped = list(rows)
                for i in range(n):
                    if i & s == 0:
                        swapped[i] = builder.shuffle_vector(rows[i], rows[i + s], lo)
                        swapped[i + s] = builder.shuffle_vector(rows[i], rows[i + s], hi)
                rows = swapped
                s //= 2
            for c in range(n):
                col = builder.add(d0_, builder.mul(dpi, ir.Constant(i64, c)))
                ptr = _vec_ptr(builder, dst_p, col, vty)
                builder.store(rows[c], ptr, align=itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return tile
