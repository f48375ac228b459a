"""Per-row decoding control inside ``model.generate``: grammar, sampling, token budget.

transformers' ``generate`` takes one temperature, one top_p, one seed and one length for the
whole batch, while the wrapper groups requests that differ in all of them. So ``generate``
runs greedy, and :class:`RowController`, a logits processor, decides every row's next token
itself and leaves only that token standing:

- **grammar**: rows with a ``response_format`` are masked by an xgrammar matcher, so the
  answer is valid JSON for the schema whatever the weights; a second matcher for plain JSON
  runs beside it (:class:`StrictJsonMatcher`), because xgrammar's schema grammars are not
  always JSON: its rule for strings with ``minLength`` / ``maxLength`` admits raw control
  characters (0.2.9: ``[^"\\\r\n]``), which a strict JSON parser refuses, and any of
  its strings takes UTF-8 byte sequences of surrogates (U+D800-DFFF), which decode to
  several U+FFFD and so break ``maxLength``;
- **budget**: a constrained row nearing its ``max_tokens`` switches to *closing mode*, where
  it prefers tokens that end strings, objects and arrays, so the JSON is finished inside
  the budget instead of being cut; an unconstrained row at its budget is stopped;
- **sampling**: temperature / top_p with a ``torch.Generator`` of the row's own seed, so a
  seeded request gives the same answer whichever other requests share its batch.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import torch
import xgrammar as xgr
from transformers import LogitsProcessor

from vlmhb_transformers_adapter.mapping import RequestError, Sampling, StructuredOutput

#: Token classes for closing mode, higher is preferred.
_OTHER, _SEPARATOR, _CLOSER, _STOP = 0, 1, 2, 3
_QUOTE = ord('"')
_CLOSE_BYTES = frozenset(b"}] ")
_SEPARATOR_BYTES = frozenset(b"}] ,:")
#: Tokens kept in hand beyond the estimated shortest completion before closing mode starts.
CLOSING_MARGIN = 8
_SIMULATION_LIMIT = 2048
#: Most closing tokens one generated token can add (a token such as ``[{"`` opens several).
_GROWTH = 4


#: Any JSON value (RFC 8259), strings without raw control characters or encoded surrogates:
#: the strict guard beside every schema grammar (xgrammar EBNF).
STRICT_JSON_EBNF = r"""
root ::= ws value ws
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws (member (ws "," ws member)* ws)? "}"
member ::= string ws ":" ws value
array ::= "[" ws (value (ws "," ws value)* ws)? "]"
string ::= "\"" char* "\""
char ::= [^\0-\x1f"\\\ud800-\udfff] | "\\" (["\\/bfnrt] | "u" hex hex hex hex)
hex ::= [0-9a-fA-F]
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [+-]? [0-9]+)?
ws ::= [ \t\n\r]*
"""


@dataclass
class JsonCursor:
    """Whether the JSON text so far ends inside a string: what "closing" means depends on it."""

    in_string: bool = False
    escaped: bool = False

    def advance(self, raw: bytes) -> None:
        for byte in raw:
            if self.escaped:
                self.escaped = False
            elif self.in_string and byte == 0x5C:  # backslash
                self.escaped = True
            elif byte == _QUOTE:
                self.in_string = not self.in_string

    def copy(self) -> JsonCursor:
        return JsonCursor(self.in_string, self.escaped)


class StrictJsonMatcher:
    """The schema's matcher and a strict JSON matcher side by side: a token is allowed only
    when both accept it, so the answer is both what the schema asks and JSON a strict parser
    reads (no raw control character in a string, whatever the schema grammar admits).

    It has the part of ``xgrammar.GrammarMatcher``'s interface the controller uses; the
    schema's matcher decides when the answer is complete.
    """

    def __init__(self, schema: xgr.GrammarMatcher, strict: xgr.GrammarMatcher) -> None:
        self.schema = schema
        self.strict = strict
        self._strict_mask: torch.Tensor | None = None  # reused: one allocation per answer

    def accept_token(self, token: int) -> bool:
        by_schema = self.schema.accept_token(token)
        by_strict = self.strict.accept_token(token)
        return by_schema and by_strict

    def fill_next_token_bitmask(self, bitmask: torch.Tensor, index: int = 0) -> None:
        self.schema.fill_next_token_bitmask(bitmask, index)
        if self._strict_mask is None or self._strict_mask.shape[1] != bitmask.shape[1]:
            self._strict_mask = torch.empty((1, bitmask.shape[1]), dtype=bitmask.dtype)
        self._strict_mask.fill_(-1)  # all allowed, as allocate_token_bitmask gives it
        self.strict.fill_next_token_bitmask(self._strict_mask, 0)
        bitmask[index] &= self._strict_mask[0]

    def is_terminated(self) -> bool:
        return self.schema.is_terminated()

    def is_completed(self) -> bool:
        return self.schema.is_completed()


class GrammarFactory:
    """Compiles response formats against one tokenizer; compiled grammars are cached by xgrammar."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int]) -> None:
        self.vocab_size = vocab_size
        self.stop_token_ids = list(stop_token_ids)
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=self.stop_token_ids
        )
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=1)
        self.strict_json = self.compiler.compile_grammar(STRICT_JSON_EBNF)
        # TokenizerInfo.decoded_vocab rebuilds the whole list on every access: keep one copy
        self.decoded_vocab: list[bytes] = list(self.info.decoded_vocab)
        self.classes = self._closing_classes()

    def _closing_classes(self) -> dict[bool, torch.Tensor]:
        """Per token, how much it closes: inside a string (key False/True = outside/inside).

        Inside a string only a token that starts with a quote ends it (``"``, ``"}``, ``",``);
        outside, brackets close and a quote would open something new, so it ranks low.
        """
        outside = torch.zeros(self.vocab_size, dtype=torch.int16)
        inside = torch.zeros(self.vocab_size, dtype=torch.int16)
        for token_id, raw in enumerate(self.decoded_vocab[: self.vocab_size]):
            if not raw:
                continue
            if set(raw) <= _CLOSE_BYTES:
                outside[token_id] = _CLOSER
            elif set(raw) <= _SEPARATOR_BYTES:
                outside[token_id] = _SEPARATOR
            if raw[0] == _QUOTE and set(raw[1:]) <= _SEPARATOR_BYTES:
                inside[token_id] = _CLOSER
        for token_id in self.stop_token_ids:
            if token_id < self.vocab_size:
                outside[token_id] = inside[token_id] = _STOP
        return {False: outside, True: inside}

    def compile(self, output: StructuredOutput) -> xgr.CompiledGrammar:
        """A grammar for the constraint; a schema xgrammar cannot take is the request's error."""
        try:
            if output.kind == "json_object":
                schema: dict[str, Any] = {"type": "object"}
                return self.compiler.compile_json_schema(
                    schema, any_whitespace=False, separators=(",", ":"), strict_mode=False
                )
            return self.compiler.compile_json_schema(
                json.dumps(output.schema), any_whitespace=False, separators=(",", ":")
            )
        except Exception as exc:  # xgrammar raises RuntimeError / ValueError with its reason
            raise RequestError(
                f"response_format.json_schema.schema: cannot be enforced: {exc}"
            ) from exc

    def matcher(self, grammar: xgr.CompiledGrammar) -> StrictJsonMatcher:
        """A matcher for one answer: the schema's grammar, guarded by strict JSON."""
        return StrictJsonMatcher(xgr.GrammarMatcher(grammar), xgr.GrammarMatcher(self.strict_json))

    def allowed(self, matcher: StrictJsonMatcher | xgr.GrammarMatcher) -> torch.Tensor:
        """Boolean mask of the tokens the matcher accepts next."""
        bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)
        matcher.fill_next_token_bitmask(bitmask, 0)
        probe = torch.zeros(1, self.vocab_size)
        xgr.apply_token_bitmask_inplace(probe, bitmask)
        return torch.isfinite(probe[0])

    def closing_length(
        self, matcher: StrictJsonMatcher | xgr.GrammarMatcher, cursor: JsonCursor
    ) -> int:
        """Tokens closing mode needs to finish from the matcher's state (an estimate).

        Simulated on a fork: at each step the most closing token allowed (lowest id among
        equals), until a stop token is the choice. Only the schema's grammar is simulated:
        the strict JSON guard changes which tokens are taken, hardly how many, and
        simulating it too would double the cost of the estimate.
        """
        if isinstance(matcher, StrictJsonMatcher):
            matcher = matcher.schema
        fork, cursor = matcher.fork(), cursor.copy()
        for steps in range(1, _SIMULATION_LIMIT + 1):
            if fork.is_terminated():
                return steps - 1
            token = self.closing_choice(self.allowed(fork), cursor, None)
            if token is None:
                return _SIMULATION_LIMIT
            if token in self.stop_token_ids:
                return steps
            fork.accept_token(token)
            cursor.advance(self.decoded_vocab[token])
        return _SIMULATION_LIMIT

    def closing_choice(
        self, allowed: torch.Tensor, cursor: JsonCursor, logits: torch.Tensor | None
    ) -> int | None:
        """Among allowed tokens, one of the most closing class (the model's favourite if given)."""
        if not bool(allowed.any()):
            return None
        ranks = self.classes[cursor.in_string]
        classes = torch.where(allowed.cpu(), ranks, torch.tensor(-1, dtype=torch.int16))
        best = classes == classes.max()
        if logits is None:
            return int(best.nonzero()[0, 0])
        masked = torch.where(best, logits.float().cpu(), torch.tensor(float("-inf")))
        return int(masked.argmax())


