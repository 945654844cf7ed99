"""Learning-rate schedules, with PyTorch's ``torch.optim.lr_scheduler`` interface.

Each epoch-based scheduler computes the learning rate of epoch ``t = last_epoch`` from a closed form
in the initial learning rates (``base_lrs``), so a scheduler restored from :meth:`~LRScheduler.state_dict`
continues exactly. Creating a scheduler stores ``"initial_lr"`` in each parameter group and sets the
learning rate of epoch 0; call :meth:`~LRScheduler.step` after each epoch's ``optimizer.step()``.
"""

import bisect
import copy
import math

from ..core.graph import replayable
from ..validation import check_int, check_number


class LRScheduler:
    """Base class of learning-rate schedulers.

    Subclasses implement :meth:`lr_at`, the learning rate at an epoch given the initial one.

    Args:
        optimizer: the optimiser whose ``param_groups[i]["lr"]`` the scheduler sets.
        last_epoch: index of the last epoch seen; ``-1`` (default) for a fresh start, otherwise
            the groups must already hold ``"initial_lr"`` (as after loading an optimiser's state).

    Attributes:
        last_epoch: the current epoch, 0 right after construction.
        base_lrs: the initial learning rates, one per parameter group.
    """

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{name}: expected an optimizer, got {type(optimizer).__name__}")
        if last_epoch != -1:
            check_int(last_epoch, "last_epoch", -1, owner=name)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ValueError(f"{name}: resuming with last_epoch={last_epoch} needs 'initial_lr' in "
                                 f"param_groups[{i}]; load the optimizer's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch):
        """The learning rate at ``epoch`` of a group whose initial learning rate is ``base_lr``.

        Args:
            base_lr: the group's initial learning rate.
            epoch: the epoch index, from 0.

        Returns:
            The learning rate.
        """
        raise NotImplementedError

    def get_lr(self):
        """The learning rates at :attr:`last_epoch`, one per parameter group.

        Returns:
            A list of floats.
        """
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    def get_last_lr(self):
        """The learning rates last set by the scheduler.

        Returns:
            A list of floats, one per parameter group.
        """
        return list(self._last_lr)

    @replayable
    def step(self):
        """Advance one epoch and set the optimiser's learning rates."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _set_lrs(self, lrs):
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} parameter groups, "
                             f"but the scheduler was set up for {len(lrs)}")
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def state_dict(self):
        """The scheduler's state: every attribute except the optimiser (copied).

        Returns:
            A dict.
        """
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state saved by :meth:`state_dict` of the same kind of scheduler.

        The restored learning rates are also written into the optimiser, so it does not matter whether
        the optimiser's own state is loaded before or after.

        Args:
            state_dict: the saved state.
        """
        name = type(self).__name__
        expected = set(vars(self)) - {"optimizer"}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: the state dict does not come from a {name}: "
                             f"expected keys {sorted(expected)}, got {got}")
        self.__dict__.update(copy.deepcopy(state_dict))
        self._set_lrs(self._last_lr)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.get_last_lr()})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs: ``lr_t = lr_0 γ^⌊t / step_size⌋``.

    Args:
        optimizer: the optimiser.
        step_size: period of the decay, in epochs (>= 1).
        gamma: multiplicative factor (> 0).
        last_epoch: index of the last epoch, ``-1`` for a fresh start.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_int(step_size, "step_size", 1, owner="StepLR")
        self.gamma = check_number(gamma, "gamma", 0, low_open=True, owner="StepLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone: ``lr_t = lr_0 γ^(milestones <= t)``.

    Args:
        optimizer: the optimiser.
        milestones: epoch indices (a milestone listed twice decays twice, as in PyTorch).
        gamma: multiplicative factor (> 0).
        last_epoch: index of the last epoch, ``-1`` for a fresh start.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = sorted(check_int(m, "milestones entry", 0, owner="MultiStepLR") for m in milestones)
        self.gamma = check_number(gamma, "gamma", 0, low_open=True, owner="MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr_t = lr_0 γ^t``.

    Args:
        optimizer: the optimiser.
        gamma: multiplicative factor (> 0).
        last_epoch: index of the last epoch, ``-1`` for a fresh start.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_number(gamma, "gamma", 0, low_open=True, owner="ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (SGDR without restarts): ``lr_t = η_min + (lr_0 − η_min)(1 + cos(π t / T_max)) / 2``.

    After ``T_max`` epochs the cosine carries on, climbing back to ``lr_0`` at ``2 T_max``, as in PyTorch.

    Args:
        optimizer: the optimiser.
        T_max: half-period, in epochs (>= 1).
        eta_min: minimum learning rate (>= 0).
        last_epoch: index of the last epoch, ``-1`` for a fresh start.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = check_int(T_max, "T_max", 1, owner="CosineAnnealingLR")
        self.eta_min = check_number(eta_min, "eta_min", 0, owner="CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    ``lr_t = lr_0 (s + (e − s) min(t, total_iters) / total_iters)``; the default is a warm-up from a
    third of the learning rate to all of it over 5 epochs.

    Args:
        optimizer: the optimiser.
        start_factor: factor at epoch 0, in (0, 1].
        end_factor: factor from epoch ``total_iters`` on, in [0, 1].
        total_iters: number of epochs of the ramp (>= 1).
        last_epoch: index of the last epoch, ``-1`` for a fresh start.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        self.start_factor = check_number(start_factor, "start_factor", 0, 1,
                                         low_open=True, high_open=False, owner="LinearLR")
        self.end_factor = check_number(end_factor, "end_factor", 0, 1, high_open=False, owner="LinearLR")
        self.total_iters = check_int(total_iters, "total_iters", 1, owner="LinearLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        fraction = min(self.total_iters, epoch) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * fraction)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    After more than ``patience`` epochs without improvement (better than the best value by more than
    ``threshold``, relative or absolute) the learning rates are reduced, never below ``min_lr``, and
    the count restarts after ``cooldown`` further epochs.

    Args:
        optimizer: the optimiser.
        mode: ``"min"`` (the metric should decrease, e.g. a loss) or ``"max"`` (e.g. an accuracy).
        factor: multiplicative factor, in [0, 1).
        patience: number of epochs without improvement tolerated (>= 0).
        threshold: minimum significant change (>= 0).
        threshold_mode: ``"rel"`` (best · (1 ∓ threshold)) or ``"abs"`` (best ∓ threshold).
        cooldown: epochs to wait after a reduction before counting again (>= 0).
        min_lr: lower bound on the learning rate, one for all groups or a list with one per group.
        eps: reductions smaller than this are skipped.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{name}: expected an optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: unknown mode {mode!r}: expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: unknown threshold_mode {threshold_mode!r}: expected 'rel' or 'abs'")
        self.optimizer = optimizer
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.factor = check_number(factor, "factor", 0, 1, owner=name)
        self.patience = check_int(patience, "patience", 0, owner=name)
        self.threshold = check_number(threshold, "threshold", 0, owner=name)
        self.cooldown = check_int(cooldown, "cooldown", 0, owner=name)
        self.eps = check_number(eps, "eps", 0, owner=name)
        groups = optimizer.param_groups
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(groups)
        if len(min_lrs) != len(groups):
            raise ValueError(f"{name}: invalid min_lr {min_lr!r}: expected one value per parameter group "
                             f"({len(groups)})")
        self.min_lrs = [check_number(m, "min_lr", 0, owner=name) for m in min_lrs]
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in groups]

    def is_better(self, value, best):
        """Whether ``value`` improves significantly on ``best``.

        Args:
            value: the new metric.
            best: the best metric so far.

        Returns:
            A bool.
        """
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            target = best * scale
        else:
            target = best - self.threshold if self.mode == "min" else best + self.threshold
        return value < target if self.mode == "min" else value > target

    def step(self, metric):
        """Record one epoch's metric, reducing the learning rates after a plateau.

        Args:
            metric: the epoch's metric (anything ``float()`` accepts, such as a 0-d tensor).
        """
        value = float(metric)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self):
        """The current learning rates (this scheduler has no closed form).

        Returns:
            A list of floats, one per parameter group.
        """
        return [group["lr"] for group in self.optimizer.param_groups]
