"""The reports' charts: bar charts drawn on the server as SVG with pygal, shown as images that need no
JavaScript and fetch nothing (``data:`` addresses, which the pages' Content Security Policy allows
for images), each beside a table of the same numbers for screen readers and for copying.

pygal adds a script of its own for tooltips even with ``js=[]``: it is removed (an SVG shown as an
image never runs a script anyway). Importing pygal appends to ``sys.meta_path`` a finder for its map
plugins (unused here) that has only the interface Python deprecated: every failed import after it
would warn (an ImportWarning); it is taken out again."""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass, field

import pygal
from pygal.style import Style

sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
#: Colours that keep 3:1 against white and against each other's neighbours (WCAG 2.2, 1.4.11).
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#4a5360",
    colors=("#0b5394", "#b45309", "#1e6b34", "#7b2d8b", "#a4161a", "#4a5360"),
    font_family="system-ui, sans-serif",
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=11,
)


@dataclass
class Chart:
    """A bar chart: its title, the groups along its axis (``labels``), and each series' name and one
    value a group (None: nothing to show)."""

    title: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, list[float | None]]]:
        """The table beside the chart: a row a group, a value a series."""
        return [(label, [values[i] for _, values in self.series]) for i, label in enumerate(self.labels)]

    def svg(self) -> str:
        chart = pygal.Bar(
            js=[],
            disable_xml_declaration=True,
            style=STYLE,
            title=self.title,
            width=720,
            height=340,
            legend_at_bottom=True,
            x_label_rotation=30 if len(self.labels) > 6 else 0,
            truncate_label=24,
            print_values=len(self.labels) <= 12,
            min_scale=1,
            no_data_text="",
        )
        chart.x_labels = self.labels
        for name, values in self.series:
            chart.add(name, values)
        return _SCRIPT.sub("", chart.render(is_unicode=True))

    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg().encode()).decode()
