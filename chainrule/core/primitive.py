"""Primitives and their registry: each declares its forward, its JVP and its VJP side by side.

A primitive's forward is ``impl(xp, *inputs, **params)`` on raw arrays. Its rules are registered per
input, as in HIPS autograd's ``defvjp``/``defjvp``::

    exp = primitive("exp", lambda xp, x: xp.exp(x))
    exp.defvjp(lambda ns, g, ans, x: g * ans)      # g: cotangent of ans
    exp.defjvp(lambda ns, t, ans, x: t * ans)      # t: tangent of x

A primitive whose inputs' rules share work (a recomputation, a reverse scan) registers instead one
rule for all of them, as autograd's ``defvjp_argnums`` and JAX's transpose rules do: it is called once
per node with the positions that need a cotangent and returns theirs (``defvjp_argnums``); likewise
``defjvp_argnums`` returns the output tangent's term of each input at once.

Rules are written against a namespace ``ns`` that the engine passes in: for a first-order backward pass
it is :data:`raw` (the forward implementations on bare arrays, no recording); when a gradient must
itself be differentiable it is :data:`diff` (chainrule's own primitives), so the very same rule is
recorded and can be differentiated again, to any order.

A VJP rule returns the cotangent of its input in the output's (broadcast) shape: the reverse pass
sums over broadcast axes once, in one place. A JVP rule returns the tangent of the output; the forward
pass broadcasts it to the output's shape when the rule returns a smaller one.
"""

import functools
import inspect

from .dispatch import bind
from .registry import REGISTRY, diff, raw  # noqa: F401  (diff, raw: imported from here by the operations)
class Primitive:
    """An operation with a forward implementation and per-input VJP and JVP rules.

    Args:
        name: the public name (``chainrule.<name>``).
        impl: the forward, ``impl(xp, *inputs, **params)``.
        differentiable: ``False`` for operations with integer or boolean outputs (``one_hot``).
        saves: which values the rules read, of ``"inputs"`` and ``"ans"``; the reverse pass keeps only
            the shapes and dtypes of the others, so their memory is freed as early as possible.
        stateful: ``True`` for operations whose result is not a function of their inputs alone or that
            change their inputs (a random draw, an in-place running statistic): a compiled step never
            drops or precomputes them.

    Attributes:
        into: ``None``, or ``into(xp, out, *inputs, **params)``: the forward written into ``out``, an
            array of the result's shape and dtype that may be one of the inputs (a ufunc's ``out=``); a
            compiled step uses it to reuse the buffer of an input that dies there.
    """

    def __init__(self, name, impl, differentiable=True, saves=("inputs", "ans"), stateful=False):
        self.name = name
        self.impl = impl
        self.differentiable = differentiable
        self.stateful = stateful
        self.into = None
        self.saves_inputs = "inputs" in saves
        self.saves_ans = "ans" in saves
        self.vjps = None
        self.jvps = None
        self.vjp_argnums = None
        self.jvp_argnums = None
        self.__name__ = name
        self.__doc__ = impl.__doc__
        self.nin, self.param_names = _split_signature(impl)
        self.accepted = frozenset(self.param_names)

    def __repr__(self):
        return f"<primitive {self.name}>"

    def __call__(self, *inputs, **params):
        if self.nin is not None and len(inputs) > self.nin:
            inputs, params = self.fold(inputs, params)
        try:
            return bind(self, inputs, params)
        except TypeError:
            if self.accepted.issuperset(params):  # checked here, off the hot path
                raise
        return bind(self, inputs, self.keywords(params))

    def fold(self, args, params):
        """Positional ``args`` split into the inputs and the parameters they stand for, in the
        implementation's order: ``sum(x, 1)`` is ``sum(x, axis=1)``."""
        extra = args[self.nin:]
        if len(extra) > len(self.param_names):
            raise TypeError(f"{self.name}() takes {self.nin + len(self.param_names)} positional "
                            f"arguments but {len(args)} were given")
        for name in self.param_names[:len(extra)]:
            if name in params:
                raise TypeError(f"{self.name}() got multiple values for argument {name!r}")
        return args[:self.nin], {**params, **dict(zip(self.param_names, extra))}

    def keywords(self, params):
        """``params``, some of which the forward does not take, as keywords it takes; here a
        ``TypeError`` naming them and the accepted ones. :mod:`chainrule.pytorch_compat` replaces this
        method with one that also renames PyTorch's ``dim=``/``keepdim=`` (``axis=``/``keepdims=``)."""
        unknown = ", ".join(repr(key) for key in params if key not in self.accepted)
        accepted = ", ".join(self.param_names) or "no keyword arguments"
        raise TypeError(f"{self.name}() got unexpected keyword arguments {unknown}; it accepts {accepted}")

    def defvjp(self, *rules):
        """Register one VJP rule per input, ``rule(ns, g, ans, *inputs, **params)``; ``None`` for an
        input that takes no gradient (labels, conditions)."""
        self.vjps, self.vjp_argnums = rules, None
        return self

    def defjvp(self, *rules):
        """Register one JVP rule per input, ``rule(ns, t, ans, *inputs, **params)``."""
        self.jvps, self.jvp_argnums = rules, None
        return self

    def defvjp_argnums(self, rule, argnums):
        """Register one VJP rule for the inputs at positions ``argnums`` (the others take no gradient),
        for inputs whose cotangents share work: ``rule(wanted, ns, g, ans, *inputs, **params)`` returns
        the cotangents of the positions ``wanted`` (a tuple drawn from ``argnums``), in that order. The
        backward pass calls it once per node; :attr:`vjps` holds its per-input views."""
        self.vjp_argnums, self.vjps = rule, self._views(_one_vjp, rule, argnums)
        return self

    def defjvp_argnums(self, rule, argnums):
        """Register one JVP rule for the inputs at positions ``argnums``: ``rule(given, ns, tangents,
        ans, *inputs, **params)`` returns the output tangent's term of each position in ``given`` (whose
        tangents are ``tangents``, in that order); forward mode sums them."""
        self.jvp_argnums, self.jvps = rule, self._views(_one_jvp, rule, argnums)
        return self

    def _views(self, one, rule, argnums):
        """One rule per input that computes only that input's part of a rule for several inputs."""
        count = self.nin if self.nin is not None else max(argnums) + 1
        return tuple(functools.partial(one, rule, i) if i in argnums else None for i in range(count))

    def defvjp_argnum(self, rule):
        """Register one VJP rule for every input of a variadic primitive: ``rule(argnum, ns, g, ...)``."""
        self.vjps, self.vjp_argnums = _ArgnumRules(rule), None
        return self

    def defjvp_argnum(self, rule):
        """Register one JVP rule for every input of a variadic primitive: ``rule(argnum, ns, t, ...)``."""
        self.jvps, self.jvp_argnums = _ArgnumRules(rule), None
        return self

    def def_elementwise(self, *rules):
        """Register rules of an elementwise primitive, ``rule(ns, g, ans, *inputs)``, as both its VJPs
        and its JVPs: an elementwise Jacobian is diagonal, so ``Jᵀ g`` and ``J t`` are the same product."""
        return self.defvjp(*rules).defjvp(*rules)

    def defjvp_linear(self):
        """Register the JVP of a primitive linear in its single input: the primitive applied to ``t``."""
        return self.defjvp(lambda ns, t, ans, x, **params: getattr(ns, self.name)(t, **params))

    def defbilinear(self, vjp_x, vjp_y, product=None):
        """Register the rules of a primitive bilinear in its first two inputs, ``ans = x ⊗ y (+ b ...)``,
        as JAX's ``ad.defbilinear`` does.

        The JVP halves follow from bilinearity alone, ``t ⊗ y`` and ``x ⊗ t``. The VJPs are the two
        given transposes, ``vjp_x(ns, g, ans, x, y, ...)`` and ``vjp_y``. Any further input is added to
        the product (a bias): its VJP passes ``g`` on and its JVP ``t`` (the engine sums or broadcasts).

        Args:
            vjp_x, vjp_y: the VJP rules of the two factors.
            product: ``product(ns, x, y, **params)``, the bilinear part, when it is not the primitive
                itself applied to ``(x, y)`` (``linear``'s is ``x @ y.T``, without the bias).

        Example:
            ``matmul.defbilinear(lambda ns, g, ans, x, y: ns.matmul(g, y.T), ...)`` gives matmul the JVPs
            ``t @ y`` and ``x @ t``; a convolution's are ``conv(t, w)`` and ``conv(x, t)``.
        """
        if product is None:
            def product(ns, x, y, **params):
                return getattr(ns, self.name)(x, y, **params)
        added = (self.nin or 2) - 2

        def jvp_x(ns, t, ans, x, y, *more, **params):
            return product(ns, t, y, **params)

        def jvp_y(ns, t, ans, x, y, *more, **params):
            return product(ns, x, t, **params)

        def passed_on(ns, g, ans, *inputs, **params):
            return g
        return self.defvjp(vjp_x, vjp_y, *[passed_on] * added).defjvp(jvp_x, jvp_y, *[passed_on] * added)


