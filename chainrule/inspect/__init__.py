"""The hidden machinery made visible: traces of every rule applied, graphs, gradient flow, anomalies.

- :func:`trace`: every VJP and JVP rule the engine applies, with the user's source line, the shapes,
  the broadcast axes and the norms of the vectors flowing through.
- :func:`graph`: the computational graph as a Graphviz picture, with gradient norms after backward.
- :func:`gradient_flow`, :class:`GradientFlowCallback`, :func:`plot_gradient_flow`: per-layer gradient
  and weight norms, update ratios, dead ReLUs, and warnings when gradients vanish or explode.
- :func:`detect_anomaly`: stop at the first NaN or infinity, naming the primitive and the line.

All of them observe the engine through :class:`chainrule.core.graph.hooks`, which cost nothing when
none of them is active.
"""

from .anomaly import detect_anomaly
from .callback import GradientFlowCallback
from .flow import FlowReport, FlowWarning, gradient_flow, weights_snapshot
from .graphs import Graph, GraphvizNotInstalled, graph
from .plots import plot_gradient_flow
from .program import program
from .tracing import Trace, trace

__all__ = ["FlowReport", "FlowWarning", "Graph", "GraphvizNotInstalled", "GradientFlowCallback", "Trace",
           "detect_anomaly", "gradient_flow", "graph", "plot_gradient_flow", "program", "trace",
           "weights_snapshot"]
