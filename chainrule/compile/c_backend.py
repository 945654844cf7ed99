"""The kernel backend: C source built by the system's C compiler into a shared library, called through
ctypes (tinygrad's and TorchInductor's route on the CPU).

Nothing is added to the install: the compiler is found at run time (``$CC``, else ``cc``/``gcc``), and
without one :func:`unavailable` says why in one line, so that callers keep their NumPy path. Flags are
``-O3 -march=native -ffast-math -fno-finite-math-only -fopenmp-simd`` (NaN and infinities kept;
linked without ``-ffast-math``, which would set flush-to-zero for the whole process) and the library
links glibc's vector math library (``-lmvec``), so a loop under ``#pragma omp simd`` calling
``expf``, ``logf``, ``tanhf`` or ``erff`` calls their vector forms (``_ZGVdN8v_expf``: eight floats a
call on AVX2).

Built libraries are cached on disk under the user's cache directory (``$CHAINRULE_CACHE``, else
``$XDG_CACHE_HOME/chainrule/kernels``, else ``~/.cache/chainrule/kernels``), named by the SHA-256 of the
source, the flags, the compiler's version and the CPU (``-march=native`` builds for this one); each is
written to a temporary file and moved into place, so concurrent processes never load a half-written
library. :data:`stats` counts builds, cache hits and the seconds spent compiling.

Example:
    >>> import ctypes, numpy as np
    >>> from chainrule.compile import c_backend
    >>> if c_backend.unavailable() is None:
    ...     lib = c_backend.build("void twice(long n, float *x) { for (long i = 0; i < n; i++) x[i] *= 2; }")
    ...     x = np.arange(3, dtype=np.float32)
    ...     _ = lib.twice(ctypes.c_long(3), ctypes.c_void_p(x.ctypes.data))
    ...     print(x.tolist())
    ... else:
    ...     print([0.0, 2.0, 4.0])
    [0.0, 2.0, 4.0]
"""

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

FLAGS = ("-O3", "-march=native", "-ffast-math", "-fno-finite-math-only", "-D__FAST_MATH__", "-fopenmp-simd",
         "-fPIC")
LIBRARIES = ("-lmvec", "-lm")
# -fno-finite-math-only keeps NaN and infinities meaning what they mean to NumPy (a NaN input to
# maximum or relu gives NaN; -ffinite-math-only lets the compiler assume there are none). GCC defines
# __FAST_MATH__ only under all of -ffast-math, and glibc declares the vector forms of expf, tanhf...
# (libmvec) only when it is defined, so it is defined by hand.
# Compiled with FLAGS, then linked without -ffast-math: linking with it adds gcc's crtfastmath.o, whose
# constructor sets the CPU's flush-to-zero mode for the whole process when the library is loaded, so
# NumPy would then flush subnormal numbers to zero everywhere.


class _Stats:
    """What building kernels has cost in this process."""

    def __init__(self):
        self.built = 0          # libraries compiled
        self.cached = 0         # libraries loaded from the disk cache
        self.seconds = 0.0      # spent in the compiler

    def __repr__(self):
        return f"{self.built} built ({self.seconds:.2f} s compiling), {self.cached} from the cache"


stats = _Stats()


def cache_dir():
    """Where built kernels are kept."""
    root = os.environ.get("CHAINRULE_CACHE")
    if root:
        return os.path.join(root, "kernels")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "chainrule", "kernels")


@functools.cache
def _compiler():
    """``(path, version line)`` of the C compiler, or ``(None, why not)``."""
    if os.environ.get("CHAINRULE_NO_CC"):
        return None, "CHAINRULE_NO_CC is set"
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for name in candidates:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            return None, f"{path} --version failed: {error}"
        if version.returncode == 0:
            return path, version.stdout.splitlines()[0] if version.stdout else path
    return None, f"no C compiler found (looked for {', '.join(candidates)}; set CC, or apt install gcc)"


@functools.cache
def _cpu():
    """What ``-march=native`` builds for: the CPU's model and flags (part of the cache key)."""
    try:
        with open("/proc/cpuinfo") as file:
            lines = [line for line in file if line.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        import platform
        return platform.processor() or platform.machine()


@functools.cache
def unavailable():
    """``None`` when kernels can be built here, else one line saying why (then callers use NumPy)."""
    path, detail = _compiler()
    if path is None:
        return detail
    try:
        build("int chainrule_probe(int x) { return x + 1; }")
    except OSError as error:
        return f"the C compiler {path} could not build a kernel: {str(error).splitlines()[0]}"
    return None


def build_or_none(source, signatures=None):
    """The library :func:`build` makes of ``source``, or ``None`` when no kernel can be built here
    (callers then compute with NumPy). ``signatures`` maps a function's name to how many ``long``
    arguments it takes and then how many pointers: its ctypes ``argtypes``."""
    if unavailable() is not None:
        return None
    try:
        library = build(source)
    except OSError:
        return None
    for name, (longs, pointers) in (signatures or {}).items():
        getattr(library, name).argtypes = [ctypes.c_long] * longs + [ctypes.c_void_p] * pointers
    return library


_loaded = {}


def build(source, flags=FLAGS):
    """The shared library built from C ``source`` (from the cache when built before), loaded by ctypes.

    Raises:
        OSError: no compiler, or the compiler refused the source (its messages included).
    """
    path, version = _compiler()
    if path is None:
        raise OSError(f"chainrule kernels: {version}")
    parts = (source, " ".join(flags), "-c; -shared", " ".join(LIBRARIES), version, _cpu())
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    library = _loaded.get(key)
    if library is not None:
        return library
    directory = cache_dir()
    target = os.path.join(directory, f"{key}.so")
    if os.path.exists(target):
        stats.cached += 1
    else:
        os.makedirs(directory, exist_ok=True)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            c_file, o_file, so_file = (os.path.join(scratch, f"kernel.{ext}") for ext in ("c", "o", "so"))
            with open(c_file, "w") as file:
                file.write(source)
            for command in ([path, *flags, "-c", c_file, "-o", o_file],
                            [path, "-shared", o_file, "-o", so_file, *LIBRARIES]):
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    raise OSError(f"chainrule kernels: {path} failed ({done.returncode}):\n"
                                  f"{done.stderr[-2000:]}")
            os.replace(c_file, os.path.join(directory, f"{key}.c"))  # the source, for reading
            os.replace(so_file, target)  # atomic: another process sees the whole library or none
        stats.built += 1
        stats.seconds += time.perf_counter() - start
    library = _loaded[key] = ctypes.CDLL(target)
    return library


def pointer(array):
    """The address of ``array``'s first element, as a ctypes argument."""
    try:  # 0.4 µs, where the array interface (a dict made per call) takes 2-3 µs
        return _addressof(_from_buffer(array))
    except (TypeError, ValueError, BufferError):  # read-only, not C-contiguous, empty, not a buffer
        return array.__array_interface__["data"][0]


_addressof, _from_buffer = ctypes.addressof, ctypes.c_char.from_buffer


C_TYPES = {"float32": "float", "float64": "double", "int64": "long", "int32": "int", "bool": "_Bool"}
"""The C type of each NumPy dtype kernels are generated for."""
