"""The processes of a ``chainrule train --distributed`` run, as the command sees them."""

import contextlib
import dataclasses
import os

from ..errors import ChainruleError
from .collectives import check_agreement
from .comm import abort_on_error, init

# Set by mpiexec in every process it starts: MPICH's Hydra, then Open MPI.
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


@dataclasses.dataclass
class ProcessGroup:
    """This process's place in a run: ``root`` (rank 0) alone writes files and prints."""

    rank: int
    size: int
    pids: list

    @property
    def root(self):
        return self.rank == 0

    def describe(self):
        """``"2 (rank 0: pid 812, rank 1: pid 813)"``: the launcher names a failed process by pid."""
        return f"{self.size} (" + ", ".join(f"rank {rank}: pid {pid}" for rank, pid in
                                            enumerate(self.pids)) + ")"


@contextlib.contextmanager
def run_processes(distributed, settings):
    """Join the processes of a training run and make them fail together.

    Args:
        distributed: whether the run is data-parallel over the processes ``mpiexec`` started.
        settings: the run's settings (JSON-ready): every rank must hold the same.

    Yields:
        The :class:`ProcessGroup`. Inside the block, an error on one rank ends the whole job
        (``MPI_Abort``) with the rank named, instead of leaving the others waiting.

    Raises:
        ChainruleError: when ``mpiexec`` started several processes but ``distributed`` is off (each
            would train the same run into the same directory).
        DistributedError: on every rank, when the ranks' settings differ.
    """
    launched = max(int(os.environ.get(name, "1") or 1) for name in _LAUNCHER_SIZES)
    if not distributed:
        if launched > 1:
            raise ChainruleError(f"mpiexec started {launched} processes, but without --distributed each "
                                 f"would train the same run into the same directory; add --distributed")
        yield ProcessGroup(0, 1, [os.getpid()])
        return
    comm = init()
    if comm.size != launched and launched > 1:
        raise ChainruleError(f"mpiexec started {launched} processes, but MPI sees {comm.size}: mpi4py is "
                             f"missing or built for another MPI than this mpiexec's (use the mpiexec "
                             f"installed with it: pip install -e \".[mpi]\")")
    with abort_on_error():
        check_agreement(settings, "configuration")
        pids = comm.allgather(os.getpid()) if comm.size > 1 else [os.getpid()]
        yield ProcessGroup(comm.rank, comm.size, pids)
