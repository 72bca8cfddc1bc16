"""Shared fixtures of the Python module's tests: where the sources, the fixtures and the
command-line binary are (ctest passes SPIKETILE_CLI and SPIKETILE_SOURCE_DIR), and a helper that
runs the CLI so each test can compare the module's results with the CLI's, bit for bit."""
import os
import pathlib
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(os.environ.get("SPIKETILE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
# ctest sets PYTHONPATH to the module's build folder; a plain `python3 -m pytest tests/python` from
# the checkout finds it in build/python.
if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(SOURCE / "build" / "python"))
CLI = os.environ.get("SPIKETILE_CLI", str(SOURCE / "build" / "spiketile"))
MODEL = SOURCE / "models" / "spikegpt-fortunes.pth"
NIR = SOURCE / "tests" / "data" / "nir"


def run_cli(*args):
    """Runs build/spiketile with `args`; returns its stdout, failing the test on a non-zero exit."""
    done = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, f"spiketile {' '.join(map(str, args))}: {done.stderr}"
    return done.stdout


@pytest.fixture
def cli():
    return run_cli


def run_cli_full(*args):
    """Runs build/spiketile with `args`; returns (stdout, stderr), failing the test on a non-zero exit."""
    done = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, f"spiketile {' '.join(map(str, args))}: {done.stderr}"
    return done.stdout, done.stderr


HELDOUT = SOURCE / "tests" / "data" / "heldout_excerpt.txt"


@pytest.fixture(scope="session")
def quick_fortunes(tmp_path_factory):
    """The shipped SpikeGPT compiled the quickest way (no profile, no placement search), and its file."""
    import spiketile
    path = tmp_path_factory.mktemp("quick") / "fortunes.stmap"
    run_cli("compile", "--model", MODEL, "--objective", "cores", "--profile-tokens", 0, "--placement-effort", 0,
            "-o", path)
    return spiketile.Mapping.load(str(path)), path
