"""Server settings: what the command line sets, with defaults that suit a single-GPU box."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Default pixel limit: a 600 dpi A4 scan is 35 Mpx; a 13000x13000 "decompression bomb" is 169.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
#: Keys shorter than this are accepted with a warning (short values are not masked in logs).
MIN_RECOMMENDED_KEY_LENGTH = 16
#: GPU memory in use (as NVML reports it, every process's) above which the watchdog marks the
#: server not ready. An engine that reserves a share of the GPU up front (vLLM's
#: ``gpu_memory_utilization``) must stay below it, or /ready never turns 200.
DEFAULT_GPU_MEMORY_LIMIT_FRACTION = 0.99


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = Field(
        default=None,
        description="Required on every endpoint but /health; None or '' disables auth "
        "(with a warning); a blank key is refused.",
    )
    data_root: Path | None = Field(
        default=None, description="file:// image URLs are served only from under this folder."
    )
    max_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_image_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        gt=0,
        description="Width x height x frames of one image, read from its header before any "
        "decoding: a few-KB file can decode to gigabytes.",
    )
    generate_deadline_s: float = Field(
        default=300.0, gt=0, description="The watchdog marks the server not ready past this."
    )
    memory_limit_bytes: int | None = Field(
        default=None, gt=0, description="Process RSS above this marks the server not ready."
    )
    gpu_memory_limit_fraction: float = Field(default=DEFAULT_GPU_MEMORY_LIMIT_FRACTION, gt=0, le=1)
    sample_interval_s: float = Field(default=1.0, gt=0)
    watchdog_interval_s: float = Field(default=0.5, gt=0)
    batch_window_s: float = Field(default=0.005, ge=0)
    max_batch_size: int = Field(default=64, ge=1)
    unload_drain_s: float = Field(
        default=30.0,
        ge=0,
        description="How long an unload or reload waits for requests in flight before it "
        "gives up with 409 (the model stays loaded).",
    )
    parent_pid: int | None = Field(
        default=None,
        gt=0,
        description="The server shuts itself down when this process is gone, so a killed "
        "run leaves no server behind (where PR_SET_PDEATHSIG is not available).",
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_blank_key(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw == "":
            return None  # "no key", as on the command line; create_app() warns about it
        if isinstance(raw, str) and raw.strip() != raw:
            what = "blank" if not raw.strip() else "has leading or trailing whitespace"
            raise ValueError(
                f"the API key is {what}: no client could send it (HTTP headers are trimmed); "
                "give a real key, or none to disable auth"
            )
        return value