def _split_signature(impl):
    """Inputs are the positional parameters without defaults (after ``xp``); the rest are parameters.
    A variadic implementation (``*xs``) takes every positional argument as an input."""
    inputs, params = 0, []
    for parameter in list(inspect.signature(impl).parameters.values())[1:]:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None, [p.name for p in inspect.signature(impl).parameters.values()
                          if p.kind is p.KEYWORD_ONLY]
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.default is parameter.empty:
            inputs += 1
        else:
            params.append(parameter.name)
    return inputs, params


def _one_vjp(rule, argnum, ns, g, ans, *inputs, **params):
    return rule((argnum,), ns, g, ans, *inputs, **params)[0]


def _one_jvp(rule, argnum, ns, t, ans, *inputs, **params):
    return rule((argnum,), ns, (t,), ans, *inputs, **params)[0]


class _ArgnumRules:
    """Rules indexed like a tuple, generated by one function of the input's position."""

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, argnum):
        return functools.partial(self.rule, argnum)


def primitive(name, impl, differentiable=True, saves=("inputs", "ans"), stateful=False):
    """Create a primitive and add it to the registry (one name, one primitive). See :class:`Primitive`.

    Defining a name again from the module that defined it (a notebook cell run twice, a reloaded
    module) redefines that primitive in place: its rules are cleared, and every reference to it (and
    every rule calling it by name) sees the new definition. A name taken by another module is refused.
    """
    prim = REGISTRY.get(name)
    if prim is None:
        prim = REGISTRY[name] = Primitive(name, impl, differentiable, saves, stateful)
        return prim
    module, previous = getattr(impl, "__module__", None), getattr(prim.impl, "__module__", None)
    if module != previous:
        raise ValueError(f"primitive {name!r} is already defined in {previous}; choose another name")
    prim.__init__(name, impl, differentiable, saves, stateful)
    raw.__dict__.pop(name, None)  # its bare-array function was made from the old implementation
    return prim
