"""Copying a tensor to another device: a primitive, so that gradients flow back to the device it came
from (``x.to("cuda")``, ``x.cpu()``)."""

from .. import devices
from ..core.batching import defvectorized
from ..core.primitive import primitive


def _transfer(xp, x, *, device, source):
    """``x`` copied from the device ``source`` onto ``device`` (both :class:`~chainrule.devices.Device`)."""
    return devices.move(x, device)


transfer = primitive("transfer", _transfer, saves=())
transfer.defvjp(lambda ns, g, ans, x, device, source: ns.transfer(g, device=source, source=device))
transfer.defjvp(lambda ns, t, ans, x, device, source: ns.transfer(t, device=device, source=source))
defvectorized(transfer)  # each element is copied: a batch goes with it
