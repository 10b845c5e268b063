"""Small, dependency-free HTML building blocks for the report's pages.

Every page is one self-contained file (inline style, no script, no external
resource): Snakemake embeds it in the report as a data URI and shows it in a
frame, where nothing outside it could be loaded.
"""

from __future__ import annotations

from html import escape

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; color: #1f2328;
       margin: 1.2em 1.6em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.fail { color: #c00; font-weight: 600; } .pass { color: #1a7f37; }
.note { color: #57606a; font-size: 0.92em; } .headline { font-size: 1.1em; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; font-size: 12px; }
"""


def page(title: str, body: list[str]) -> str:
    """A complete HTML document with ``title`` and the already-escaped ``body`` fragments."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )


def text(value) -> str:
    return escape(str(value))


def cell(value, css: str | None = None, raw: bool = False) -> tuple:
    """A table cell: ``value`` (escaped unless ``raw``) with an optional CSS class."""
    return (value if raw else text(value), css)


def table(header: list[str], rows: list[list]) -> str:
    """A table; a row item is a plain value (escaped) or a ``cell(...)``."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        items = []
        for item in row:
            content, css = item if isinstance(item, tuple) else (text(item), None)
            items.append(f'<td class="{css}">{content}</td>' if css else f"<td>{content}</td>")
        lines.append("<tr>" + "".join(items) + "</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)
