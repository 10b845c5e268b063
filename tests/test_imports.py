"""Each rule script imports only what its job uses, before its stage function starts.

Every Snakemake job is a fresh interpreter, so a module imported at the top
of a rule script is paid by every job of that rule (ArviZ alone is 1.5–2 s).
Each script's imports are run in a fresh interpreter, exactly as the job runs
them, and the modules it must not have loaded by then are looked for in
``sys.modules``: a budget in modules, not seconds, so the verdict does not
depend on the machine's load.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from janusfit.diagnostics.convergence import average_ranks
from janusfit.imports import import_corner, import_emcee, without

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

# Loaded by no rule script before its stage function runs: plots and their
# libraries are imported by the functions that draw, quadrature and fitting
# by the functions that integrate and fit, numba by the first kernel call
# (janusfit.jit).
NEVER = {
    "arviz", "xarray", "corner", "matplotlib", "scipy.stats", "scipy.integrate", "scipy.optimize", "numba",
}  # fmt: skip
# The jobs that build a posterior before they sample (or check a run before
# its samplers) import the likelihood and, with its Cholesky whitening,
# scipy.linalg; dynesty (0.3–1 s) only its sampling job; pandas only the two
# jobs that write CSV tables. emcee, imported without scipy.stats, costs
# ~0.03 s and is reached by every job through the config.
SAMPLING = {"preflight.py", "sample_emcee.py", "sample_dynesty.py"}
TABLES = {"compare.py", "overview.py"}
ONLY_IN = {"dynesty": {"sample_dynesty.py"}, "janusfit.likelihood": SAMPLING, "scipy": SAMPLING, "pandas": TABLES}
# The comparison and overview read JSON and write tables: no HDF5 or samplers either.
NOT_IN_TABLES = {"h5py", "emcee"}


def fresh_interpreter(code: str) -> str:
    """What ``code`` prints when run in a new Python process, as a job runs; its error output if it fails."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def loaded_by(script: Path) -> set[str]:
    """The modules in ``sys.modules`` after running the script's top-level imports in a fresh interpreter."""
    tree = ast.parse(script.read_text())
    imports = ast.unparse([node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))])
    out = fresh_interpreter(f"{imports}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))")
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_rule_script_imports_only_what_its_job_uses(script):
    modules = loaded_by(SCRIPTS / script)
    forbidden = NEVER | {name for name, scripts in ONLY_IN.items() if script not in scripts}
    if script in TABLES:
        forbidden |= NOT_IN_TABLES
    assert not sorted(modules & forbidden), f"scripts/{script} imports {sorted(modules & forbidden)} before its work"


def test_without_hides_a_module_only_inside_the_block():
    name = "janusfit_no_such_module_test"
    sys.modules.pop(name, None)
    with without(name):
        with pytest.raises(ImportError):
            __import__(name)
    assert name not in sys.modules


def test_emcee_and_corner_are_whole_but_for_the_features_janusfit_never_uses():
    code = (
        "import sys\nfrom janusfit.imports import import_corner, import_emcee\n"
        "emcee, corner = import_emcee(), import_corner()\n"
        "assert 'scipy.stats' not in sys.modules and 'arviz' not in sys.modules\n"
        "emcee.EnsembleSampler(4, 1, lambda x: -0.5 * float(x @ x)).run_mcmc([[0.1], [0.2], [0.3], [0.4]], 5)\n"
        "import scipy.stats\nprint(scipy.stats.norm.cdf(0.0), corner.quantile([1.0, 2.0, 3.0], [0.5])[0])"
    )
    assert fresh_interpreter(code).split() == ["0.5", "2.0"]
    assert import_emcee().__name__ == "emcee" and import_corner().__name__ == "corner"


def test_average_ranks_are_scipys_with_ties():
    from scipy.stats import rankdata

    rng = np.random.default_rng(7)
    x = np.round(rng.normal(size=5000), 1)  # many ties
    assert len(np.unique(x)) < 100
    np.testing.assert_array_equal(average_ranks(x), rankdata(x, method="average"))
    y = rng.normal(size=1000)
    np.testing.assert_array_equal(average_ranks(y), rankdata(y))


def test_kernels_are_compiled_on_their_first_call_and_then_are_numbas():
    code = (
        "import sys\nimport numpy as np\nimport janusfit.likelihood\nfrom janusfit.models import get_model, quadrature\n"
        "assert 'numba' not in sys.modules\n"
        "grid = quadrature.RedshiftGrid(np.array([0.5, 1.0]))\n"
        "d = get_model('lcdm').transverse_distance(np.array([[0.3]]), grid)\n"
        "print(type(quadrature._integrate).__module__, type(quadrature._dot).__module__, d[0, 1])"
    )
    integrate, dot, distance = fresh_interpreter(code).split()
    # The kernel and the kernel it calls now stand in the module as numba's dispatchers.
    assert integrate.startswith("numba.") and dot.startswith("numba.")
    assert abs(float(distance) - 0.7714) < 1e-3  # D_C(z = 1, Ωm = 0.3) in units of c/H0
