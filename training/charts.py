"""Matplotlib charts the notebooks share: an annotated heatmap and bars with interval whiskers.

Example:
    >>> import pandas as pd
    >>> figure = heatmap(pd.DataFrame([[3, 1], [0, 2]], index=["a", "b"], columns=["a", "b"]), "Pairs", "count")
    >>> figure.axes[0].get_title()
    'Pairs'
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def heatmap(frame: pd.DataFrame, title: str, colour_label: str, colour: pd.DataFrame | None = None,
            xlabel: str = "", ylabel: str = "") -> Figure:
    """``frame``'s numbers written in its cells, coloured by ``colour`` (default: ``frame`` itself).

    Cells whose colour value is NaN stay white, so a dominant diagonal can be left out of
    the scale by passing a copy with the diagonal masked.
    """
    values = frame if colour is None else colour
    figure, ax = plt.subplots(figsize=(0.7 * len(frame.columns) + 3, 0.55 * len(frame) + 2))
    image = ax.imshow(values.to_numpy(dtype=float), cmap="Blues")
    top = np.nanmax(values.to_numpy(dtype=float)) if np.isfinite(values.to_numpy(dtype=float)).any() else 0
    for (i, j), number in np.ndenumerate(frame.to_numpy()):
        shade = values.iat[i, j]
        ax.text(j, i, f"{number:g}", ha="center", va="center", fontsize=8,
                color="white" if np.isfinite(shade) and shade > 0.6 * top else "black")
    ax.set_xticks(range(len(frame.columns)), frame.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(frame.index)), frame.index)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    figure.colorbar(image, ax=ax, label=colour_label)
    figure.tight_layout()
    return figure
