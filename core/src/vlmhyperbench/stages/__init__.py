"""Stage scripts: run by path with an environment's interpreter, so they import nothing of the
core (only the standard library, pydantic and the packages of their environment). Each is
copied into its stage folder together with ``stage_configs.py``, the config models it shares
with the core."""

from pathlib import Path

STAGES_DIR = Path(__file__).parent
CONFIGS_MODULE = STAGES_DIR / "stage_configs.py"


def script(name: str) -> Path:
    return STAGES_DIR / f"{name}.py"
