"""Targeting for job ads, checked against the employment special-category rules.

Meta (special ad category EMPLOYMENT) and Google (personalized-advertising policy for
employment) forbid targeting by age, gender, ZIP / postal code, and by demographics such
as parental status or income; Meta also requires any location radius to be at least
15 miles and allows no detailed-targeting exclusions or lookalike audiences.

Herald's targeting is a small, platform-neutral object:
    {"countries": ["US"],
     "cities": [{"name": "Austin", "radius_miles": 25, "meta_key": "2430536",
                 "google_geo_target": "1026201"}],
     "keywords": ["python", "django"],          # Google search keywords
     "interests": [{"id": "6003", "name": "Software"}]}   # Meta detailed targeting
`check_targeting` refuses anything else with a message naming the rule, before any
request is sent; `check_meta_spec` re-checks the final Meta request body.
"""

from __future__ import annotations

import re
from typing import Any

from shared.errors import ValidationError

MIN_RADIUS_MILES = 15
MAX_RADIUS_MILES = 50  # Meta's ceiling for city radius
KM_PER_MILE = 1.609344
MAX_KEYWORDS = 50
_COUNTRY = re.compile(r"^[A-Z]{2}$")

# Keys people (or other tools) send that the employment rules forbid, with the reason.
FORBIDDEN = {
    "age": "employment ads cannot target by age",
    "gender": "employment ads cannot target by gender",
    "zip": "employment ads cannot target by ZIP or postal code",
    "postal": "employment ads cannot target by ZIP or postal code",
    "exclu": "employment ads cannot use targeting exclusions",
    "parental": "employment ads cannot target by parental status",
    "family": "employment ads cannot target by family status",
    "income": "employment ads cannot target by income",
    "lookalike": "employment ads cannot use lookalike audiences",
    "life_event": "employment ads cannot target by life events",
    "demographic": "employment ads cannot target by demographics",
    "relationship": "employment ads cannot target by relationship status",
}
ALLOWED = ("countries", "cities", "keywords", "interests")


def _refuse(message: str, field: str) -> ValidationError:
    return ValidationError(
        f"targeting refused: {message}", {"field": f"targeting.{field}", "rule": "employment"}
    )


def _forbidden_reason(key: str) -> str | None:
    low = key.lower()
    for fragment, reason in FORBIDDEN.items():
        # At the start of a word: "age_min" and "max_age" match, "languages" does not.
        if re.search(rf"(^|[_\W]){fragment}", low):
            return reason
    return None


def check_targeting(targeting: Any) -> dict[str, Any]:
    """The normalized targeting, or ValidationError naming the broken rule."""
    if not isinstance(targeting, dict):
        raise _refuse("targeting must be an object", "")
    for key in targeting:
        reason = _forbidden_reason(str(key))
        if reason:
            raise _refuse(reason, str(key))
        if key not in ALLOWED:
            raise _refuse(
                f"unknown targeting option {key!r}; allowed: {', '.join(ALLOWED)}", str(key)
            )
    countries = [str(c).strip().upper() for c in targeting.get("countries") or []]
    if not countries or not all(_COUNTRY.match(c) for c in countries):
        raise _refuse(
            "countries must list two-letter ISO country codes (at least one)", "countries"
        )
    cities = []
    for i, city in enumerate(targeting.get("cities") or []):
        if not isinstance(city, dict) or not str(city.get("name") or "").strip():
            raise _refuse("each city needs a name", f"cities[{i}]")
        for key in city:
            reason = _forbidden_reason(str(key))
            if reason:
                raise _refuse(reason, f"cities[{i}].{key}")
        radius = city.get("radius_miles", 25)
        if isinstance(radius, bool) or not isinstance(radius, int | float):
            raise _refuse("radius_miles must be a number", f"cities[{i}].radius_miles")
        if radius < MIN_RADIUS_MILES:
            raise _refuse(
                f"a location radius must be at least {MIN_RADIUS_MILES} miles for employment "
                f"ads (got {radius})",
                f"cities[{i}].radius_miles",
            )
        if radius > MAX_RADIUS_MILES:
            raise _refuse(
                f"radius_miles is at most {MAX_RADIUS_MILES}", f"cities[{i}].radius_miles"
            )
        cities.append(
            {
                "name": str(city["name"]).strip()[:120],
                "radius_miles": radius,
                **{k: str(city[k]) for k in ("meta_key", "google_geo_target") if city.get(k)},
            }
        )
    keywords = sorted(
        {str(k).strip().lower() for k in targeting.get("keywords") or [] if str(k).strip()}
    )
    if len(keywords) > MAX_KEYWORDS:
        raise _refuse(f"at most {MAX_KEYWORDS} keywords", "keywords")
    interests = []
    for i, item in enumerate(targeting.get("interests") or []):
        if not isinstance(item, dict) or not str(item.get("id") or "").isdigit():
            raise _refuse("each interest needs the numeric Meta interest id", f"interests[{i}]")
        interests.append({"id": str(item["id"]), "name": str(item.get("name") or "")[:120]})
    return {"countries": countries, "cities": cities, "keywords": keywords, "interests": interests}


def _walk_keys(value: Any, path: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((f"{path}.{k}" if path else str(k), v))
            out.extend(_walk_keys(v, f"{path}.{k}" if path else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((f"{path}[{i}]", v))
            out.extend(_walk_keys(v, f"{path}[{i}]"))
    return out


def check_meta_spec(spec: dict[str, Any]) -> None:
    """Re-check a Meta ad set `targeting` body before it is sent (defence in depth)."""
    for path, value in _walk_keys(spec):
        leaf = path.rsplit(".", 1)[-1]
        if leaf in ("age_min", "age_max"):
            # Meta fixes these at 18-65 for special ad categories.
            if (leaf, value) not in (("age_min", 18), ("age_max", 65)):
                raise _refuse("employment ads cannot target by age", path)
            continue
        reason = _forbidden_reason(leaf)
        if reason:
            raise _refuse(reason, path)
        if leaf == "radius":
            unit = "mile"
            parent = dict(_walk_keys(spec)).get(path.rsplit(".", 1)[0])
            if isinstance(parent, dict):
                unit = parent.get("distance_unit", "mile")
            miles = float(value) / KM_PER_MILE if unit == "kilometer" else float(value)
            if miles < MIN_RADIUS_MILES - 1e-9:
                raise _refuse(f"a location radius must be at least {MIN_RADIUS_MILES} miles", path)


def meta_targeting(targeting: dict[str, Any]) -> dict[str, Any]:
    """The Meta ad set `targeting` for a checked Herald targeting."""
    geo: dict[str, Any] = {"countries": targeting["countries"]}
    cities = [
        {"key": c["meta_key"], "radius": c["radius_miles"], "distance_unit": "mile"}
        for c in targeting["cities"]
        if c.get("meta_key")
    ]
    if cities:
        # With cities, the countries of those cities are implied; Meta rejects overlap.
        geo = {"cities": cities}
    spec: dict[str, Any] = {"geo_locations": geo}
    if targeting["interests"]:
        spec["flexible_spec"] = [{"interests": targeting["interests"]}]
    check_meta_spec(spec)
    return spec
