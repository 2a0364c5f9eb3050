"""The report as one self-contained HTML page, made from its markdown: charts inlined as SVG, grids embedded."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path


def to_html(markdown: str, folder: Path) -> str:
    """A self-contained HTML page from the report's markdown: tables, headings, paragraphs, lists, indented commands
    (shown as written, wrapped where long); a block of image lines
    becomes a row of figures, each captioned (its alt text) underneath; SVG charts are inlined, grids embedded."""
    def figure(alt: str, name: str) -> str:
        path = folder / name
        caption = f"<figcaption>{html.escape(alt.replace('`', ''))}</figcaption>"
        if path.suffix == ".svg" and path.exists():
            svg = re.sub(r"^.*?(?=<svg)", "", path.read_text(), flags=re.S)
            svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 style="width:100%;height:auto"', svg,
                         count=1)
            return f'<figure class="chart" role="img" aria-label="{html.escape(alt)}">{svg}{caption}</figure>'
        data = base64.b64encode(path.read_bytes()).decode() if path.exists() else ""
        image = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        return f'<figure class="grid">{image}{caption}</figure>'

    def inline(text):
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)

    body = []
    for block in markdown.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        images = [re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line) for line in lines]
        if all(images):
            body.append('<div class="figures">' + "".join(figure(m.group(1), m.group(2)) for m in images) + "</div>")
        elif lines[0].startswith("#"):
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            body.append(f"<h{level}>{inline(lines[0].lstrip('# '))}</h{level}>")
        elif all(line.startswith("- ") for line in lines):
            body.append("<ul>" + "".join(f"<li>{inline(line[2:])}</li>" for line in lines) + "</ul>")
        elif all(line.startswith("    ") for line in lines):  # commands, one per line
            body.append("<pre>" + html.escape("\n".join(line[4:] for line in lines)) + "</pre>")
        elif lines[0].startswith("|"):
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if not line.startswith("|---")]
            head = "".join(f"<th>{inline(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
            body.append(f'<div class="table"><table><tr>{head}</tr>{cells}</table></div>')
        else:
            body.append(f"<p>{inline(' '.join(lines))}</p>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1180px;margin:auto;padding:0 16px;line-height:1.45}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;"
             "text-align:right}th{background:#f3f3f3}.table{overflow-x:auto}figure{margin:8px 0}"
             ".figures{display:flex;flex-wrap:wrap;gap:16px}.chart{width:100%}.grid img{image-rendering:pixelated;"
             "width:252px}figcaption{font-size:13px;color:#444;text-align:center}"
             "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:6px 10px;font-size:13px}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>ddpm-bench report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
