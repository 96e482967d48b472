"""The PDF report of one incident, in the current language, written with Qt's PDF writer.

Evidence appears only as metadata (name, size, SHA-256), never its bytes; names are withheld
unless the person consented to be named.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, Qt
from PySide6.QtGui import (
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextDocument,
    QTextOption,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.records import ConsentLevel, Incident
from desktop.domain.translation import _, current_language, format_day, is_right_to_left
from desktop.ui.bidi import direction_of
from desktop.ui.display import describe_partial, describe_size, vocabulary_label
from desktop.ui.incidents.bundle import IncidentBundle


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _h2(text: str) -> str:
    return f"<h2>{_e(text)}</h2>"


def _dir(text: str) -> str:
    """The paragraph's own direction: an Arabic paragraph right-aligned in any report."""
    direction = direction_of(text)
    if direction is None:
        return ""
    return ' dir="rtl"' if direction == Qt.LayoutDirection.RightToLeft else ' dir="ltr"'


def _paragraphs(text: str) -> str:
    return "".join(f"<p{_dir(line)}>{_e(line)}</p>" for line in text.splitlines() if line.strip())


def shown_name(bundle: IncidentBundle, person_id: str | None) -> str:
    """A person's name only if they agreed to be named; else their alias, else a placeholder."""
    if not person_id:
        return _("Not identified")
    consent = bundle.incident.consent_of(person_id)
    party = bundle.parties.get(person_id)
    alias = getattr(party, "alias", "") if party is not None else ""
    if consent is not None and consent.level is ConsentLevel.SHARE_WITH_NAME:
        return bundle.party_name(person_id) or alias or _("Name withheld")
    if person_id in bundle.parties and not hasattr(party, "alias"):
        return bundle.party_name(person_id)  # an organization: no consent needed
    return alias or _("Name withheld")


def _facts(incident: Incident) -> list[tuple[str, str]]:
    place = ", ".join(
        x
        for x in (
            incident.place,
            vocabulary_label(vocab.COUNTRIES, incident.region),
            vocabulary_label(vocab.COUNTRIES, incident.country),
        )
        if x
    )
    when = describe_partial(incident.start_date)
    if incident.end_date is not None and incident.end_date != incident.start_date:
        when = _("{start} to {end}").format(start=when, end=describe_partial(incident.end_date))
    facts = [
        (_("Kind"), vocabulary_label(vocab.INCIDENT_KINDS, incident.kind.value)),
        (_("Status"), vocabulary_label(vocab.INCIDENT_STATUSES, incident.status.value)),
        (
            _("Confidentiality"),
            vocabulary_label(vocab.CONFIDENTIALITY_LEVELS, incident.confidentiality.value),
        ),
        (_("When"), when),
        (_("Where"), place),
    ]
    if incident.latitude is not None and incident.longitude is not None:
        facts.append((_("Coordinates"), f"{incident.latitude:.5f}, {incident.longitude:.5f}"))
    if incident.rights:
        facts.append(
            (
                _("Rights affected"),
                "; ".join(vocabulary_label(vocab.RIGHTS, c) for c in incident.rights),
            )
        )
    if incident.capture_forms:
        facts.append(
            (
                _("Forms of corporate capture"),
                "; ".join(
                    vocabulary_label(vocab.CORPORATE_CAPTURE, c) for c in incident.capture_forms
                ),
            )
        )
    return [(name, value) for name, value in facts if value]


