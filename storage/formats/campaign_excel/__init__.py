"""The campaign as an Excel workbook: a template for admins to fill in, and reading it back.

Admins live in Excel. `write_template` writes a workbook with a sheet per part of the campaign
file (docs/campaign-file.md): "Đợt kiểm tra" (key/value rows), "Đoàn", "Đơn vị", "Danh mục"
(one row per team, unit, item), plus a "Hướng dẫn" sheet explaining every column.
`load_campaign_workbook` reads it back with exactly the YAML file's checks: the workbook is
turned into the document the YAML file is read into, checked by
`campaign_file.check_campaign_document`, and each problem is told at its cell,
`Đơn vị!C5 (team)`. Texts (labels, explanations, the guide) come from the locale catalog,
namespace `campaign_excel`.

The modules: layout (sheets and columns, shared by both directions); reader, cells,
places (reading); template, guide, styles (writing); scoring_cells (a scoring rule in one
cell, both directions); texts (the catalog's words).
"""

from storage.formats.campaign_excel.layout import PROBLEM_PARAMS, SHEETS
from storage.formats.campaign_excel.reader import load_campaign_workbook
from storage.formats.campaign_excel.scoring_cells import rule_text, scoring_value
from storage.formats.campaign_excel.template import write_template

__all__ = [
    "PROBLEM_PARAMS",
    "SHEETS",
    "load_campaign_workbook",
    "rule_text",
    "scoring_value",
    "write_template",
]
