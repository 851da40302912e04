"""Suite-wide settings: on CI, hypothesis explores a fixed set of examples, so a merge never hinges on luck."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
