"""Spec-table entries for the GELU and layer-norm primitives (chainrule/ops/gelu.py, layer_norm.py):
the first-order rules run the float64 kernels where a compiler is, second order the rules on ``ns``."""

from chainrule.ops.gelu import gelu
from chainrule.ops.layer_norm import layer_norm
from tests.core.domains import real

SPECS = {
    "gelu": [(gelu, [real(3, 4)]), (lambda x: gelu(x, approximate="tanh"), [real(5)])],
    "layer_norm": [(lambda x, w, b: layer_norm(x, w, b), [real(3, 5), real(5), real(5)]),
                   (lambda x: layer_norm(x, None, None, eps=0.1), [real(2, 3, 4)]),
                   (lambda x, w: layer_norm(x, w, None), [real(4), real(4)])],
}
