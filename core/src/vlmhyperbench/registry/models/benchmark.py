"""Entries a benchmark is assembled from: tasks, models, datasets, prompts, metrics."""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from .base import Entry, OutputKind
from .endpoint import EndpointSpec, Price, RateLimits, ReasoningSpec


# --- tasks ----------------------------------------------------------------------------------
class TaskInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: int = Field(default=1, ge=0, description="Images per sample (maximum).")
    prompt_variables: list[str] = Field(
        default_factory=list, description="Variables a sample provides to the prompt template."
    )


class TaskOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OutputKind
    labels: list[str] | None = Field(default=None, description="Allowed labels (kind: label).")
    json_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema every answer must satisfy (kind: json)."
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> TaskOutput:
        if self.kind == "json":
            if self.json_schema is None:
                raise ValueError("output kind 'json' needs json_schema")
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(self.json_schema)
            except SchemaError as exc:
                raise ValueError(f"json_schema is not a valid JSON Schema: {exc.message}") from exc
        elif self.json_schema is not None:
            raise ValueError(f"json_schema is only allowed with kind 'json', not {self.kind!r}")
        if self.kind == "label" and not self.labels:
            raise ValueError("output kind 'label' needs a non-empty labels list")
        if self.kind != "label" and self.labels is not None:
            raise ValueError(f"labels are only allowed with kind 'label', not {self.kind!r}")
        return self


class TaskEntry(Entry):
    """MLTaskSchema: a kind of task, independent of any dataset or model."""

    input: TaskInput = Field(default_factory=TaskInput)
    output: TaskOutput
    default_metrics: list[str] = Field(default_factory=list)
    frameworks: list[str] = Field(
        default_factory=list,
        description="Frameworks whose models can run it (empty: any); a run pairing it with a "
        "model of another framework is refused.",
    )


# --- models ---------------------------------------------------------------------------------
class GenerationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None


class Resources(BaseModel):
    """What the model server needs: GPUs become device requests (docker) or num_gpus (ray)."""

    model_config = ConfigDict(extra="forbid")

    gpus: int = Field(default=0, ge=0)
    cpus: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)


class RetryPolicy(BaseModel):
    """How often a failing sample is tried: within a run, and across re-runs in total."""

    model_config = ConfigDict(extra="forbid")

    per_run: int = Field(default=3, ge=1, description="Requests per sample in one run.")
    max_attempts: int = Field(
        default=9,
        ge=1,
        description="Requests per sample over all runs; a sample failed this often stays failed.",
    )
    max_consecutive_failures: int = Field(
        default=25,
        ge=1,
        description="Failed requests in a row (any sample, 429s included) after which the run "
        "stops this model cleanly: partial, resumed by the next run.",
    )


class ModelEntry(Entry):
    """A model instance: what serves it, with which settings."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    framework: str | None = Field(default=None, description="Framework entry name.")
    adapter: str | None = Field(
        default=None, description="Package entry of the adapter (default: the framework's)."
    )
    backend: str | None = Field(default=None, description="Backend name (default: framework's).")
    load_config: dict[str, Any] = Field(
        default_factory=dict,
        alias="model",
        description="Backend model config sent to POST /v1/models/load (model path, engine...).",
    )
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Engine arguments merged over `model` in the load request (they win).",
    )
    generation: GenerationParams = Field(default_factory=GenerationParams)
    resources: Resources = Field(default_factory=Resources)
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    docker_image: str | None = Field(
        default=None, description="Image the docker executor runs this model's server in."
    )
    env: dict[str, str] = Field(default_factory=dict)
    base_url: str | None = Field(
        default=None, description="URL of an already running API wrapper: nothing is started."
    )
    concurrency: int = Field(default=4, gt=0, description="Requests in flight at once.")
    endpoint: EndpointSpec | None = Field(
        default=None,
        description="An OpenAI-compatible endpoint (framework openai-compatible): nothing is "
        "started, the endpoint is checked before any sample is sent.",
    )
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    price: Price | None = Field(default=None, description="For the cost columns and --max-cost.")
    reasoning: ReasoningSpec = Field(default_factory=ReasoningSpec)

    @property
    def hosted(self) -> bool:
        """Served by someone else under a name that may change: not reproducible by design."""
        return self.endpoint is not None

    @property
    def server_config(self) -> dict[str, Any]:
        """The load request's config: ``model`` with ``engine_args`` merged over it."""
        return {**self.load_config, **self.engine_args}

    @model_validator(mode="after")
    def _has_a_server(self) -> ModelEntry:
        if self.base_url is None and self.adapter is None and self.framework is None:
            raise ValueError("a model needs an adapter, a framework or a base_url")
        if self.endpoint is not None:
            clash = [f for f in ("adapter", "backend", "base_url") if getattr(self, f)]
            clash += ["model"] if self.load_config else []
            if clash:
                raise ValueError(
                    f"endpoint: an OpenAI-compatible endpoint is not served by this project, "
                    f"so {', '.join(clash)} cannot be set with it"
                )
        return self


