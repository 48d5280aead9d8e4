import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture()
def scratch():
    d = Path(tempfile.mkdtemp(prefix="fuserec-py-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cli():
    """The `fuserec` binary built with the extension's profile (set by scripts/python-tests)."""
    path = os.environ.get("FUSEREC_CLI")
    if not path or not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail("FUSEREC_CLI is not set: run the suite through scripts/python-tests")
        pytest.skip("FUSEREC_CLI not set (run through scripts/python-tests)")
    return path
