"""Matrix multiplication: 1-D, 2-D and batched operands with broadcast batch axes."""

from __future__ import annotations

import numpy as np

from minigrad.ops.linalg import matmul
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo

op_db = [OpInfo("matmul", matmul, S.matmul_samples, ref=np.matmul)]
