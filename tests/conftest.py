"""Hypothesis profiles: `ci` (default: bounded examples) and `long` (deep fuzz).

Select with HYPOTHESIS_PROFILE=long (or pytest --hypothesis-profile=long). Numba compiles on first
use, so no example has a deadline. GPU tests use numba's CUDA simulator unless MINIGRAD_CUDA_REAL=1.
"""

import os

# The GPU code runs in numba's CUDA simulator unless a real GPU is asked for. This must happen
# before numba.cuda is first imported (numba reads it then); CPU Numba is unaffected.
if os.environ.get("MINIGRAD_CUDA_REAL") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.filter_too_much,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("long", max_examples=500, **_common)
settings.register_profile("dev", max_examples=10, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
