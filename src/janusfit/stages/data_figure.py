"""The rule data_figure: the figure of a dataset as read (``data.png``).

Apart from ``stages.data``: each rule reruns for the code its script imports
(``janusfit.code.script_code``), and every job after the inspection reads its
description, so a figure drawn there reran the samplers for an edit of a plot.
"""

from __future__ import annotations

from ..config import members
from ..data import load_dataset


def data_figure(*, config: dict, dataset: str, out_png) -> None:
    """The Hubble diagram (or H(z)) of every member of ``dataset``, with the errors the release gives.

    Called after the inspection has validated the same files (its description
    is this rule's input), so reading them again cannot fail on bad data.
    """
    from ..plots import hubble_diagram_plot  # matplotlib after the job has started, as every rule that draws

    hubble_diagram_plot([load_dataset(name, config["datasets"][name]) for name in members(config, dataset)], out_png)
