"""Each text in its own direction: list cells, labels, fields and the PDF report follow the
text's own direction (Arabic from the right anywhere, Latin text left to right in an Arabic
screen); addresses and codes stay left to right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPlainTextEdit, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.bidi import (
    OwnDirectionDelegate,
    direction_of,
    follow_own_direction,
    keep_left_to_right,
    show_in_own_direction,
)
from desktop.ui.incidents.report import _paragraphs

LTR = Qt.LayoutDirection.LeftToRight
RTL = Qt.LayoutDirection.RightToLeft


def test_a_text_reads_in_the_direction_of_its_first_letter() -> None:
    assert direction_of("Cerro de Pasco تسميم النهر") == LTR
    assert direction_of("تسميم النهر قرب Cerro de Pasco") == RTL
    assert direction_of("2024-03 — 15") is None


def test_a_sentence_reads_in_its_own_direction_whatever_it_isolates() -> None:
    # An Arabic line that starts with an isolated Spanish name is an Arabic line (bidi rule
    # P2 skips isolates): laid out left to right, its Arabic words and brackets were scrambled.
    assert direction_of("\u2068Español\u2069 · رسالة جماعية: \u2068Carta\u2069") == RTL
    assert direction_of("\u2068Colectivo\u2069 — signed by \u2068Ana\u2069") == LTR
    assert direction_of("\u2068Colectivo \u2068Ana\u2069\u2069 —") is None


def test_list_cells_are_drawn_in_their_own_direction(app: QApplication) -> None:
    model = QStandardItemModel()
    model.appendRow([QStandardItem("Cerro de Pasco تسميم النهر")])
    model.appendRow([QStandardItem("تسميم النهر قرب Cerro de Pasco")])
    model.appendRow([QStandardItem("2024")])
    delegate = OwnDirectionDelegate()
    set_language("ar")
    try:
        found = []
        for row in range(3):
            option = QStyleOptionViewItem()
            option.direction = RTL  # an Arabic list
            delegate.initStyleOption(option, model.index(row, 0))
            found.append(option.direction)
        assert found == [LTR, RTL, RTL]  # a number keeps the list's direction
    finally:
        set_language("en")


def test_labels_and_fields_follow_their_text(app: QApplication, qtbot: QtBot) -> None:
    set_language("ar")
    try:
        title = QLabel()
        qtbot.addWidget(title)
        show_in_own_direction(title, "Amenazas de muerte contra lideresa")
        assert title.layoutDirection() == LTR  # not cut to "menazas" on the right
        field = QLineEdit()
        qtbot.addWidget(field)
        follow_own_direction(field)
        field.setText("Desalojo en Cochabamba")
        assert field.layoutDirection() == LTR
        field.setText("قطع المياه")
        assert field.layoutDirection() == RTL
        proxy = QLineEdit()
        qtbot.addWidget(proxy)
        keep_left_to_right(proxy)
        proxy.setText("socks5h://127.0.0.1:9050")
        assert proxy.layoutDirection() == LTR
    finally:
        set_language("en")
    narrative = QPlainTextEdit()
    qtbot.addWidget(narrative)
    follow_own_direction(narrative)
    direction = narrative.document().defaultTextOption().textDirection()
    assert direction == Qt.LayoutDirection.LayoutDirectionAuto  # each paragraph its own way


def test_the_report_gives_each_paragraph_its_direction() -> None:
    html = _paragraphs("قطعت المياه عن الحي.\nEl agua fue cortada.\n2024")
    assert '<p dir="rtl">قطعت' in html
    assert '<p dir="ltr">El agua' in html
    assert "<p>2024</p>" in html
