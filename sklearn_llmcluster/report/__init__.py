"""What a fitted model found, for people: the HTML report and the bar chart."""

from .html import build_report, chart_svg, write_report
from .plot import plot_clusters

__all__ = ["build_report", "write_report", "chart_svg", "plot_clusters"]
