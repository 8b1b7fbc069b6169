"""Hypothesis profiles: `ci` (default: bounded examples) and `long` (deep fuzz).

Select with HYPOTHESIS_PROFILE=long (or pytest --hypothesis-profile=long). Numba compiles on first
use, so no example has a deadline.
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.filter_too_much,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=50, derandomize=True, print_blob=True, **_common)
settings.register_profile("long", max_examples=500, **_common)
settings.register_profile("dev", max_examples=10, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
