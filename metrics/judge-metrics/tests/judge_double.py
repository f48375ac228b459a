"""A judge test double: an OpenAI-compatible server on loopback that grades by a rule.

An LLM judge cannot run on this machine (no weights, no GPU), so this stand-in answers the
rubric the way a judge would be asked to: it reads the reference and the candidate out of the
prompt and says ``correct`` when the reference is in the answer. Everything around it is
real: HTTP on 127.0.0.1, the official ``openai`` client, the key in ``Authorization``. The
repository's end-to-end judge test loads this file too.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from typing import Any

from aiohttp import web

KEY = "sk-judge-5d1e9b7c3a"


class RuleJudgeServer:
    """Test double for an LLM judge. ``mode``: json, prose, garbage or contrarian (flips)."""

    def __init__(self, mode: str = "json", served: str = "judge-large") -> None:
        self.mode = mode
        self.served = served
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> RuleJudgeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"headers": request.headers.copy(), "body": body})
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        prompt = body["messages"][-1]["content"]
        reference = re.search(r"Reference answer\(s\): (.*)", prompt).group(1)  # type: ignore[union-attr]
        answer = re.search(r"Candidate answer: (.*)", prompt).group(1)  # type: ignore[union-attr]
        right = any(r.strip().lower() in answer.lower() for r in reference.split(" | "))
        if self.mode == "contrarian":
            right = not right
        verdict = "correct" if right else "incorrect"
        content = {
            "json": json.dumps({"verdict": verdict, "rationale": f"reference {reference!r}"}),
            "contrarian": json.dumps({"verdict": verdict, "rationale": "I disagree"}),
            "prose": f"<think>compare</think>The answer is {verdict}: it names {reference}.",
            "garbage": "I cannot say.",
        }[self.mode]
        return web.json_response(
            {
                "id": "j",
                "object": "chat.completion",
                "created": 0,
                "model": self.served,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
            }
        )
