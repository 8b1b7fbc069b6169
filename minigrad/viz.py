"""Draw the graph that produced a tensor: Graphviz DOT text, and a picture when Graphviz exists.

    >>> import minigrad as mg
    >>> from minigrad.viz import to_dot
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> print(to_dot((x * x).sum(), params={"x": x}))          # doctest: +SKIP

Op nodes are boxes labelled with the op and its output shape, leaves that require grad are blue
ellipses (named through ``params``, as torchviz's ``make_dot``), constant inputs are dashed grey
ellipses, and the tensor itself is the green box at the bottom. Edges run from inputs to the op
that consumes them, in forward order. It works after ``backward()`` too: the graph's structure
and shapes outlive its freed buffers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from minigrad.autograd import graph
from minigrad.explain import op_name
from minigrad.tensor import Tensor

__all__ = ["to_dot", "render", "GraphvizNotFoundError"]


class GraphvizNotFoundError(RuntimeError):
    """Neither the ``dot`` program nor a working ``graphviz`` Python package is available."""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def to_dot(tensor: Tensor, params: Mapping[str, Tensor] | None = None, *,
           rankdir: str = "TB") -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    tensor:  any Tensor; a leaf gives a one-node graph.
    params:  optional ``{name: leaf tensor}`` used to label leaves (others show as ``leaf``).
    rankdir: Graphviz layout direction (``"TB"`` top to bottom, ``"LR"`` left to right).
    """
    names = {id(t): n for n, t in (params or {}).items()}
    lines = ["digraph minigrad {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [color="#555555"];']
    ids: dict[int, str] = {}
    leaf_ids: dict[int, str] = {}

    def leaf_id(t: Tensor) -> str:
        key = id(t)
        if key not in leaf_ids:
            leaf_ids[key] = f"leaf{len(leaf_ids)}"
            label = f"{names.get(key, 'leaf')}\n{_shape(t.shape)}"
            lines.append(f"  {leaf_ids[key]} [label={_quote(label)}, shape=ellipse, "
                         'style=filled, fillcolor="#cfe2ff"];')
        return leaf_ids[key]

    out_id = "output"
    if tensor.grad_fn is None:
        label = f"{names.get(id(tensor), 'leaf')}\n{_shape(tensor.shape)}"
        lines.append(f"  {out_id} [label={_quote(label)}, shape=box, style=filled, "
                     'fillcolor="#c8f7c5"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    nodes = graph.nodes(tensor)  # forward (creation) order reads best
    for k, node in enumerate(nodes):
        ids[id(node)] = f"op{k}"
    n_const = 0
    for node in nodes:
        outs = ", ".join(_shape(m.shape) for m in node.output_metadata)
        label = f"{op_name(node)}\n{outs}"
        lines.append(f"  {ids[id(node)]} [label={_quote(label)}, shape=box, style=filled, "
                     'fillcolor="#f2f2f2"];')
        inputs = node.inputs or ()  # None once backward() freed the node
        for i, ((fn, idx), meta) in enumerate(zip(node.next_functions, node.input_metadata)):
            if fn is None:
                if meta is None:  # a plain Python value (a kwarg-like positional), not a tensor
                    continue
                cid = f"const{n_const}"
                n_const += 1
                name = names.get(id(inputs[i]), "const") if i < len(inputs) else "const"
                lines.append(f"  {cid} [label={_quote(name + ' ' + _shape(meta.shape))}, "
                             'shape=ellipse, style=dashed, color="#999999", fontcolor="#777777"];')
                lines.append(f"  {cid} -> {ids[id(node)]} [style=dashed, color=\"#999999\"];")
            elif isinstance(fn, Tensor):
                lines.append(f"  {leaf_id(fn)} -> {ids[id(node)]};")
            else:
                attrs = f" [label={_quote(str(idx))}]" if len(fn.output_metadata) > 1 else ""
                lines.append(f"  {ids[id(fn)]} -> {ids[id(node)]}{attrs};")
    label = f"{names.get(id(tensor), 'output')}\n{_shape(tensor.shape)}"
    lines.append(f"  {out_id} [label={_quote(label)}, shape=box, style=filled, "
                 'fillcolor="#c8f7c5"];')
    lines.append(f"  {ids[id(tensor.grad_fn)]} -> {out_id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _run_dot(dot_text: str, fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is not None:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"render: dot failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(dot_text).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            pass
    raise GraphvizNotFoundError(
        "render: drawing the graph needs the Graphviz 'dot' program (e.g. `apt install graphviz`, "
        "`brew install graphviz` or `conda install graphviz`); it was not found on PATH. "
        "minigrad.viz.to_dot(tensor) still gives the DOT text, which any Graphviz viewer opens."
    )


def render(tensor: Tensor, path: str | os.PathLike, params: Mapping[str, Tensor] | None = None,
           **kwargs: Any) -> str:
    """Draw the graph of ``tensor`` into ``path``; the format follows its suffix (.png, .svg, .pdf).

    Raises :class:`GraphvizNotFoundError` (a RuntimeError) when Graphviz is not installed, before
    writing anything. Returns the path written.
    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    data = _run_dot(to_dot(tensor, params, **kwargs), fmt)
    with open(path, "wb") as f:
        f.write(data)
    return path

