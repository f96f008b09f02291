"""The locale catalog: every locale has the same keys and the same placeholders, and every
code the rules can report has a text with exactly the params the code carries."""

from __future__ import annotations

import pytest

from common.i18n import SUPPORTED, Catalog, placeholders
from storage.formats.campaign_file import PROBLEM_PARAMS
from storage.rules.answers import ERROR_PARAMS


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_every_supported_locale_exists(catalog: Catalog) -> None:
    assert set(SUPPORTED) <= set(catalog.texts)


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED if loc != "vi"])
def test_same_keys_as_vietnamese(catalog: Catalog, locale: str) -> None:
    vi, other = catalog.texts["vi"], catalog.texts[locale]
    assert sorted(set(vi) - set(other)) == [], f"missing in {locale}"
    assert sorted(set(other) - set(vi)) == [], f"only in {locale}"


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED if loc != "vi"])
def test_same_placeholders_as_vietnamese(catalog: Catalog, locale: str) -> None:
    vi, other = catalog.texts["vi"], catalog.texts[locale]
    differ = {
        key: (placeholders(vi[key]), placeholders(other[key]))
        for key in set(vi) & set(other)
        if placeholders(vi[key]) != placeholders(other[key])
    }
    assert differ == {}


@pytest.mark.parametrize(
    ("key", "params"),
    [(f"campaign_file.problem.{code}", p) for code, p in PROBLEM_PARAMS.items()]
    + [(f"answers.error.{code}", p) for code, p in ERROR_PARAMS.items()],
)
@pytest.mark.parametrize("locale", SUPPORTED)
def test_every_reported_code_has_a_text(
    catalog: Catalog, locale: str, key: str, params: tuple[str, ...]
) -> None:
    text = catalog.texts[locale].get(key)
    assert text is not None, f"{locale}: {key} missing"
    assert placeholders(text) == set(params)


@pytest.mark.parametrize(
    "key",
    [
        "campaign_file.problem_at",
        "campaign_file.problem_line",
        "campaign_file.problem_at_key",
        "answers.value.yes",
        "answers.value.no",
        "answers.value.none",
        "answers.value.none_selected",
        "answers.value.percent",
        "answers.value.date",
        "answers.number.decimal_mark",
        "answers.number.thousands_sep",
    ],
)
def test_rendering_keys_exist(catalog: Catalog, key: str) -> None:
    assert all(key in catalog.texts[locale] for locale in SUPPORTED)


def test_vietnamese_texts_have_diacritics(catalog: Catalog) -> None:
    # a cheap guard against texts pasted without Vietnamese input
    prefixes = ("campaign_file.problem.", "answers.error.")
    ours = [k for k in catalog.texts["vi"] if k.startswith(prefixes)]
    marked = [k for k in ours if any(ord(ch) > 127 for ch in catalog.texts["vi"][k])]
    assert len(marked) == len(ours)
