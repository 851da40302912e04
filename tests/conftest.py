"""Suite-wide settings: on CI, hypothesis explores a fixed set of examples, so a merge never hinges on luck;
the user's signing key and a player's kept seats are never the real ones."""

import atexit
import os
import shutil
import tempfile

from hypothesis import settings

# Signing keys live in the user's config folder: the suite never touches the real one. Each
# test process gets a fresh folder (its key is made by the first session a test runs).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="tabletop-test-config-")
os.environ.pop("TABLETOP_SIGNING_KEY", None)

# `tabletop join` keeps its seats under $XDG_STATE_HOME; the commands the tests run (in this
# process or as subprocesses, which inherit it) keep them in a folder of this run's own.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="tabletop-test-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
