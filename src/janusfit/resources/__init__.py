"""What a sampling job needs from its machine: cores, memory, time, disk.

``cores`` sizes threads by performance cores, ``memory`` and ``runtime``
estimate a job before it runs (for Snakemake's ``mem_mb`` and ``runtime``
resources), ``requests`` turns them into the rules' resource requests,
``monitor`` records what it really used, ``usage`` sets the records against
the estimates for ``summary.json``, and ``checks`` checks everything that can
be checked before hours of sampling start (the preflight rule). The modules
are imported one by one: the Snakefile needs ``requests`` (with ``runtime``
and ``memory``) without paying for matplotlib, which ``monitor`` loads.
"""
