"""The training loops' compiled step: on by default, said in one line, eager after one line of why.

:class:`CompiledStep` wraps a loop's update (forward, loss, backward, clipping, optimiser step) in
:func:`chainrule.compile`. A call that records (the first, a new batch shape) is taken back and
replayed: a snapshot of the model, the optimiser's state and the random generators is taken before
the recording and restored after it, then the recorded program runs, so every step of a run is the
program's (fused kernels round differently from eager mode) and a resumed run, which records again,
repeats an uninterrupted one bit for bit. When a step cannot be recorded (``CompileError``: a model
deciding on its inputs' values in Python), the snapshot is restored, one line says why, and the loop
runs eagerly from then on.

Token batches (the text classifiers') are first cut to a length bucket, their longest sentence
rounded up to a multiple of ``width`` positions, so that a run records at most ``max_programs``
programs, one per bucket (:func:`length_buckets`).
"""

import copy
import math
import time

import numpy as np

from ..compile import CompileError, c_backend
from ..compile import compile as compile_step
from ..nn.text_models import PAD_ID


class CompiledStep:
    """A loop's update as a compiled step; calling it returns the update's results, or ``None``
    once the step runs eagerly (then the loop calls its update itself).

    Args:
        update: the loop's ``update(x, y)``.
        model, optimizer: what a recording changes (restored after it).
        generators: ``() -> {name: numpy Generator}`` drawn on by the step (dropout's).
        say: called with the one-line messages.
        max_programs: the cap on programs (batch shapes) kept.
    """

    def __init__(self, update, model, optimizer, generators, say, max_programs=8):
        self.step = compile_step(update, max_programs=max_programs)
        self.step.before_recording = self._snapshot
        self.model, self.optimizer, self.generators, self.say = model, optimizer, generators, say
        self.active = True
        self.seconds = 0.0
        self._saved = None

    @property
    def recordings(self):
        """How many times the step was recorded (see :class:`chainrule.compile.Compiled`)."""
        return self.step.recordings

    @property
    def programs(self):
        """The recorded programs, by signature."""
        return self.step.programs

    def __call__(self, *args):
        if not self.active:
            return None
        recordings, built, cached = self.step.recordings, c_backend.stats.built, c_backend.stats.cached
        started = time.perf_counter()
        try:
            result = self.step(*args)
        except CompileError as error:
            self._restore()
            self.active = False
            self.say(f"compile: off, training eagerly: {reason(error)}")
            return None
        if self.step.recordings == recordings:
            return result
        self._restore()  # take the recording's eager step back: the program makes every step
        result = self.step(*args)
        self.seconds += time.perf_counter() - started
        if recordings == 0:
            program = next(reversed(self.step.programs.values()))
            # elementwise groups, row kernels, attention, optimiser updates: every operation named "fused"
            kernels = sum(op.name.startswith("fused") for op in program.ops)
            how = (f"{kernels} fused kernel{'s' * (kernels != 1)}" if kernels
                   else "NumPy replay (no fused kernels)")
            self.say(f"compile: the training step is compiled ({len(program.ops)} operations, {how}, "
                     f"{self.seconds:.2f} s; {c_backend.stats.built - built} kernels built, "
                     f"{c_backend.stats.cached - cached} from the cache); --no-compile runs it eagerly")
        return result

    def _snapshot(self):
        tensors = [*self.model.parameters(), *self.model.buffers()]
        self._saved = ([(t, t.data.copy()) for t in tensors],
                       {id(p): (p, copy.deepcopy(dict(s))) for p, s in self.optimizer.state.items()},
                       copy.deepcopy([group for group in self.optimizer.param_groups],
                                     memo={id(p): p for g in self.optimizer.param_groups for p in g["params"]}),
                       {name: g.bit_generator.state for name, g in self.generators().items()})

    def _restore(self):
        """Put back what the last snapshot holds, in place (the program reads these same arrays and
        dicts, and an optimiser's fused update keeps its state dict)."""
        if self._saved is None:
            return
        tensors, state, groups, generators = self._saved
        self._saved = None
        for tensor, array in tensors:
            if tensor.data.shape == array.shape and tensor.data.dtype == array.dtype:
                tensor.data[...] = array
            else:
                tensor.data = array
            tensor.grad = None
        for p, s in list(self.optimizer.state.items()):
            saved = state.get(id(p), (p, {}))[1]
            for key in list(s):
                if key not in saved:
                    del s[key]
            for key, value in saved.items():
                now = s.get(key)
                if isinstance(value, np.ndarray) and isinstance(now, np.ndarray) and now.shape == value.shape:
                    now[...] = value
                else:
                    s[key] = value
        for group, saved in zip(self.optimizer.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        for name, generator in self.generators().items():
            if name in generators:
                generator.bit_generator.state = generators[name]


def reason(error):
    """A compile error's message without the line it points at and without its advice."""
    text = str(error).removeprefix("chainrule.compile: ").split("\n  at ")[0]
    return text.split(" Run this model without compiling")[0].rstrip(" ;:,.")


def length_buckets(ids, max_programs):
    """The bucket width (in positions) that cuts token batches of ``ids.shape[1]`` positions into at
    most ``max_programs`` lengths."""
    return max(1, math.ceil(ids.shape[1] / max_programs))


def cut_to_bucket(ids, width):
    """Token ids ``(batch, positions)`` cut after the bucket of their longest sentence (padding,
    ``PAD_ID``, only at the end): its length rounded up to a multiple of ``width``."""
    longest = int((ids != PAD_ID).sum(axis=1).max(initial=1))
    keep = min(ids.shape[1], math.ceil(longest / width) * width)
    return ids[:, :keep] if keep < ids.shape[1] else ids
