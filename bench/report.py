"""Figures: one JSON line each on stdout, and a Markdown summary at the end."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    note: str | None = None

    def as_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        for key in ("value", "baseline", "ratio"):
            if isinstance(data.get(key), float):
                data[key] = round(data[key], 4)
        return json.dumps(data)


class Reporter:
    def __init__(self, out: Path | None = None) -> None:
        self.figures: list[Figure] = []
        self.out = out

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(figure.as_json(), flush=True)
        return figure

    def markdown(self, title: str = "Herald benchmark") -> str:
        lines = [
            f"# {title}",
            "",
            "| figure | value | unit | baseline | ratio | note |",
            "|---|---:|---|---:|---:|---|",
        ]
        for f in self.figures:
            base = "" if f.baseline is None else f"{f.baseline:.4g}"
            ratio = "" if f.ratio is None else f"{f.ratio:.3g}"
            lines.append(
                f"| `{f.name}` | {f.value:.4g} | {f.unit} | {base} | {ratio} | {f.note or ''} |"
            )
        return "\n".join(lines) + "\n"

    def write_summary(self) -> None:
        text = self.markdown()
        if self.out:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text(text)
        print(text, file=sys.stderr)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
