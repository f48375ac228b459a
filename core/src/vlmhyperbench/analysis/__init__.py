"""Reading results back: paired comparisons of runs, and time estimates for a plan."""

from .compare import CompareError, compare
from .estimate import StageEstimate, estimate

__all__ = ["CompareError", "StageEstimate", "compare", "estimate"]
