"""Reading a plan against past runs: time estimates (``vlmhb plan``) and metric parity."""

from .estimate import StageEstimate, estimate

__all__ = ["StageEstimate", "estimate"]
