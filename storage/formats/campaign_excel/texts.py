"""The workbook's words, from the locale catalog (namespace `campaign_excel`): column labels,
explanations and the guide for the template; every locale's labels for the reader, so that
a header written without its "(key)" is still known."""

from __future__ import annotations

from common.i18n import DEFAULT_LOCALE, Catalog
from storage.formats.campaign_excel.layout import SHEETS, Column, Sheet
from storage.rules.answers import fold

NAMESPACE = "campaign_excel"


class Texts:
    """The template's texts in one language."""

    def __init__(self, catalog: Catalog, locale: str = DEFAULT_LOCALE) -> None:
        self.catalog, self.locale = catalog, locale

    def __call__(self, key: str) -> str:
        full = f"{NAMESPACE}.{key}"
        if not self.catalog.has(full):  # a typo in the code, not something to write out
            raise KeyError(full)
        return self.catalog.t(self.locale, full)

    def keys(self, prefix: str) -> list[str]:
        """The keys under `prefix` ("guide.notes."), in the catalog's order."""
        start = f"{NAMESPACE}.{prefix}"
        return [
            k[len(NAMESPACE) + 1 :]
            for k in self.catalog.texts[DEFAULT_LOCALE]
            if k.startswith(start)
        ]

    def header(self, sheet: Sheet, column: Column) -> str:
        """ "Mã đơn vị (code)": the label, then the key the reader goes by."""
        return f"{self(f'column.{sheet.role}.{column.text_key}.label')} ({column.key})"

    def yes_no(self, value: bool) -> str:
        return self("value_yes" if value else "value_no")


def labels(catalog: Catalog, role: str) -> dict[str, str]:
    """Folded column label in any locale -> key, for the sheet of `role`."""
    sheet = next(s for s in SHEETS if s.role == role)
    return {
        fold(Texts(catalog, locale)(f"column.{role}.{column.text_key}.label")): column.key
        for locale in catalog.texts
        for column in sheet.columns
    }
