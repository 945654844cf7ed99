"""What a run happened on: the machine, the package versions, the pinned thread settings."""

import datetime
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from pathlib import Path

PACKAGES = ("numpy", "torch", "jax", "jaxlib", "autograd", "chainrule")
"""The packages whose versions a report records."""


def thread_environment(threads):
    """Environment variables that pin NumPy's BLAS, PyTorch's OpenMP pool and XLA to ``threads``.

    Example:
        >>> thread_environment(1)["OPENBLAS_NUM_THREADS"]
        '1'
    """
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}",
            "JAX_PLATFORMS": "cpu"}


def pinned_cpus(threads):
    """The CPUs a worker is bound to: the last ``threads`` of those this process may use, or ``None``
    where the system cannot bind processes to CPUs.

    Binding is what limits JAX, whose runtime sizes its thread pools by the CPUs it may run on and
    ignores the thread variables; every framework gets the same binding.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))[-threads:]


def cpu_model():
    """The CPU's model name from ``/proc/cpuinfo``, or what :mod:`platform` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine():
    """The platform, the CPU model and the number of logical cores."""
    return {"platform": platform.platform(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def versions():
    """Python's version and each of :data:`PACKAGES`' version, or ``missing``. A package importable
    from the source tree but not installed reports its ``__version__``."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "missing"
            if importlib.util.find_spec(package) is not None:
                found[package] = getattr(importlib.import_module(package), "__version__", "unknown")
    return found


def commit(repo):
    """The checked-out commit of ``repo``, marked ``+ local changes`` when the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + local changes" if dirty else "")


def source_digest(package_dir):
    """A short digest of every ``.py`` file under ``package_dir``: equal digests, same code.

    The runner takes one before and one after a run, to tell when the code measured changed under it.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        digest.update(str(path.relative_to(package_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def today():
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
