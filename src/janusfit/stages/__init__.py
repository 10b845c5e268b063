"""What each workflow rule does, as functions of plain paths and the config.

The scripts in ``scripts/`` only unpack the ``snakemake`` object and call one
function here, so every rule's logic can be run and tested without Snakemake.
"""
