"""The spec table on a device: every case's value, VJP and JVP computed on the fake device (NumPy behind a
distinct array type that refuses NumPy arrays, as CuPy does; see ``chainrule.fake_device``) must equal
the CPU's (to 1e-12: off NumPy, ``einsum`` contracts in another order) and stay on the device. ``benchmarks/gpu.py`` runs the same check on CuPy.

Cases whose spec mixes in a NumPy constant of its own (a mask, labels, weights) must raise the
DeviceError that mixing devices raises; cases whose rules or forward still make NumPy arrays are listed
with the reason, as strict expected failures, so a fixed one must leave the list.
"""

import numpy as np
import pytest

from chainrule import fake_device
from chainrule.errors import DeviceError
from chainrule.testing import check_on_device
from tests.core.domains import sample
from tests.core.test_spec_table import CASES

HOST_CONSTANTS = {"where-0", "softmax_cross_entropy-0", "attention-1", "attention-2", "attention-5",
                  "window_sum-1", "window_scatter-0", "fmax-1", "fmin-1", "nan_to_num-0",
                  "max_pool_scatter-0", "max_pool_scatter-1", "max_pool_gather-0", "max_pool_gather-1",
                  "softmax_cross_entropy_mean-0", "softmax_cross_entropy_mean-1", "softmax_cross_entropy_mean-2"}
"""Cases whose spec passes a NumPy array of its own beside the tensors: on a device, a DeviceError."""

NOT_YET_ON_DEVICE = {
    "window_sum-0": "avg_pool's count_include_pad=False weights are made with NumPy",
    "einsum-1": "the diagonal's rules build an index with NumPy",
    "einsum-4": "the diagonal's rules build an index with NumPy",
    "prod-0": "rules build arrays with NumPy", "prod-1": "rules build arrays with NumPy",
    "prod-2": "rules build arrays with NumPy",
    "inv-0": "rules add a NumPy identity", "solve-0": "rules add a NumPy identity",
    "solve-1": "rules add a NumPy identity", "det-0": "rules add a NumPy identity",
    "logabsdet-0": "rules add a NumPy identity", "cholesky-0": "rules add a NumPy identity",
    "eigh-0": "rules add a NumPy identity", "eigh-1": "rules add a NumPy identity",
    "svd-0": "rules add a NumPy identity", "svd-1": "rules build arrays with NumPy",
    "svd-2": "rules build arrays with NumPy", "qr-0": "rules build arrays with NumPy",
    "qr-1": "rules build arrays with NumPy", "pinv-0": "rules build arrays with NumPy",
    "pinv-1": "rules build arrays with NumPy",
    **{f"recurrent_scan-{i}": "the length mask is made with NumPy" for i in (1, 3, 4, 5, 7)},
}
"""Cases that do not yet run on a device, and why."""


def _param(name, i, fn, domains):
    case = f"{name}-{i}"
    marks = ([pytest.mark.xfail(reason=NOT_YET_ON_DEVICE[case], strict=True)]
             if case in NOT_YET_ON_DEVICE else [])
    return pytest.param(case, i, fn, domains, marks=marks, id=case)


@pytest.fixture(scope="module", autouse=True)
def fake():
    return fake_device.enable()


@pytest.mark.parametrize("case,i,fn,domains", [_param(*c) for c in CASES])
def test_value_vjp_and_jvp_on_a_device_equal_the_cpu(case, i, fn, domains):
    rng = np.random.default_rng(i)
    args = tuple(sample(kind, shape, rng) for kind, shape in domains)
    if case in HOST_CONSTANTS:
        with pytest.raises(DeviceError, match="two devices, .*fake:0"):
            check_on_device(fn, args, "fake", rtol=1e-12, atol=1e-14)
        return
    check_on_device(fn, args, "fake", rtol=1e-12, atol=1e-14)


def test_the_lists_name_only_cases_of_the_table():
    cases = {f"{name}-{i}" for name, i, _, _ in CASES}
    assert HOST_CONSTANTS <= cases and set(NOT_YET_ON_DEVICE) <= cases


def test_check_on_device_catches_a_wrong_value(monkeypatch):
    # the check must fail when the device computes something else: exp answered by expm1 there
    import chainrule as cr
    from chainrule.core.registry import REGISTRY
    exp = REGISTRY["exp"]
    real_impl = exp.impl
    monkeypatch.setattr(exp, "impl", lambda xp, x: real_impl(xp, x) if xp is np else xp.expm1(x))
    with pytest.raises(AssertionError, match="value 0 on fake:0 differs"):
        check_on_device(cr.exp, (np.array([0.5, 1.0]),), "fake")
