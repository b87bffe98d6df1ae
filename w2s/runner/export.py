"""The standalone HTML of an executed notebook (nbconvert's lab template): it opens from any folder, offline.

Images, audio and plotly figures are in the outputs (plotly.js inline once, :mod:`w2s.viz.display`). The
template loads nothing from the network: no require.js, no mermaid, and no MathJax, since the notebooks
write their few formulas in Unicode and HTML (‖μ<sub>a</sub> − μ<sub>b</sub>‖, d ≤ 1), which every viewer
shows as they are, with no renderer to download or ship (tests/test_runner.py keeps `$…$` out of them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from w2s.runner.errors import NotebookError
from w2s.utils.io import atomic_path

log = logging.getLogger(__name__)

HTML_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- offline: plotly.js and the figures are in the outputs, formulas are Unicode: nothing from a CDN -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def check_html_exporter() -> None:
    try:
        import nbconvert  # noqa: F401
    except ImportError:
        raise NotebookError(
            "nbconvert is not installed, so executed notebooks cannot be saved as HTML "
            "(pip install -e '.[notebooks]')"
        ) from None


def export_html(notebook: Path) -> Path:
    """A standalone HTML copy of an executed notebook beside it: images, audio and plotly figures are
    embedded, so it works from any folder, offline."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="w2s.html.j2",
                            extra_loaders=[jinja2.DictLoader({"w2s.html.j2": HTML_TEMPLATE})])  # fmt: skip
    nb = nbformat.read(notebook, as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    out = notebook.with_suffix(".html")
    with atomic_path(out) as tmp:
        Path(tmp).write_text(body, encoding="utf-8")
    return out


def try_export(executed: Path) -> Path | None:
    """export_html of a failed notebook's executed copy, if it can be made (None otherwise)."""
    try:
        return export_html(executed) if executed.is_file() else None
    except Exception as e:  # the notebook's own failure is what the user needs to read
        log.debug("no HTML copy of %s: %s", executed, e)
        return None
