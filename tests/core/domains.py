"""Input domains for the spec table: a kind and a shape, sampled per case."""


def real(*shape):
    return ("real", shape)


def positive(*shape):
    """Values in [0.5, 2]: away from the singular points of log, sqrt, division."""
    return ("positive", shape)


def sample(kind, shape, rng):
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    return rng.uniform(-1.5, 1.5, shape)
