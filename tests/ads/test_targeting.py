"""The employment-ad targeting rules, refused before anything is sent."""

from __future__ import annotations

import pytest

from shared.ads.targeting import check_meta_spec, check_targeting, meta_targeting
from shared.errors import ValidationError


@pytest.mark.parametrize(
    ("targeting", "message"),
    [
        ({"countries": ["US"], "age_min": 21}, "cannot target by age"),
        ({"countries": ["US"], "age_range": [25, 34]}, "cannot target by age"),
        ({"countries": ["US"], "genders": [2]}, "cannot target by gender"),
        ({"countries": ["US"], "zips": ["78701"]}, "ZIP or postal code"),
        ({"countries": ["US"], "postal_codes": ["78701"]}, "ZIP or postal code"),
        ({"countries": ["US"], "excluded_interests": [{"id": "1"}]}, "exclusions"),
        ({"countries": ["US"], "parental_status": ["parent"]}, "parental status"),
        ({"countries": ["US"], "household_income": ["top 10%"]}, "income"),
        ({"countries": ["US"], "lookalike_audiences": ["x"]}, "lookalike"),
        ({"countries": ["US"], "cities": [{"name": "Austin", "radius_miles": 10}]}, "at least 15"),
        ({"countries": ["US"], "cities": [{"name": "Austin", "zip": "78701"}]}, "ZIP"),
        ({"countries": ["US"], "languages": ["en"]}, "unknown targeting option"),
        ({"countries": []}, "two-letter ISO"),
        ({"countries": ["USA"]}, "two-letter ISO"),
        ({"countries": ["US"], "interests": [{"name": "no id"}]}, "numeric Meta interest id"),
    ],
)
def test_refused_with_the_rule(targeting, message):
    with pytest.raises(ValidationError, match=message) as err:
        check_targeting(targeting)
    assert err.value.message.startswith("targeting refused: ")
    assert err.value.details["rule"] == "employment"


def test_allowed_targeting_is_normalized():
    t = check_targeting(
        {
            "countries": ["us"],
            "cities": [{"name": " Austin ", "radius_miles": 15, "meta_key": 2430536}],
            "keywords": ["Python", "python", " SQL "],
            "interests": [{"id": "6003", "name": "Software"}],
        }
    )
    assert t == {
        "countries": ["US"],
        "cities": [{"name": "Austin", "radius_miles": 15, "meta_key": "2430536"}],
        "keywords": ["python", "sql"],
        "interests": [{"id": "6003", "name": "Software"}],
    }
    spec = meta_targeting(t)
    assert spec == {
        "geo_locations": {"cities": [{"key": "2430536", "radius": 15, "distance_unit": "mile"}]},
        "flexible_spec": [{"interests": [{"id": "6003", "name": "Software"}]}],
    }


def test_cities_without_meta_keys_fall_back_to_the_country():
    t = check_targeting({"countries": ["FR"], "cities": [{"name": "Lyon"}]})
    assert t["cities"] == [{"name": "Lyon", "radius_miles": 25}]
    assert meta_targeting(t) == {"geo_locations": {"countries": ["FR"]}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"geo_locations": {"countries": ["US"]}, "age_min": 25}, "age"),
        ({"geo_locations": {"countries": ["US"]}, "genders": [1]}, "gender"),
        ({"geo_locations": {"zips": [{"key": "US:78701"}]}}, "ZIP"),
        ({"geo_locations": {"countries": ["US"]}, "exclusions": {"interests": []}}, "exclusions"),
        (
            {"geo_locations": {"custom_locations": [
                {"latitude": 30.2, "longitude": -97.7, "radius": 20, "distance_unit": "kilometer"}
            ]}},
            "at least 15 miles",
        ),
    ],
)  # fmt: skip
def test_meta_spec_recheck(spec, message):
    with pytest.raises(ValidationError, match=message):
        check_meta_spec(spec)


def test_meta_spec_allows_the_fixed_age_range_and_wide_radius():
    check_meta_spec(
        {
            "geo_locations": {
                "custom_locations": [
                    {
                        "latitude": 30.2,
                        "longitude": -97.7,
                        "radius": 25,
                        "distance_unit": "kilometer",
                    }
                ]
            },
            "age_min": 18,
            "age_max": 65,
        }
    )
