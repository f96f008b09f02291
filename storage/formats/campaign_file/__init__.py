"""The campaign file (YAML) an admin writes: read it, check everything, build a CampaignSpec.

The format is documented for admins in docs/campaign-file.md; examples/hcmc-2021-team1.yaml
is a complete file. Validation reports every problem at once, each located by a path into
the document (`units[3].team`) and a 1-based line, so an admin fixes the file in one pass;
any problem means no spec. Problems are rendered through the catalog
(`campaign_file.problem.<code>`), see `format_problem`.

Times in the file are local to the campaign's `timezone` and become aware UTC datetimes.
No wall clock is read here. The modules, in reading order:

- yaml_source: bytes -> text -> YAML with lines (`load_campaign_file`, `parse_campaign_text`);
- document: the whole document -> CampaignSpec (`check_campaign_document` for a document
  another reader built, such as the Excel workbook);
- policy, roster, checklist: one part of the document each;
- nodes (values with their places), values (scalars), datetimes: what the parts are made of;
- problems: every problem code and how it reads.
"""

from storage.formats.campaign_file.document import DEFAULT_TIMEZONE, check_campaign_document
from storage.formats.campaign_file.problems import PROBLEM_PARAMS, format_problem
from storage.formats.campaign_file.yaml_source import load_campaign_file, parse_campaign_text

__all__ = [
    "DEFAULT_TIMEZONE",
    "PROBLEM_PARAMS",
    "check_campaign_document",
    "format_problem",
    "load_campaign_file",
    "parse_campaign_text",
]