# --- datasets -------------------------------------------------------------------------------
class DatasetGenerator(BaseModel):
    """A dataset made on the fly by a package (the embedded default data)."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(description="Package entry name of the generator.")
    callable: str = Field(description="'module:function' called as f(out_dir, **params).")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("callable")
    @classmethod
    def _import_path(cls, value: str) -> str:
        return _check_import_path(value)


class DatasetEntry(Entry):
    package: str = Field(description="Package entry name that provides the iterator.")
    iterator: str = Field(description="Entry-point name in the group vlmhyperbench.datasets.")
    source: str | None = Field(
        default=None,
        description="Local path, s3://bucket/prefix, or hf://owner/name (a Hugging Face Hub "
        "dataset, read by the `hf` iterator; config/split/revision go in options).",
    )
    generator: DatasetGenerator | None = None
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint for an s3:// source (default: AWS)."
    )
    path_in_source: str | None = Field(
        default=None, description="Sub-folder (or file) of the source that the iterator reads."
    )
    split: str | None = None
    task: str = Field(description="Task entry name this dataset is annotated for.")
    checksum: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Fingerprint of the prepared dataset: the sync stage refuses other data.",
    )
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetEntry:
        if (self.source is None) == (self.generator is None):
            raise ValueError("expected exactly one of 'source' and 'generator'")
        if (
            self.source is not None
            and "://" in self.source
            and not self.source.startswith(("s3://", "file://", "hf://"))
        ):
            raise ValueError(
                f"source: expected a local path, file://, s3:// or hf:// URL, got {self.source!r}"
            )
        return self


# --- prompts --------------------------------------------------------------------------------
def template_variables(template: str) -> list[str]:
    """Names used as {name} in a str.format template; raises ValueError on a broken template."""
    names: list[str] = []
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is None:
            continue
        if field_name == "" or not field_name.isidentifier():
            raise ValueError(f"expected {{variable}} placeholders, found {{{field_name}}}")
        names.append(field_name)
    return names


PromptTransform = Literal["strip", "capitalize"]
"""A ``str`` method applied to a prompt variable before the template is filled."""


class PromptEntry(Entry):
    """A prompt: one template, or a collection keyed by '<doc_class> <question_type>'."""

    template: str | None = Field(
        default=None, description="str.format template, e.g. '{question}'."
    )
    system_prompt: str | None = None
    collection: dict[str, str] | None = Field(
        default=None,
        description="'<doc_class> <question_type>' -> prompt that replaces the question.",
    )
    collection_file: str | None = Field(
        default=None,
        description="A prompt collection CSV in the VLMHyperBench format "
        "(prompt;doc_class_question_type[;cer]), relative to this file.",
    )
    response_format: Literal["text", "json_schema"] = Field(
        default="text", description="json_schema: ask for the task's JSON Schema."
    )
    transforms: dict[str, list[PromptTransform]] = Field(
        default_factory=dict,
        description="Per template variable, str methods applied in order before the template "
        "is filled (lmms-eval capitalizes TextVQA questions and strips OCRBench ones): "
        "{question: [capitalize]}.",
    )

    @model_validator(mode="after")
    def _has_text(self) -> PromptEntry:
        if self.template is None and self.collection is None and self.collection_file is None:
            raise ValueError("expected a template, a collection or a collection_file")
        if self.template is not None:
            used = template_variables(self.template)
            unused = sorted(set(self.transforms) - set(used))
            if unused:
                raise ValueError(
                    f"transforms: {', '.join(unused)} not used by the template {self.template!r}"
                )
        return self

    @model_serializer(mode="wrap")
    def _without_empty_transforms(self, handler: SerializerFunctionWrapHandler) -> Any:
        """No transforms, no key: a prompt's dump (part of the infer stage's identity) stays
        what it was before transforms existed, so cached answers stay valid."""
        data = handler(self)
        if isinstance(data, dict) and not self.transforms:
            data.pop("transforms", None)
        return data


# --- metrics --------------------------------------------------------------------------------
def _check_import_path(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
        raise ValueError(f"expected 'module.path:function', got {value!r}")
    return value


class MetricEntry(Entry):
    package: str = Field(description="Package entry name that provides the metric.")
    entry_point: str | None = Field(
        default=None, description="Name in the entry-point group vlmhyperbench.metrics."
    )
    callable: str | None = Field(default=None, description="'module:function' alternative.")
    version: str = Field(description="Algorithm version; results record name@version.")
    applies_to: list[OutputKind] = Field(description="Task output kinds this metric can score.")
    params: dict[str, Any] = Field(default_factory=dict)
    schema_param: str | None = Field(
        default=None,
        description="Name of the parameter that receives the task's JSON Schema "
        "(e.g. 'schema' for structural_fidelity).",
    )
    higher_is_better: bool = Field(
        default=True, description="False for error rates and latencies (CER, WER, seconds)."
    )
    inputs: Literal["answers", "telemetry"] = Field(
        default="answers",
        description="answers: (answer texts, references); telemetry: (per-sample telemetry "
        "records, None) for speed and memory metrics.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> MetricEntry:
        if (self.entry_point is None) == (self.callable is None):
            raise ValueError("expected exactly one of 'entry_point' and 'callable'")
        if self.callable is not None:
            _check_import_path(self.callable)
        return self

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def column(self) -> str:
        """Leaderboard column: the name, or ``<metric>@<compat>`` for a tool's variant."""
        compat = self.params.get("compat")
        return f"{self.entry_point or self.name}@{compat}" if compat else self.name
