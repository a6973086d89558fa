# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils: data loading (kiln.utils.data)."""
from . import data  # noqa: F401
