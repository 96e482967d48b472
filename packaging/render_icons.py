"""Renders resources/icons/minga.svg to the PNG sizes desktops and installers ask for.

Run with the project's venv: `python packaging/render_icons.py`; the PNGs are committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[1]
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int, target: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target), "PNG"):
        raise SystemExit(f"could not write {target}")


def main() -> int:
    # QImage needs a GUI application for fonts and image plugins; offscreen needs no display.
    application = QGuiApplication.instance() or QGuiApplication(
        [sys.argv[0], "-platform", "offscreen"]
    )
    svg = ROOT / "resources" / "icons" / "minga.svg"
    for size in SIZES:
        target = ROOT / "resources" / "icons" / f"minga-{size}.png"
        render(svg, size, target)
        print(f"{target.relative_to(ROOT)}")
    del application
    return 0


if __name__ == "__main__":
    sys.exit(main())
