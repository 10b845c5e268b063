"""The sampler registry: every sampler the config may name is registered, and what it declares exists."""

import importlib

import pytest
import yaml

from janusfit import layout
from janusfit.sampling.registry import SAMPLERS


def test_the_config_may_name_exactly_the_registered_samplers(repo):
    schema = yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["samplers"]["items"]["enum"] == list(SAMPLERS)
    assert schema["properties"]["samplers"]["default"] == list(SAMPLERS)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_a_sampler_declares_functions_that_exist_and_files_its_rules_make(repo, name):
    sampler = SAMPLERS[name]
    for role in ("memory", "disk", "estimates"):
        module, _, function = getattr(sampler, role).partition(":")
        assert callable(getattr(importlib.import_module(module), function)), f"{name}.{role}"
    assert sampler.record in sampler.outputs.values()
    # Its draws and summary inputs are made by its own rule, or by the convergence rule that reads them.
    made = set(sampler.outputs.values()) | {"convergence.json", "trace.png"}
    assert set(sampler.draws.values()) | set(sampler.summary_inputs.values()) | set(sampler.final) <= made
    rules = (repo / "workflow/rules/sample.smk").read_text()
    assert f"rule {name}:" in rules and f'**sampler_outputs("{name}")' in rules
    assert layout.SAMPLER_OUTPUT[name] == sampler.record
