"""The process group: MPI's world communicator, or a world of one process when MPI is absent.

:func:`init` is called once per process (again is harmless). Under ``mpiexec -n N`` every process
gets a rank ``0 .. N-1``; started any other way, or without ``mpi4py`` installed, the world is this
process alone and every collective is the identity, so the same script runs with or without MPI.

A process that fails must take the others down with it, or they wait forever in their next
collective: :func:`init` installs an exception hook that prints the traceback under the rank's name
and calls ``MPI_Abort``, and :func:`abort_on_error` does the same for errors a command catches itself.
"""

import contextlib
import os
import sys
import time
import traceback

from ..errors import ChainruleError


class DistributedError(ChainruleError, RuntimeError):
    """The processes of a distributed run disagree (model, configuration) or cannot work together.

    Every rank raises it together, so a job that meets one ends cleanly on all ranks.
    """


class _SingleProcess:
    """The world of one process: the collectives chainrule uses, as identities."""

    rank = 0
    size = 1

    def Allreduce(self, send, receive, op=None):
        if send is not _IN_PLACE:
            receive[...] = send

    def Bcast(self, buffer, root=0):
        pass

    def Allgather(self, send, receive):
        receive[...] = send

    def allgather(self, value):
        return [value]

    def Barrier(self):
        pass

    def Abort(self, code=1):
        os._exit(code)


_IN_PLACE = object()
_world = None
_MPI = None


def init():
    """Join the process group (idempotent) and return its communicator.

    Under ``mpiexec`` this initialises MPI through ``mpi4py``; otherwise, or when ``mpi4py`` is not
    installed, the world is this process alone (rank 0 of 1).
    """
    global _world, _MPI
    if _world is not None:
        return _world
    try:
        from mpi4py import MPI
    except ImportError:
        _world = _SingleProcess()
        return _world
    _MPI = MPI
    _world = MPI.COMM_WORLD
    if _world.size > 1:
        _install_excepthook()
    return _world


def world():
    """The communicator (joining the group first if needed)."""
    return init()


def rank():
    """This process's rank, ``0 .. world_size() - 1``."""
    return init().rank


def world_size():
    """The number of processes in the group."""
    return init().size


def is_root():
    """Whether this is rank 0, the process that writes files and prints progress."""
    return rank() == 0


def in_place():
    """MPI's ``IN_PLACE`` marker (the single-process world's own, without MPI)."""
    init()
    return _IN_PLACE if _MPI is None else _MPI.IN_PLACE


def sum_op():
    """MPI's ``SUM`` reduction (``None`` without MPI)."""
    init()
    return None if _MPI is None else _MPI.SUM


def describe():
    """``"rank R of N"`` for messages."""
    return f"rank {rank()} of {world_size()}"


ABORT_GRACE_SECONDS = 0.5
"""How long a failing rank waits between printing its message and ``MPI_Abort``: the abort ends
mpiexec's forwarding of the processes' output, so without the wait a busy machine could lose the one
line that says which rank failed and why."""


def abort(code=1, message=None):
    """Print ``message`` under this rank's name and end every process of the job with ``code``."""
    if message:
        print(f"chainrule.distributed: {describe()}: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    if world_size() > 1:
        time.sleep(ABORT_GRACE_SECONDS)
    init().Abort(code)


@contextlib.contextmanager
def abort_on_error(code=1):
    """End the whole job when the body fails on this rank, instead of leaving the others waiting.

    A :class:`DistributedError` (raised by every rank together) and ``SystemExit(0)`` pass through;
    any other exception, or a non-zero ``SystemExit``, prints its message under the rank's name and
    calls ``MPI_Abort``. In a world of one process it does nothing.
    """
    if world_size() == 1:
        yield
        return
    try:
        yield
    except DistributedError:
        raise
    except SystemExit as exit:
        if exit.code in (None, 0):
            raise
        abort(exit.code if isinstance(exit.code, int) else code, f"exited with {exit.code!r}")
    except BaseException as error:  # noqa: BLE001 - any failure on one rank must end the job
        abort(code, f"{type(error).__name__}: {error}")


def _install_excepthook():
    previous = sys.excepthook

    def abort_job(kind, value, trace):
        if issubclass(kind, DistributedError):
            previous(kind, value, trace)
            return
        text = "".join(traceback.format_exception(kind, value, trace))
        abort(1, f"uncaught exception, ending the job:\n{text}")

    sys.excepthook = abort_job
