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


def _binary(var: str) -> str:
    """A binary built with the extension's profile, whose path scripts/python-tests sets in `var`;
    missing in CI is a failure, never a skip."""
    path = os.environ.get(var)
    if not path or not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{var} is not set: run the suite through scripts/python-tests")
        pytest.skip(f"{var} not set (run through scripts/python-tests)")
    return path


@pytest.fixture(scope="session")
def cli():
    """The `fuserec` binary."""
    return _binary("FUSEREC_CLI")


@pytest.fixture(scope="session")
def serve():
    """The `fuserec-serve` binary."""
    return _binary("FUSEREC_SERVE")
