# janusfit: Bayesian comparison of the JANUS cosmology and flat LambdaCDM.
# Rules are split by stage under workflow/rules/; shared helpers are in
# common.smk; the logic lives in the janusfit package (src/janusfit).

import os

from snakemake.utils import min_version

from janusfit.config import check_config_file

min_version("9.0")

# Read first by janusfit, whose error names the file and the line of a YAML
# syntax error; Snakemake's own names neither.
if os.path.isfile("config/config.yaml"):
    check_config_file("config/config.yaml")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/diagnose.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/report.smk"


onsuccess:
    # The HTML report is part of every successful run that leaves the whole
    # workflow made. Snakemake's --report-after-run would do this, but it also
    # fires on dry runs (-n), where the outputs it reports do not exist and it
    # fails. A run of some targets only (one run's chain) leaves outputs the
    # report needs unmade: the second Snakemake would fail on them after 2–3 s.
    unmade = unmade_outputs()
    if unmade:
        logger.info(
            f"janusfit: no HTML report yet: {len(unmade)} of the workflow's outputs are not made "
            f"(such as {unmade[0]}); `snakemake` with no target makes them and the report"
        )
    else:
        shell(report_command(workflow))


onerror:
    # A rerun that stopped on the way left the pages and exports made from what it removed.
    mark_earlier_results()


rule all:
    default_target: True
    input:
        final_outputs(),
