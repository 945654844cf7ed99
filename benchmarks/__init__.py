"""chainrule's side-by-side benchmarks against PyTorch eager, JAX with jit, HIPS autograd and NumPy by hand.

Run ``python -m benchmarks`` (``--help`` for options). Each (framework, workload) pair runs in its own
process (:mod:`benchmarks.worker`) with the same pinned thread count; the runner (:mod:`benchmarks.runner`)
collects their JSON, and :mod:`benchmarks.report` writes Markdown and JSON tables of medians, spreads,
ratios and goals. The workloads are listed in :mod:`benchmarks.workloads`; the models and training steps
they share are in :mod:`benchmarks.models`.
"""
