"""Sphinx configuration: the API reference is built from minigrad's docstrings (autodoc with
napoleon, so Google/NumPy-style sections read as fields). CI builds it with ``-W`` (warnings are
errors), so every public name keeps a documented signature.

Docstrings are reST read through napoleon, and stay plain text. What keeps them warning-free:

- parameters as a Google-style section, one name per entry, continuation lines indented 4 more::

      Args:
          stride: int or (h, w), >= 1.
          padding: int or (h, w) zeros on both sides, or ``'same'``; longer text goes on
              indented lines.

- ``*`` and ``|`` are markup: write shapes and formulas that hold them in double backticks
  (``(N, C, *)``, ``abs(x)``, not |x|);
- a code example follows a line ending in ``::`` and a blank line; a list (``-``, ``1.``) has a
  blank line before and after it, and a new paragraph never starts on an indented line;
- an object exported in two documented modules is indexed once (``:no-index:`` on the other);
  module data gets its text from a ``#:`` comment above the assignment.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # the cuda module imports without a GPU

project = "minigrad"
author = "the minigrad developers"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
html_theme = "alabaster"
exclude_patterns = ["_build"]
nitpicky = False


def _write_walkthroughs(app, config) -> None:  # noqa: ANN001 - Sphinx's hook signature
    """docs/walkthroughs.rst from the examples' own docstrings, so the page cannot drift."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    lines = [
        "Walk-throughs",
        "=============",
        "",
        "The scripts in ``examples/``, in reading order. Each prints a narrated account, checks "
        "its own claims with assertions and writes pictures to ``examples/out/`` when matplotlib "
        "is installed; the test suite runs each with ``--fast``. Their text below is the "
        "script's own docstring, followed by the source.",
        "",
    ]
    scripts = sorted(p for p in (root / "examples").glob("*.py") if not p.name.startswith("_"))
    for path in scripts:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        head, _, body = doc.partition("\n")
        title = f"``{path.name}``: {head.strip()}"
        lines += [title, "-" * len(title), "", "::", ""]
        lines += ["    " + ln if ln else "" for ln in body.strip("\n").splitlines()]
        lines += ["", f".. literalinclude:: ../examples/{path.name}", "   :language: python",
                  "   :linenos:", ""]
    (Path(__file__).parent / "walkthroughs.rst").write_text("\n".join(lines) + "\n")


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's extension entry point
    app.connect("config-inited", _write_walkthroughs)