def _table(rows: list[list[str]], header: list[str]) -> str:
    # Qt lays table columns out left to right whatever the text direction, so in Arabic the
    # first column is put last in the HTML to stand on the right, where reading starts.
    if is_right_to_left():
        header = header[::-1]
        rows = [row[::-1] for row in rows]
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{_dir(c)}>{_e(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table width="100%" cellspacing="0" cellpadding="4"><tr>{head}</tr>{body}</table>'


def report_html(bundle: IncidentBundle, *, today: datetime | None = None) -> str:
    """The report as Qt rich text, every word in the current language."""
    incident = bundle.incident
    direction = "rtl" if is_right_to_left() else "ltr"
    made = format_day((today or datetime.now(UTC)).date())
    parts = [
        f'<html dir="{direction}"><head><style>'
        "h1 { font-size: 18pt; color: #2f5d50; } h2 { font-size: 13pt; color: #2f5d50; "
        "margin-top: 14px; } th { background: #eef2f0; } td, th { border: 1px solid #c8d3ce; }"
        "</style></head>",
        f'<body dir="{direction}">',
        f"<h1>{_e(incident.title)}</h1>",
        "<p><i>"
        + _e(_("Incident report made with Minga on {date}").format(date=made))
        + "</i></p>",
        _table([[name, value] for name, value in _facts(incident)], [_("Field"), _("Value")]),
    ]
    if incident.narrative.strip():
        parts += [_h2(_("What happened")), _paragraphs(incident.narrative)]
    if incident.impact.strip():
        parts += [_h2(_("Impact")), _paragraphs(incident.impact)]
    if bundle.acts:
        rows = []
        for act in bundle.acts:
            perpetrators = "; ".join(
                " — ".join(
                    x
                    for x in (
                        bundle.party_name(i.perpetrator_id) if i.perpetrator_id else "",
                        vocabulary_label(vocab.PERPETRATOR_TYPES, i.perpetrator_type),
                        vocabulary_label(vocab.INVOLVEMENT_DEGREES, i.degree),
                    )
                    if x
                )
                for i in act.involvements
            )
            kind = (
                vocab.DEFENDER_THREATS
                if act.act_type in vocab.default_vocabularies()[vocab.DEFENDER_THREATS]
                else vocab.ACT_TYPES
            )
            rows.append(
                [
                    shown_name(bundle, act.victim_id),
                    vocabulary_label(kind, act.act_type),
                    perpetrators,
                ]
            )
        parts += [
            _h2(_("Acts")),
            _table(rows, [_("Victim"), _("Act"), _("Perpetrators")]),
        ]
    if bundle.sources:
        rows = [
            [
                shown_name(bundle, s.person_id or s.organization_id),
                vocabulary_label(vocab.SOURCE_TYPES, s.source_type),
                vocabulary_label(vocab.SOURCE_RELIABILITY, s.reliability),
                describe_partial(s.reported_on),
                s.summary,
            ]
            for s in bundle.sources
        ]
        parts += [
            _h2(_("Sources")),
            _table(rows, [_("Source"), _("Type"), _("Reliability"), _("Date"), _("Summary")]),
        ]
    if bundle.evidence:
        rows = [
            [e.filename, describe_size(e.size), e.media_type, e.sha256] for e in bundle.evidence
        ]
        parts += [
            _h2(_("Evidence")),
            "<p>"
            + _e(_("Files are kept encrypted in Minga; only their fingerprints are listed."))
            + "</p>",
            _table(rows, [_("File"), _("Size"), _("Type"), _("SHA-256")]),
        ]
    if bundle.follow_ups:
        rows = [
            [
                describe_partial(f.occurred_on),
                vocabulary_label(vocab.FOLLOW_UP_KINDS, f.kind.value),
                f.counterpart,
                f.summary,
            ]
            for f in bundle.follow_ups
        ]
        parts += [
            _h2(_("Follow-up")),
            _table(rows, [_("Date"), _("Step"), _("With"), _("Summary")]),
        ]
    parts.append("</body></html>")
    return "".join(parts)


def render_report(bundle: IncidentBundle) -> bytes:
    """The report as PDF bytes (A4), laid out right to left in Arabic."""
    buffer = QBuffer()
    buffer.setData(QByteArray())
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(bundle.incident.title)
    writer.setCreator("Minga")
    writer.setResolution(300)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(18, 18, 18, 18),
            QPageLayout.Unit.Millimeter,
        )
    )
    document = QTextDocument()
    option = QTextOption()
    rtl = is_right_to_left(current_language())
    direction = Qt.LayoutDirection.RightToLeft if rtl else Qt.LayoutDirection.LeftToRight
    option.setTextDirection(direction)
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    document.setDefaultTextOption(option)
    font = document.defaultFont()
    font.setPointSizeF(10.5)
    document.setDefaultFont(font)
    document.setHtml(report_html(bundle))
    # print_ paginates against the writer's page layout: margins, page breaks, page by page.
    document.print_(writer)
    del writer  # finishes the PDF into the buffer
    buffer.close()
    return bytes(buffer.data().data())


def write_report(bundle: IncidentBundle, destination: Path) -> None:
    """Render and write the report; a failure leaves no half-written file behind."""
    data = render_report(bundle)
    partial = destination.with_name(destination.name + ".partial")
    try:
        with open(partial, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
