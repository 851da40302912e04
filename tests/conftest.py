"""Suite-wide settings: on CI, hypothesis explores a fixed set of examples, so a merge never hinges on luck."""

import os
import tempfile

from hypothesis import settings

# Signing keys live in the user's config folder: the suite never touches the real one. Each
# test process gets a fresh folder (its key is made by the first session a test runs).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="tabletop-test-config-")
os.environ.pop("TABLETOP_SIGNING_KEY", None)

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
