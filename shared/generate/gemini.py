"""The Gemini writer, through google-genai (the successor of google-generativeai).

Structured output: `response_mime_type="application/json"` with a pydantic
`response_schema`, validated again on our side (a model can still return junk).
Retries: google-genai retries nothing by default; `HttpRetryOptions` makes its tenacity
loop retry 408/429/5xx with exponential backoff and jitter. Google Search grounding is
not used: the API refuses it together with a response schema ("controlled generation
is not supported with google_search tool", googleapis/python-genai#665); trending
hashtags come from X instead and are given as context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from shared.errors import ProviderError, RateLimited
from shared.generate.brief import Brief
from shared.generate.drafting import (
    Candidate,
    Chart,
    Slot,
    Usage,
    WriteContext,
    WriteResult,
    clean_hashtags,
)
from shared.generate.prompt import build_prompt, shorten_prompt, system_instruction
from shared.log import get_logger

log = get_logger("generate.gemini")

RETRY_STATUS = (408, 429, 500, 502, 503, 504)


class ChartData(BaseModel):
    title: str = ""
    labels: list[str] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list)


class DraftItem(BaseModel):
    topic: str = Field(description="the topic key this post is about, as given")
    text: str = Field(description="the post body, without the hashtags")
    hashtags: list[str] = Field(default_factory=list, description="hashtags, each with #")
    headline: str = Field(default="", description="a short title for the post's image")
    chart: ChartData | None = Field(
        default=None, description="only for posts about figures: the data to chart"
    )


class DraftBatch(BaseModel):
    posts: list[DraftItem]


@dataclass
class RetryPolicy:
    attempts: int = 5  # including the first request
    initial_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 1.0


@dataclass
class GeminiWriter:
    api_key: str
    model: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Extra httpx client arguments (tests pass an httpx2 MockTransport here).
    client_args: dict[str, Any] | None = None
    timeout_ms: int = 60_000
    name: str = "gemini"
    _client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            self._client = genai.Client(
                api_key=self.api_key,
                http_options=types.HttpOptions(
                    timeout=self.timeout_ms,
                    client_args=self.client_args,
                    retry_options=types.HttpRetryOptions(
                        attempts=self.retry.attempts,
                        initial_delay=self.retry.initial_delay,
                        max_delay=self.retry.max_delay,
                        jitter=self.retry.jitter,
                        http_status_codes=list(RETRY_STATUS),
                    ),
                ),
            )
        return self._client

    def write(self, brief: Brief, slots: list[Slot], ctx: WriteContext) -> WriteResult:
        return self._ask(brief, build_prompt(brief, slots, ctx), len(slots))

    def shorten(
        self, brief: Brief, candidate: Candidate, length: int, ctx: WriteContext
    ) -> WriteResult:
        return self._ask(brief, shorten_prompt(brief, candidate, length, ctx), 1)

    def _ask(self, brief: Brief, prompt: str, expected: int) -> WriteResult:
        from google.genai import errors, types

        config = types.GenerateContentConfig(
            system_instruction=system_instruction(brief),
            response_mime_type="application/json",
            response_schema=DraftBatch,
            temperature=0.9,
            candidate_count=1,
        )
        try:
            response = self.client().models.generate_content(
                model=self.model, contents=prompt, config=config
            )
        except errors.APIError as exc:
            details = {"status": exc.code, "provider": "gemini", "model": self.model}
            if exc.code == 429:
                raise RateLimited(
                    "Gemini is rate limiting this project; try again in a few minutes",
                    details,
                ) from exc
            raise ProviderError(
                f"Gemini request failed: {exc.code} {exc.message}", details
            ) from exc
        usage = _usage(response)
        batch = _parse(response)
        if batch is None:
            log.warning("gemini answer is not the requested JSON", model=self.model)
            raise ProviderError(
                "Gemini answered with something other than the requested JSON",
                {"provider": "gemini", "model": self.model, "usage": usage.__dict__},
            )
        candidates = [
            Candidate(
                topic_key=item.topic.strip(),
                body=item.text.strip(),
                hashtags=clean_hashtags(item.hashtags, brief.hashtags_per_post),
                headline=item.headline.strip(),
                chart=Chart.parse(item.chart.model_dump()) if item.chart else None,
            )
            for item in batch.posts[: max(expected, 1)]
            if item.text.strip()
        ]
        return WriteResult(candidates, usage)


def _usage(response: Any) -> Usage:
    meta = getattr(response, "usage_metadata", None)
    prompt = int(getattr(meta, "prompt_token_count", 0) or 0)
    output = int(getattr(meta, "candidates_token_count", 0) or 0)
    total = int(getattr(meta, "total_token_count", 0) or 0) or prompt + output
    return Usage(requests=1, prompt_tokens=prompt, output_tokens=output, total_tokens=total)


def _parse(response: Any) -> DraftBatch | None:
    parsed = getattr(response, "parsed", None)
    if isinstance(parsed, DraftBatch):
        return parsed
    text = getattr(response, "text", None)
    if not text:
        return None
    try:
        return DraftBatch.model_validate_json(text)
    except PydanticValidationError:
        try:  # a bare list of posts is close enough
            raw = json.loads(text)
            return DraftBatch.model_validate({"posts": raw}) if isinstance(raw, list) else None
        except (json.JSONDecodeError, PydanticValidationError):
            return None
