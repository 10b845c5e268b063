"""The report's own words (``workflow/report/*.rst``) as ``snakemake --report`` renders them.

Snakemake fills each caption with Jinja (its environment trims blocks) and
then docutils makes HTML of it; a caption that names a sampler the run did
not use, or a Jinja block that eats the blank line before a directive, is
only seen there.
"""

from pathlib import Path

import jinja2
import pytest
from docutils.core import publish_parts
from snakemake_runner import REPO

REPORT = REPO / "workflow" / "report"
LINKS = "\n\n.. _Overview: #overview\n"  # the targets snakemake --report appends for its categories


class _Snakemake:
    """What a caption's template sees as ``snakemake``."""

    def __init__(self, config):
        self.config = config
        self.wildcards = {"dataset": "union3", "model": "janus"}


def render(name: str, samplers: list[str], results_dir: Path) -> str:
    text = (REPORT / name).read_text() + LINKS
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    rst = env.from_string(text).render(snakemake=_Snakemake({"samplers": samplers, "results_dir": str(results_dir)}))
    parts = publish_parts(rst, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})
    return parts["html_body"]


@pytest.mark.parametrize("name", sorted(p.name for p in REPORT.glob("*.rst")))
def test_no_caption_names_emcee_in_a_run_of_dynesty_alone(tmp_path, name):
    """Before, the landing page said emcee sampled every run and offered its trace, and the pre-flight
    caption listed emcee's walker check, with ``samplers: [dynesty]``."""
    (tmp_path / "overview_landing.html").write_text("<p>LANDING</p>")
    alone = render(name, ["dynesty"], tmp_path)
    # The trace is drawn only when emcee runs; the provenance page lists the versions of both samplers.
    assert "emcee" not in alone or name in ("trace.rst", "provenance.rst")
    both = render(name, ["emcee", "dynesty"], tmp_path)
    if name in ("workflow.rst", "corner.rst", "preflight.rst", "hubble.rst", "overview_csv.rst"):
        assert "emcee" in both


def test_the_landing_page_keeps_the_overview_and_says_what_each_sampler_gives(tmp_path):
    (tmp_path / "overview_landing.html").write_text("<p>LANDING</p>")
    for samplers in (["emcee", "dynesty"], ["dynesty"], ["emcee"]):
        html = render("workflow.rst", samplers, tmp_path)
        assert "<p>LANDING</p>" in html, f"the overview fragment is lost with samplers {samplers}"
        assert ("the Bayes factor with its Kass" in " ".join(html.split())) == ("dynesty" in samplers)
    assert "no evidence and no Bayes factor" in " ".join(render("workflow.rst", ["emcee"], tmp_path).split())
