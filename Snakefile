# janusfit: Bayesian comparison of the JANUS cosmology and flat LambdaCDM.
# Rules are split by stage under workflow/rules/; shared helpers are in
# common.smk; the logic lives in the janusfit package (src/janusfit).

configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/diagnose.smk"
include: "workflow/rules/compare.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
