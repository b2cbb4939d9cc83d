"""The runner autoscaling operator: scales runner Deployments on Temporal queue depth.

See docs/autoscaling.md. ``decision`` is the pure policy; ``handlers`` wires it to kopf.
"""
