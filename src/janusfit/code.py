"""Which of janusfit's own source a result was computed with, as digests.

A result depends on janusfit's code as much as on its config and data: an
edited model or likelihood gives another posterior. Two places use this:

- the samplers' fingerprint records :func:`posterior_code`, the modules that
  decide the value of the log-posterior (the model's module, the likelihood,
  what they import), so a checkpoint made with other code is never resumed
  into a chain of today's posterior;
- the workflow gives each rule :func:`script_code` of its script as
  ``params``, so editing a module a rule's script imports reruns that rule
  (Snakemake's own code trigger sees the script, not the library it calls).

A module's digest is that of its syntax tree with docstrings left out:
comments, docstrings and formatting change no number, so they rerun nothing
and refuse no checkpoint. The posterior's digests leave out a model's
display attributes too (``labels``, ``latex_name``, ``reference``, assigned
text in a class body): a label edited for a paper's figure reruns the jobs
that draw it, whose samplers resume their checkpoints, where it refused them.
Fields at their empty default are left out of the tree, so that a Python
whose ``ast`` grew new fields (``type_params`` in 3.12) gives the same digest
for the same source. Imports are followed statically, from the source files,
without importing anything: the workflow computes these while it builds its
plan.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
from pathlib import Path

PACKAGE = "janusfit"
ROOT = Path(__file__).resolve().parent
# Modules that cannot change a number of the posterior: the text of errors.
NOT_NUMERIC = frozenset({"janusfit.errors"})
# Class attributes that name a model for people, and no number depends on.
DISPLAY_ONLY = frozenset({"labels", "latex_name", "reference"})
MODEL_REGISTRY = "janusfit.models"
# The modules a posterior is built from, besides its model's own.
POSTERIOR_MODULES = ("janusfit.likelihood.posterior", "janusfit.sampling.domain")
# A module named in a string, "janusfit.stages.preflight:emcee_disk", as the sampler registry does.
_NAMED_MODULE = re.compile(r"^(janusfit(?:\.\w+)+):\w+$")


def module_file(name: str) -> Path | None:
    """The source file of janusfit module ``name`` (a package's ``__init__.py``), or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports(name: str) -> frozenset[str]:
    """The janusfit modules module ``name`` imports anywhere in its source (function bodies too), or names."""
    return _scan(name)[1]


@functools.cache
def module_digest(name: str) -> str:
    """sha256 (16 hex digits) of module ``name``'s syntax tree, without docstrings."""
    return _scan(name)[0]


@functools.cache
def value_digest(name: str) -> str:
    """sha256 (16 hex digits) of module ``name``'s syntax tree, without docstrings nor display attributes."""
    return _scan(name, values_only=True)[0]


@functools.cache
def _scan(name: str, values_only: bool = False) -> tuple[str, frozenset[str]]:
    """Module ``name``'s digest and imports, from one walk of its tree (the workflow does this at every start)."""
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    walk = _Walk(package, values_only=values_only)
    text = walk.canonical(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return hashlib.sha256(text.encode()).hexdigest()[:16], frozenset(walk.imports)


def closure(names) -> list[str]:
    """``names`` and every janusfit module they import, directly or not, sorted."""
    seen, todo = set(), [n for n in names if module_file(n)]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imports(name) - seen)
    return sorted(seen)


def posterior_code(model_module: str) -> dict[str, str]:
    """module -> digest of every module the value of a posterior of that model depends on."""
    names = closure([model_module, *POSTERIOR_MODULES])
    return {name: value_digest(name) for name in names if name not in NOT_NUMERIC}


def script_code(script: str | Path, models=()) -> str:
    """One digest of every janusfit module a rule script imports, directly or not.

    The model modules are registered by discovery (``janusfit.models`` imports
    every module of its package), which no import statement shows: where the
    script reaches the registry, ``models`` (the modules of the models its job
    reads) are taken in, and no other, so that adding or editing one model
    reruns the jobs of that model only.
    """
    modules = _script_modules(str(script))
    if MODEL_REGISTRY in modules:
        modules = closure([*modules, *models])
    digests = {name: module_digest(name) for name in modules}
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]


@functools.cache
def _script_modules(script: str) -> list[str]:
    walk = _Walk(PACKAGE)
    walk.canonical(ast.parse(Path(script).read_text(encoding="utf-8")))
    return closure(walk.imports)


_SCOPES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class _Walk:
    """One pass over a syntax tree: its canonical text without docstrings, and the janusfit modules it imports.

    ``values_only`` leaves out the display attributes of classes (:data:`DISPLAY_ONLY`) as well.
    """

    def __init__(self, package: str, values_only: bool = False):
        self.package = package
        self.values_only = values_only
        self.imports: set[str] = set()

    def canonical(self, node) -> str:
        if isinstance(node, list):
            return f"[{','.join(self.canonical(v) for v in node)}]"
        if not isinstance(node, ast.AST):
            if isinstance(node, str):
                match = _NAMED_MODULE.match(node)
                if match and module_file(match.group(1)):
                    self.imports.add(match.group(1))
            return repr(node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node)
        fields = []
        for key in node._fields:
            value = getattr(node, key, None)
            if value is None or value == []:
                continue
            if key == "body" and isinstance(node, _SCOPES) and _is_docstring(value[0]):
                value = value[1:]
            if key == "body" and isinstance(node, ast.ClassDef) and self.values_only:
                value = [statement for statement in value if not _is_display(statement)]
            fields.append(f"{key}={self.canonical(value)}")
        return f"{type(node).__name__}({','.join(fields)})"

    def _import(self, node) -> None:
        if isinstance(node, ast.Import):
            found = {alias.name for alias in node.names}
        else:
            target = node.module
            if node.level:
                parts = self.package.split(".")
                target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            # ``from . import kernels`` imports a module; ``from .kernels import LOG10_SCALE`` a name of one.
            found = {m for m in (f"{target}.{alias.name}" for alias in node.names) if module_file(m)} or {target}
        self.imports.update(m for m in found if module_file(m))


def _is_display(node) -> bool:
    """``labels = {...}`` and the like in a class body: a :data:`DISPLAY_ONLY` attribute assigned text alone.

    Only text: a class whose ``reference`` or ``labels`` holds numbers (a
    reference redshift, interpolation nodes) may compute with them, so its
    digest keeps them.
    """
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in DISPLAY_ONLY
        and _is_text(node.value)
    )


def _is_text(node) -> bool:
    """A string literal, or a dict literal of string literals (``{"Om": r"$\\Omega_m$"}``)."""
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_text(k) and _is_text(v) for k, v in zip(node.keys, node.values))
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
