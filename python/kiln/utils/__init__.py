# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils: data loading (kiln.utils.data) and hook handles (kiln.utils.hooks)."""
from . import data, hooks  # noqa: F401
