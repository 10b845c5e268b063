"""Finished runs in the formats other tools open directly.

Per run, under ``{root}/{dataset}/{model}/export/`` (:func:`export_run`):
GetDist text chains (emcee's walker groups as the chains of one root,
dynesty's weighted samples as another), an ArviZ InferenceData file
``posterior.nc``, and ``export.json`` saying what they were made from; per
dataset, ``{root}/{dataset}/constraints.tex`` (:func:`export_table`, whose
inputs :func:`table_inputs` finds in a dataset directory). The
workflow's export rules and the ``janusfit export`` command call these same
functions. Nothing here imports GetDist or ArviZ: the files are written with
numpy and h5netcdf (pure Python over h5py).
"""

from .run import export_run
from .table import export_table, table_inputs

__all__ = ["export_run", "export_table", "table_inputs"]
