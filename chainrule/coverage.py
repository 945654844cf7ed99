"""The rule coverage table: which primitives have which rules, so nobody meets a missing one at run time."""

from .core.batching import primitive_batchers
from .core.primitive import REGISTRY


def rules():
    """One row per registered primitive: its name, whether it has a VJP rule, a JVP rule, rules fit
    for higher order (written on the namespace the engine passes in, so a backward or forward pass
    through them can itself be differentiated), and a batching rule (``vmap``).

    Returns:
        A list of dicts with keys ``primitive``, ``vjp``, ``jvp``, ``higher_order``, ``batching``; for
        a non-differentiable primitive (integer or boolean output) the first three are ``"n/a"``.

    Example:
        >>> import chainrule as cr
        >>> [row for row in cr.rules() if row["primitive"] == "exp"]
        [{'primitive': 'exp', 'vjp': True, 'jvp': True, 'higher_order': True, 'batching': True}]
    """
    table = []
    for name, prim in sorted(REGISTRY.items()):
        batching = prim in primitive_batchers
        if not prim.differentiable:
            table.append({"primitive": name, "vjp": "n/a", "jvp": "n/a", "higher_order": "n/a",
                          "batching": batching})
            continue
        has_vjp, has_jvp = prim.vjps is not None, prim.jvps is not None
        table.append({"primitive": name, "vjp": has_vjp, "jvp": has_jvp,
                      "higher_order": has_vjp and has_jvp, "batching": batching})
    return table


def format_rules(table=None):
    """The coverage table as aligned text."""
    table = rules() if table is None else table
    mark = {True: "yes", False: "MISSING", "n/a": "n/a"}
    lines = [f"{'primitive':<24}{'vjp':<9}{'jvp':<9}{'higher-order':<14}{'batching':<9}"]
    lines += [f"{row['primitive']:<24}{mark[row['vjp']]:<9}{mark[row['jvp']]:<9}"
              f"{mark[row['higher_order']]:<14}{mark[row.get('batching', 'n/a')]:<9}" for row in table]
    return "\n".join(lines)
