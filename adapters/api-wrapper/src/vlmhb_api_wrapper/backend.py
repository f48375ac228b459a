"""The contract between the API wrapper and a backend.

A backend is whatever actually runs a model (vLLM's engine, a model's own inference code, an
OCR engine). The wrapper owns HTTP, auth, monitoring and batching; a backend only turns a
batch of already-decoded requests into answers. Backends are found through the entry-point
group ``vlmhyperbench.backends`` (name -> class), so a new one is a package, not a patch.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

BACKENDS_ENTRY_POINT_GROUP = "vlmhyperbench.backends"


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image already fetched and base64-decoded by the wrapper: backends never see URLs."""

    type: Literal["image"] = "image"
    data: bytes = Field(repr=False)
    mime_type: str = "image/png"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: list[TextPart | ImagePart]

    def text(self) -> str:
        """All text parts joined, the usual way a backend reads a prompt."""
        return "\n".join(part.text for part in self.content if isinstance(part, TextPart))

    def images(self) -> list[ImagePart]:
        return [part for part in self.content if isinstance(part, ImagePart)]


class GenerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = Field(
        default=None,
        description="OpenAI response_format as sent, e.g. {'type': 'json_schema', "
        "'json_schema': {'name': ..., 'schema': {...}}}",
    )


class GenerationResult(BaseModel):
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Literal["stop", "length", "error"] = "stop"
    error: str | None = None
    reasoning: str | None = Field(
        default=None,
        description="The model's reasoning when the backend separates it (sent as the "
        "message's reasoning_content, like vLLM's reasoning parsers); never part of ``text``.",
    )
    reasoning_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Tokens of the reasoning, part of completion_tokens; None when unknown "
        "(sent as usage.completion_tokens_details.reasoning_tokens, as OpenAI does).",
    )
    cached: bool = False
    """Served from the backend's cache (no model work, e.g. a page the OCR engine read
    before): the response says so, and speed figures leave the answer out."""
    error_kind: Literal["backend", "request"] = Field(
        default="backend",
        description="Who is at fault when ``error`` is set: 'request' is the client's (more "
        "images than the model takes, a schema the engine refuses) and is answered 400, which "
        "clients do not retry; 'backend' is the server's (500, which the OpenAI SDK retries).",
    )

    @classmethod
    def refused(cls, message: str) -> GenerationResult:
        """A request the backend cannot run as sent: the message names the field or limit."""
        return cls(text="", finish_reason="error", error=message, error_kind="request")


@runtime_checkable
class Backend(Protocol):
    """What the wrapper calls. Implementations are plain classes with a no-argument constructor.

    Optional: a class attribute ``config_model``, a pydantic model with ``extra="forbid"``.
    The wrapper then validates each load's config against it *before* unloading the current
    model (a bad config is a 422 naming the field and the model keeps serving), and passes
    only the load request's ``secrets`` that are fields of that model (others are ignored and
    listed as ``ignored_secrets``). No field may name an executable or a path outside the
    data root: whoever holds the key can load any config. Settings such as an engine's binary
    belong to server start-up (environment, flags), not to the model config.
    """

    name: ClassVar[str]
    #: True when generate() gains from receiving many requests at once (continuous batching).
    supports_batching: ClassVar[bool]

    def default_config(self) -> dict[str, Any]:
        """The model config loaded when the server starts without one."""
        ...

    async def load(self, config: dict[str, Any]) -> None:
        """Load a model; raise an exception with a user-facing message when it cannot."""
        ...

    async def unload(self) -> None: ...

    async def generate(self, batch: list[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, same order. A per-request failure is a result with error set."""
        ...

    def info(self) -> dict[str, Any]:
        """What is loaded, with versions of the engine: served at GET /v1/models."""
        ...
