"""The OpenAI chat-completions wire format, the subset the wrapper accepts and returns.

Unknown request fields are ignored (the official client sends some), but the ones the
wrapper does use are validated, so a wrong one is a 422 that names the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TextContent(BaseModel):
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    url: str
    detail: str | None = None


class ImageUrlContent(BaseModel):
    type: Literal["image_url"]
    image_url: ImageUrl


ContentPart = Annotated[TextContent | ImageUrlContent, Field(discriminator="type")]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if self.type != "json_schema":
            return self
        schema = (self.json_schema or {}).get("schema")
        if not isinstance(schema, dict):
            raise ValueError("type 'json_schema' needs json_schema.schema (a JSON Schema object)")
        _check_schema(schema, "json_schema.schema")
        return self


#: Nesting deeper than this is refused: no real output schema comes near it.
MAX_SCHEMA_DEPTH = 32


def _check_schema(schema: dict[str, Any], where: str, depth: int = 0) -> None:
    """The keywords backends walk (``properties``, ``items``) must have their JSON Schema types.

    Backends read a schema as a tree of objects; ``"properties": [...]`` used to reach one
    and come back as a 500.
    """
    if depth > MAX_SCHEMA_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_SCHEMA_DEPTH} levels")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise ValueError(
                f"{where}.properties: expected an object of name -> schema, "
                f"got {type(properties).__name__}"
            )
        for name, sub in properties.items():
            if not isinstance(sub, dict | bool):
                raise ValueError(
                    f"{where}.properties.{name}: expected a schema object, got {type(sub).__name__}"
                )
            if isinstance(sub, dict):
                _check_schema(sub, f"{where}.properties.{name}", depth + 1)
    items = schema.get("items")
    if items is not None:
        if not isinstance(items, dict | bool):
            raise ValueError(f"{where}.items: expected a schema object, got {type(items).__name__}")
        if isinstance(items, dict):
            _check_schema(items, f"{where}.items", depth + 1)
    for keyword in ("required", "enum"):
        if keyword in schema and not isinstance(schema[keyword], list):
            raise ValueError(
                f"{where}.{keyword}: expected an array, got {type(schema[keyword]).__name__}"
            )


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    n: Literal[1] = 1
    stream: Literal[False] = False
    response_format: ResponseFormat | None = None


class LoadRequest(BaseModel):
    """Body of POST /v1/models/load. Secrets go here, never into the server's environment."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Name clients use; default from config")
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Merged into the config for load(); never returned"
    )
