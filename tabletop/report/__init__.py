"""The blameless post-mortem draft: built from scenario, events and scorecard; rendered as Markdown, HTML or JSON."""

from tabletop.report.drafts import postmortem_path, write_postmortem
from tabletop.report.formats import FORMATS, render_report
from tabletop.report.postmortem import NOT_RECORDED, PostMortem, build_postmortem

__all__ = [
    "FORMATS",
    "NOT_RECORDED",
    "PostMortem",
    "build_postmortem",
    "postmortem_path",
    "render_report",
    "write_postmortem",
]
