"""A scripted Gemini API behind an httpx2 MockTransport (google-genai uses httpx2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from shared.generate.gemini import GeminiWriter, RetryPolicy

Answer = tuple[int, Any] | Callable[[dict[str, Any]], tuple[int, Any]]


def posts_answer(
    posts: list[dict[str, Any]], tokens: tuple[int, int] = (120, 80)
) -> tuple[int, Any]:
    return 200, {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": json.dumps({"posts": posts})}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": tokens[0],
            "candidatesTokenCount": tokens[1],
            "totalTokenCount": sum(tokens),
        },
    }


def error_answer(status: int, message: str = "slow down") -> tuple[int, Any]:
    names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    return status, {"error": {"code": status, "message": message, "status": names.get(status)}}


@dataclass
class FakeGemini:
    answers: list[Answer]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.urls.append(str(request.url))
        if not self.answers:
            return httpx2.Response(500, json={"error": {"code": 500, "message": "no answer"}})
        answer = self.answers.pop(0)
        status, payload = answer(body) if callable(answer) else answer
        return httpx2.Response(status, json=payload)

    def writer(self, model: str = "gemini-2.5-flash", attempts: int = 3) -> GeminiWriter:
        return GeminiWriter(
            api_key="test-key",
            model=model,
            retry=RetryPolicy(attempts=attempts, initial_delay=0.01, max_delay=0.02, jitter=0),
            client_args={"transport": httpx2.MockTransport(self.handler)},
        )

    def prompt(self, i: int = 0) -> str:
        return "\n".join(p["text"] for p in self.requests[i]["contents"][0]["parts"])

    def system(self, i: int = 0) -> str:
        return "\n".join(p["text"] for p in self.requests[i]["systemInstruction"]["parts"])
