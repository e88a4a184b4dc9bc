"""What a fitted model found, for people: the HTML report, the bar chart and the trends."""

from .html import build_report, chart_svg, write_report
from .plot import plot_clusters
from .trends import plot_trends, trends

__all__ = ["build_report", "write_report", "chart_svg", "plot_clusters", "trends",
           "plot_trends"]
