"""Analytics as a PNG of line charts (matplotlib, drawn off-screen: no display, no pyplot state)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Point = tuple[float, float]


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    series: dict[str, list[Point]]  # legend → points, in x order; an empty series is left out
    fraction: bool = False  # y runs 0 to 1 (rates, ratios), not scaled to the data, so charts compare


def write_png(title: str, charts: Sequence[Chart], path: Path) -> None:
    """Charts in a grid of two columns under `title`, written to `path`."""
    # Here rather than at the top: matplotlib takes a good part of a second to load, and the CLI
    # imports this module for every command.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = max(1, math.ceil(len(charts) / 2))
    figure = Figure(figsize=(12, 4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself: savefig renders through it
    figure.suptitle(title, fontsize=14)
    for position, chart in enumerate(charts, start=1):
        axes = figure.add_subplot(rows, 2, position)
        axes.set_title(chart.title)
        axes.set_xlabel(chart.x_label)
        axes.set_ylabel(chart.y_label)
        axes.grid(alpha=0.3)
        drawn = {name: points for name, points in chart.series.items() if points}
        for name, points in drawn.items():
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=name)
        if drawn:
            axes.legend(loc="best", fontsize="small")
            axes.xaxis.get_major_locator().set_params(integer=True)  # turns and sessions are counted
            if chart.fraction:
                axes.set_ylim(-0.03, 1.03)
            else:
                axes.yaxis.get_major_locator().set_params(integer=True)  # depths and counts
        else:
            axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes, color="grey")
    figure.savefig(path, format="png")
