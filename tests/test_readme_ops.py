"""The README's op list is generated from the code (``tools/gen_op_list.py``) and must match it:
a new op that is not in the README, or a README entry for a name that does not exist, fails
here. Fix: ``python tools/gen_op_list.py``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_op_list", ROOT / "tools/gen_op_list.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section() -> str:
    gen = _generator()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index(gen.BEGIN) + len(gen.BEGIN): text.index(gen.END)]


def test_readme_op_list_is_up_to_date():
    gen = _generator()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert gen.render(text) == text, ("README.md's op list differs from the code: run "
                                      "python tools/gen_op_list.py")


def test_every_listed_name_exists_and_every_public_name_is_listed():
    section = _section()
    paragraphs = {p.split("**")[1]: re.findall(r"`([^`]+)`", p.split(":", 1)[1])
                  for p in section.strip().split("\n\n")}
    owners = {"`minigrad.`": mg, "`Tensor` methods": mg.Tensor, "`Tensor` attributes": mg.Tensor,
              "`nn.functional.`": F, "`nn.` layers": nn}
    for title, owner in owners.items():
        for name in paragraphs[title]:
            assert hasattr(owner, name), f"README lists {title}{name}, which does not exist"
    # the issue-14 names are there (a spot check that the list is not empty or truncated)
    for name in ("erfinv", "bitwise_left_shift", "linspace", "multinomial", "result_type"):
        assert name in paragraphs["`minigrad.`"]
    for name in ("hardswish", "glu", "softmin"):
        assert name in paragraphs["`nn.functional.`"]
    assert set(F.__all__) == set(paragraphs["`nn.functional.`"])
    assert "a // b" in paragraphs["`Tensor` operators"]