@dataclass
class RowPlan:
    """One request of the batch as the controller sees it."""

    sampling: Sampling
    grammar: xgr.CompiledGrammar | None = None


@dataclass
class RowState:
    matcher: StrictJsonMatcher | None = None
    cursor: JsonCursor | None = None
    generator: torch.Generator | None = None
    reserve: int = 0
    next_check: int = 0  # remaining budget at which the closing length is simulated again
    closing: bool = False
    done: bool = False
    stopped_by_budget: bool = False
    grammar_error: str | None = None


class RowController(LogitsProcessor):
    """Decides each row's next token; ``generate`` must run greedy (``do_sample=False``)."""

    def __init__(
        self, plans: list[RowPlan], factory: GrammarFactory | None, stop_token_ids: list[int]
    ) -> None:
        self.plans = plans
        self.factory = factory
        self.stop_token_ids = list(stop_token_ids)
        self.prompt_length: int | None = None
        self.states: list[RowState] = []
        for plan in plans:
            state = RowState()
            if plan.grammar is not None:
                assert factory is not None
                state.matcher = factory.matcher(plan.grammar)
                state.cursor = JsonCursor()
                state.reserve = factory.closing_length(state.matcher, state.cursor)
                state.next_check = state.reserve + CLOSING_MARGIN + _GROWTH * CLOSING_MARGIN
            if plan.sampling.temperature > 0:
                seed = plan.sampling.seed
                seed = secrets.randbits(63) if seed is None else seed
                state.generator = torch.Generator().manual_seed(seed)
            self.states.append(state)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        step = input_ids.shape[1] - self.prompt_length
        chosen: list[int | None] = []
        for row, (plan, state) in enumerate(zip(self.plans, self.states, strict=True)):
            if state.done:
                chosen.append(None)
                continue
            if step > 0:
                last = int(input_ids[row, -1])
                if last in self.stop_token_ids:
                    state.done = True
                    chosen.append(None)
                    continue
                if state.matcher is not None:
                    if not state.matcher.accept_token(last):  # never expected: it was masked
                        state.grammar_error = f"the grammar refused token {last}"
                        state.matcher = None
                    elif state.cursor is not None and self.factory is not None:
                        state.cursor.advance(self.factory.decoded_vocab[last])
            chosen.append(self._next(plan, state, scores[row], plan.sampling.max_tokens - step))
        for row, token in enumerate(chosen):
            if token is not None:
                scores[row].fill_(float("-inf"))
                scores[row, token] = 0.0
        return scores

    def _next(self, plan: RowPlan, state: RowState, logits: torch.Tensor, remaining: int) -> int:
        if remaining <= 0:
            state.stopped_by_budget = True
            return self.stop_token_ids[0]
        if state.matcher is None or state.cursor is None:
            return self._sample(plan.sampling, state, logits)
        factory = self.factory
        assert factory is not None
        allowed = factory.allowed(state.matcher).to(logits.device)
        if not bool(allowed.any()):  # the schema asks for what strict JSON forbids
            state.grammar_error = "no token satisfies both the schema's grammar and strict JSON"
            state.matcher = None
            return self.stop_token_ids[0]
        if not state.closing and remaining <= state.next_check:
            # Simulating is costly, so it is repeated only when the budget could have shrunk
            # to what closing needs: that need grows by at most _GROWTH tokens per token.
            needed = factory.closing_length(state.matcher, state.cursor) + CLOSING_MARGIN
            state.closing = needed >= remaining
            state.next_check = remaining - max(1, (remaining - needed) // (_GROWTH + 1))
        if state.closing:
            token = factory.closing_choice(allowed, state.cursor, logits)
            return self.stop_token_ids[0] if token is None else token
        masked = torch.where(allowed, logits, torch.tensor(float("-inf"), device=logits.device))
        return self._sample(plan.sampling, state, masked)

    @staticmethod
    def _sample(sampling: Sampling, state: RowState, logits: torch.Tensor) -> int:
        if state.generator is None:
            return int(logits.argmax())
        probs = torch.softmax(logits.float().cpu() / sampling.temperature, dim=-1)
        if sampling.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            cumulative = torch.cumsum(ordered, dim=-1)
            drop = cumulative - ordered > sampling.top_p  # keep the smallest set reaching top_p
            ordered[drop] = 0.0
            probs = torch.zeros_like(probs).scatter_(0, order, ordered)
        return int(torch.multinomial(probs, 1, generator=state.generator))
