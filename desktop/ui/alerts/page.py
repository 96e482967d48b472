"""The Alerts section: open alerts by urgency, and an alert's page with the network's response.

Letters per language, sign-ons (one per organization), referrals, actions; saved on workers.
Where this device is only a reader (or no longer a member), nothing is offered that the server
would refuse: such edits would wait unsent forever.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from babel.lists import format_list
from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import PartialDate
from desktop.domain.network_records import (
    ALERT_STATUSES,
    ALERT_URGENCIES,
    LETTER_KINDS,
    PROTECTION_MECHANISMS,
    REFERRAL_STATUSES,
    Action,
    Alert,
    AlertStatus,
    Letter,
    Referral,
    ReferralStatus,
    SignOn,
    signed_organizations,
)
from desktop.domain.records import Person, Record, SpaceKind, edit
from desktop.domain.translation import _, babel_locale, format_number, ngettext
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord, RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import SpaceAccess, space_access
from desktop.ui.access import read_only_reason
from desktop.ui.alerts.forms import AlertForm, LetterDialog, NewDefenderDialog, SpaceChoice
from desktop.ui.alerts.model import ALERT_LIST, open_alert_queries
from desktop.ui.bidi import isolated, show_in_own_direction
from desktop.ui.display import LANGUAGE_NAMES, describe_partial, vocabulary_label
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import (
    MessageLabel,
    choose,
    failure_message,
    fill_codes,
    fit_combo_to_text,
    heading,
    keep_combo_fitted,
    paragraph,
    problems_text,
    wrap_items,
)
from desktop.ui.jobs import run_job
from desktop.ui.list_page import ListDetailPage, UpDownScroll
from desktop.ui.lists import ID_ROLE, RecordListModel, select_row

#: How many directory entries the choosers offer; a network has far fewer organizations.
CHOOSER_LIMIT = 2000


def alert_spaces(store: RecordStore, engine: Engine | None = None) -> list[SpaceChoice]:
    """Where a new alert may go: the network first, then each organization's own space.

    Never "only me" or a working group's space: an alert asks others to act, and a group's
    space is for its documents. With ``engine`` (the profile's), a space where this device
    only reads, or is no longer a member, is left out: the server would refuse the alert.
    """
    choices = [SpaceChoice(local_spaces(store).network.id, "", SpaceKind.NETWORK)]
    for row in store.page(RecordQuery("space", kinds=[SpaceKind.ORGANIZATION.value])):
        choices.append(SpaceChoice(row.id, row.label, SpaceKind.ORGANIZATION))
    if engine is None:
        return choices
    return [choice for choice in choices if space_access(engine, choice.id).can_write]


@dataclass(frozen=True)
class NewAlertChoices:
    """What the "New alert" form offers, and why it offers no space when it offers none."""

    spaces: list[SpaceChoice]
    people: list[tuple[str, str]]
    #: This device's right in the network's space: the reason shown when no space is writable.
    network_access: SpaceAccess
    #: The network's space, where the directory (and so a defender added here) is saved.
    network_id: str = ""


def new_alert_choices(store: RecordStore, engine: Engine, *, people: bool) -> NewAlertChoices:
    network = local_spaces(store).network.id
    return NewAlertChoices(
        alert_spaces(store, engine),
        _people(store) if people else [],
        space_access(engine, network),
        network,
    )


def _people(store: RecordStore) -> list[tuple[str, str]]:
    """The people a new alert may name; two of the same name told apart by their country
    (two "Aminata Ben Salah" looked the same, and the wrong one could be ticked)."""
    rows = store.page(RecordQuery("person"), 0, CHOOSER_LIMIT)
    seen = Counter(row.label for row in rows)
    return [
        (
            row.id,
            _("{name} ({country})").format(
                name=row.label, country=vocabulary_label(vocab.COUNTRIES, row.country)
            )
            if seen[row.label] > 1 and row.country
            else row.label or "—",
        )
        for row in rows
    ]


def _names(store: RecordStore, record_type: str) -> list[tuple[str, str]]:
    rows = store.page(RecordQuery(record_type), 0, CHOOSER_LIMIT)
    return [(row.id, row.label or "—") for row in rows]


@dataclass
class AlertBundle:
    """An alert and everything the network did about it, read in one job."""

    alert: Alert
    people: dict[str, str]
    organizations: list[tuple[str, str]]
    letters: list[Letter] = field(default_factory=list)
    sign_ons: list[SignOn] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    #: This device's right in the alert's space: a reader is not offered any change.
    access: SpaceAccess = SpaceAccess.LOCAL


def load_alert(store: RecordStore, alert_id: str, engine: Engine | None = None) -> AlertBundle:
    alert = store.require(alert_id)
    assert isinstance(alert, Alert)
    people = {}
    for person_id in alert.defenders:
        person = store.get(person_id)
        if isinstance(person, Person):
            people[person_id] = person.name or person.alias
    bundle = AlertBundle(alert, people, _names(store, "organization"))
    for child in store.children(alert_id, "letter"):
        assert isinstance(child, Letter)
        bundle.letters.append(child)
    for child in store.children(alert_id, "sign_on"):
        assert isinstance(child, SignOn)
        bundle.sign_ons.append(child)
    for child in store.children(alert_id, "referral"):
        assert isinstance(child, Referral)
        bundle.referrals.append(child)
    for child in store.children(alert_id, "action"):
        assert isinstance(child, Action)
        bundle.actions.append(child)
    if engine is not None:
        bundle.access = space_access(engine, alert.space_id)
    return bundle


class AlertDetail(QWidget):
    """One alert's page: the case, its status, letters, sign-ons, referrals and actions.

    Signals:
        loaded(): the alert and its response were read and shown.
        changed(): something was saved (the list may need to show a new status).
    """

    loaded = Signal()
    changed = Signal()

    def __init__(
        self,
        store: RecordStore,
        alert_id: str,
        parent: QWidget | None = None,
        engine: Engine | None = None,
    ) -> None:
        """``engine``: the profile's, to read this device's role in the alert's space."""
        super().__init__(parent)
        self.setObjectName("alertDetail")
        self.store = store
        self.engine = engine
        self.alert_id = alert_id
        self.bundle: AlertBundle | None = None
        self.letter_dialog: LetterDialog | None = None

        self.title = heading(self)
        self.read_only = QLabel(self)
        self.read_only.setObjectName("readOnlyNotice")
        self.read_only.setProperty("role", "hint")
        self.read_only.setWordWrap(True)
        self.read_only.hide()
        self.summary = paragraph(self)
        self.defenders = paragraph(self)
        self.requested = paragraph(self)
        self.status = QComboBox(self)
        self.status_button = QPushButton(self)
        self.status_button.clicked.connect(self.change_status)

        self.letters_box = QGroupBox(self)
        self.letters = QListWidget(self.letters_box)
        self.add_letter_button = QPushButton(self.letters_box)
        self.add_letter_button.clicked.connect(self.add_letter)
        box = QVBoxLayout(self.letters_box)
        box.addWidget(self.letters)
        box.addWidget(self.add_letter_button, 0, Qt.AlignmentFlag.AlignLeading)

        self.sign_box = QGroupBox(self)
        self.sign_count = QLabel(self.sign_box)
        self.signatures = QListWidget(self.sign_box)
        self.organization = QComboBox(self.sign_box)
        self.signed_by = QLineEdit(self.sign_box)
        self.sign_button = QPushButton(self.sign_box)
        self.sign_button.clicked.connect(self.sign)
        sign_row = FlowLayout()
        sign_row.add_widget(self.organization)
        sign_row.add_widget(self.signed_by, stretch=True)
        sign_row.add_widget(self.sign_button)
        box = QVBoxLayout(self.sign_box)
        box.addWidget(self.sign_count)
        box.addWidget(self.signatures)
        box.addLayout(sign_row)

        self.referral_box = QGroupBox(self)
        self.referrals = QListWidget(self.referral_box)
        self.mechanism = QComboBox(self.referral_box)
        self.referral_status = QComboBox(self.referral_box)
        self.refer_button = QPushButton(self.referral_box)
        self.refer_button.clicked.connect(self.refer)
        refer_row = FlowLayout()
        refer_row.add_widget(self.mechanism)
        refer_row.add_widget(self.referral_status)
        refer_row.add_widget(self.refer_button)
        box = QVBoxLayout(self.referral_box)
        box.addWidget(self.referrals)
        box.addLayout(refer_row)

        self.action_box = QGroupBox(self)
        self.action_list = QListWidget(self.action_box)
        self.action_text = QLineEdit(self.action_box)
        self.action_by = QLineEdit(self.action_box)
        self.action_button = QPushButton(self.action_box)
        self.action_button.clicked.connect(self.report_action)
        action_row = FlowLayout()
        action_row.add_widget(self.action_text, stretch=True)
        action_row.add_widget(self.action_by)
        action_row.add_widget(self.action_button)
        box = QVBoxLayout(self.action_box)
        box.addWidget(self.action_list)
        box.addLayout(action_row)

        for listing in (self.letters, self.signatures, self.referrals, self.action_list):
            listing.setMaximumHeight(120)
            wrap_items(listing)
        # Long names (a mechanism, an organization) must not widen the page past its window:
        # each combo box shows its current choice whole and grows with it (the row wraps).
        for combo in (self.status, self.organization, self.mechanism, self.referral_status):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(0)
            # Some mechanisms' names are longer than the page is wide at 1024×680.
            keep_combo_fitted(combo, maximum=300)
        for line in (self.signed_by, self.action_text, self.action_by):
            line.setMinimumWidth(160)
        self.message = MessageLabel(self)

        status_row = FlowLayout()
        status_row.add_widget(self.status)
        status_row.add_widget(self.status_button)
        inner = QWidget(self)
        column = QVBoxLayout(inner)
        column.addWidget(self.title)
        column.addWidget(self.read_only)
        column.addWidget(self.summary)
        column.addWidget(self.defenders)
        column.addWidget(self.requested)
        column.addLayout(status_row)
        column.addWidget(self.message)
        for group in (self.letters_box, self.sign_box, self.referral_box, self.action_box):
            column.addWidget(group)
        column.addStretch(1)
        self.title.setWordWrap(True)
        scroll = QScrollArea(self)
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.retranslate()
        self.reload()

    # --- reading --------------------------------------------------------------------------------

    def reload(self) -> None:
        store, alert_id, engine = self.store, self.alert_id, self.engine
        run_job(
            self,
            lambda _state: load_alert(store, alert_id, engine),
            on_success=self._show,
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _show(self, bundle: AlertBundle) -> None:
        self.bundle = bundle
        chosen = self.organization.currentData()
        self.organization.clear()
        for organization_id, name in bundle.organizations:
            self.organization.addItem(name, organization_id)
        # Which organization signs is the person's choice, never the first in the list.
        self.organization.setCurrentIndex(
            self.organization.findData(chosen) if chosen is not None else -1
        )
        fit_combo_to_text(self.organization, maximum=300)
        self._fill()
        self.loaded.emit()

    def _fill(self) -> None:
        bundle = self.bundle
        if bundle is None:
            return
        alert = bundle.alert
        show_in_own_direction(self.title, alert.title)
        place = ", ".join(
            part for part in (alert.place, vocabulary_label(vocab.COUNTRIES, alert.country)) if part
        )
        self.summary.setText(
            _("{urgency} · {threat} · {date} · {place}").format(
                urgency=isolated(vocabulary_label(ALERT_URGENCIES, alert.urgency.value)),
                threat=isolated(vocabulary_label(vocab.DEFENDER_THREATS, alert.threat_type)),
                date=isolated(describe_partial(alert.occurred_on)),
                place=isolated(place),
            )
        )
        names = [bundle.people.get(person_id, "—") for person_id in alert.defenders]
        self.defenders.setText(
            _("Defenders concerned: {names}").format(
                # The language's own list ("، " and "و" in Arabic), each name isolated.
                names=format_list([isolated(name) for name in names], locale=babel_locale())
                if names
                else "—"
            )
        )
        self.requested.setText(
            _("Requested actions:\n{actions}").format(
                actions="\n".join(
                    isolated(line) for line in alert.requested_actions.strip().splitlines()
                )
            )
            if alert.requested_actions.strip()
            else ""
        )
        choose(self.status, alert.status.value)
        self.letters.clear()
        for letter in bundle.letters:
            self.letters.addItem(
                _("{language} · {kind}: {title} (drafted by {author})").format(
                    language=isolated(LANGUAGE_NAMES.get(letter.language, letter.language)),
                    kind=isolated(vocabulary_label(LETTER_KINDS, letter.kind.value)),
                    title=isolated(letter.title),
                    author=isolated(letter.drafted_by or "—"),
                )
            )
        organizations = dict(bundle.organizations)
        signed = signed_organizations(bundle.sign_ons)
        self.sign_count.setText(
            ngettext(
                "{count} organization has signed",
                "{count} organizations have signed",
                len(signed),
            ).format(count=format_number(len(signed)))
        )
        self.signatures.clear()
        for organization_id in signed:
            first = next(s for s in bundle.sign_ons if s.organization_id == organization_id)
            self.signatures.addItem(
                _("{organization} — signed by {person}, {date}").format(
                    organization=isolated(organizations.get(organization_id, "—")),
                    person=isolated(first.signed_by),
                    date=isolated(describe_partial(first.signed_on)),
                )
            )
        self.referrals.clear()
        for referral in bundle.referrals:
            self.referrals.addItem(
                _("{mechanism}: {status}").format(
                    mechanism=isolated(vocabulary_label(PROTECTION_MECHANISMS, referral.mechanism)),
                    status=isolated(vocabulary_label(REFERRAL_STATUSES, referral.status.value)),
                )
            )
        self.action_list.clear()
        for action in bundle.actions:
            self.action_list.addItem(
                _("{date} · {person}: {action}").format(
                    date=isolated(describe_partial(action.occurred_on)),
                    person=isolated(action.done_by),
                    action=isolated(action.summary),
                )
            )
        self._apply_access()

    @property
    def reason(self) -> str | None:
        """Why nothing of this alert can be changed here, or None when it can."""
        return None if self.bundle is None else read_only_reason(self.bundle.access)

    def _apply_access(self) -> None:
        """Every way of changing the alert off, with the reason, where this device only reads."""
        reason = self.reason
        self.read_only.setText(reason or "")
        self.read_only.setVisible(reason is not None)
        for widget in (
            self.status,
            self.status_button,
            self.add_letter_button,
            self.organization,
            self.signed_by,
            self.sign_button,
            self.mechanism,
            self.referral_status,
            self.refer_button,
            self.action_text,
            self.action_by,
            self.action_button,
        ):
            widget.setEnabled(reason is None)
            widget.setToolTip(reason or "")
        if reason is None and self.bundle is not None:
            self.sign_button.setEnabled(bool(self.bundle.organizations))

    # --- writing --------------------------------------------------------------------------------

    def _save(self, record: Record, labels: dict[str, str]) -> None:
        reason = self.reason
        if reason is not None:
            # A path the disabled buttons do not close (a dialog opened before, a shortcut).
            self.message.say(reason)
            return
        store = self.store

        def saved(_result: object) -> None:
            self.message.clear_message()
            self.changed.emit()
            self.reload()

        def refused(error: BaseException) -> None:
            if isinstance(error, InvalidRecord):
                self.message.say(problems_text(error.errors, labels))
            else:
                self.message.say(failure_message(error))

        run_job(
            self,
            lambda _state: store.save(record),
            on_success=saved,
            on_failure=refused,
            writes=True,
        )

    def change_status(self) -> None:
        if self.bundle is None:
            return
        status = AlertStatus(self.status.currentData())
        if status is self.bundle.alert.status:
            return
        self._save(edit(self.bundle.alert, status=status), {"status": _("Status")})

    def add_letter(self) -> None:
        if self.bundle is None or self.reason is not None:
            return
        alert = self.bundle.alert
        dialog = LetterDialog(alert.space_id, alert.id, self.signed_by.text().strip(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.drafted.connect(lambda letter: self._save(letter, dialog.field_labels()))
        dialog.destroyed.connect(self._letter_dialog_gone)
        self.letter_dialog = dialog
        dialog.open()

    def _letter_dialog_gone(self) -> None:
        self.letter_dialog = None

    def sign(self) -> None:
        if self.bundle is None:
            return
        sign_on = SignOn(
            space_id=self.bundle.alert.space_id,
            alert_id=self.alert_id,
            organization_id=str(self.organization.currentData() or ""),
            signed_by=self.signed_by.text().strip(),
            signed_on=PartialDate.from_date(date.today()),
        )
        labels = {"organization_id": _("Organization"), "signed_by": _("Signed by")}
        self._save(sign_on, labels)

    def refer(self) -> None:
        if self.bundle is None:
            return
        status = ReferralStatus(self.referral_status.currentData())
        referral = Referral(
            space_id=self.bundle.alert.space_id,
            alert_id=self.alert_id,
            mechanism=str(self.mechanism.currentData() or ""),
            status=status,
            submitted_on=None
            if status is ReferralStatus.PREPARING
            else PartialDate.from_date(date.today()),
        )
        self._save(referral, {"mechanism": _("Protection mechanism")})

    def report_action(self) -> None:
        if self.bundle is None:
            return
        action = Action(
            space_id=self.bundle.alert.space_id,
            alert_id=self.alert_id,
            summary=self.action_text.text().strip(),
            done_by=self.action_by.text().strip(),
            occurred_on=PartialDate.from_date(date.today()),
        )
        self._save(action, {"summary": _("What was done"), "done_by": _("By whom")})

    def clear(self) -> None:
        """At lock: forget what was shown."""
        self.bundle = None
        for listing in (self.letters, self.signatures, self.referrals, self.action_list):
            listing.clear()
        if self.letter_dialog is not None:
            self.letter_dialog.close()

    def retranslate(self) -> None:
        self.status_button.setText(_("Change status"))
        self.letters_box.setTitle(_("Letters and petitions"))
        self.add_letter_button.setText(_("Add a letter…"))
        self.sign_box.setTitle(_("Organizations signing"))
        self.signed_by.setPlaceholderText(_("Your name"))
        self.sign_button.setText(_("Sign for this organization"))
        self.referral_box.setTitle(_("Referrals to protection mechanisms"))
        self.refer_button.setText(_("Add referral"))
        self.action_box.setTitle(_("Actions taken"))
        self.action_text.setPlaceholderText(_("What you did"))
        self.action_by.setPlaceholderText(_("Who did it"))
        self.action_button.setText(_("Report action"))
        fill_codes(self.status, ALERT_STATUSES)
        fill_codes(
            self.mechanism, PROTECTION_MECHANISMS, prompt=_("Choose a protection mechanism…")
        )
        self.organization.setPlaceholderText(_("Choose the organization signing…"))
        for combo in (self.status, self.organization, self.mechanism, self.referral_status):
            fit_combo_to_text(combo, maximum=300)  # refilled or re-prompted in a new language
        fill_codes(self.referral_status, REFERRAL_STATUSES)
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class AlertsPage(ListDetailPage):
    """Open alerts by urgency, "New alert", and the chosen alert's page beside the list.

    Signals:
        alert_opened(object): the :class:`AlertDetail` just shown (tests, screenshots).
        alert_saved(str): the id of a new alert, once stored.
    """

    alert_opened = Signal(object)
    alert_saved = Signal(str)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        store = RecordStore(profile.engine)
        super().__init__(
            RecordListModel(store, ALERT_LIST, open_alert_queries()), parent, stretch=(1, 1)
        )
        self.profile = profile
        self.store = store
        self.form: AlertForm | None = None
        self.detail: AlertDetail | None = None
        self.defender_dialog: NewDefenderDialog | None = None
        #: What the last look for writable spaces found (the button's reason is retranslated).
        self.new_choices: NewAlertChoices | None = None

        self.new_button = QPushButton(self)
        self.new_button.clicked.connect(self.new_alert)
        self.add_action(self.new_button)
        self.start_button = QPushButton(self.empty)
        self.start_button.clicked.connect(self.new_alert)
        self.empty.add_button(self.start_button)
        self.view.open_requested.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.retranslate()
        self.model.refresh()
        self._check_new_alerts()

    def _check_new_alerts(self) -> None:
        """ "New alert" off, with the reason, when no space for one is writable here."""
        store, engine = self.store, self.profile.engine
        run_job(
            self,
            lambda _state: new_alert_choices(store, engine, people=False),
            on_success=self._offer_new_alerts,
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _offer_new_alerts(self, choices: NewAlertChoices) -> None:
        """Whether "New alert" is offered: only when a new alert has somewhere to go; if not,
        the button says why."""
        self.new_choices = choices
        reason = None if choices.spaces else read_only_reason(choices.network_access)
        for button in (self.new_button, self.start_button):
            button.setEnabled(reason is None)
            button.setToolTip(reason or "")

    def count_text(self, total: int) -> str:
        return ngettext("{count} open alert", "{count} open alerts", total).format(
            count=format_number(total)
        )

    def closing(self) -> bool:
        return self.profile.closed

    def _activated(self, index: QModelIndex) -> None:
        alert_id = index.data(ID_ROLE)
        if alert_id:
            self.open_alert(str(alert_id))

    def new_alert(self) -> None:
        store, engine = self.store, self.profile.engine
        run_job(
            self,
            lambda _state: new_alert_choices(store, engine, people=True),
            on_success=self._show_form,
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _show_form(self, choices: NewAlertChoices) -> None:
        self._offer_new_alerts(choices)
        if not choices.spaces:
            self.message.say(self.new_button.toolTip())
            return
        assert self.side is not None
        # Scrolls up and down: at 1024×680 in French the form was squeezed until the
        # defenders list showed a row and a half.
        scroll = UpDownScroll(self.side)
        form = AlertForm(choices.spaces, choices.people, scroll)
        scroll.setWidget(form)
        form.set_new_defender_reason(
            None if choices.network_access.can_write else read_only_reason(choices.network_access)
        )
        form.new_defender_wanted.connect(lambda: self.new_defender(form, choices.network_id))
        form.submitted.connect(self._save_alert)
        form.cancelled.connect(self.show_placeholder)
        self.show_detail(scroll)
        self.detail = None
        self.form = form
        form.title.setFocus()

    def new_defender(self, form: AlertForm, network_id: str) -> NewDefenderDialog:
        """Add a person to the directory from the alert form, and tick them there."""
        dialog = NewDefenderDialog(network_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        store = self.store

        def save(person: Person) -> None:
            def saved(stored: Record) -> None:
                if isinstance(stored, Person):
                    form.add_defender(stored.id, stored.name or stored.alias)
                dialog.accept()

            def refused(error: BaseException) -> None:
                if isinstance(error, InvalidRecord):
                    dialog.refused(error.errors)
                else:
                    dialog.refused(None, failure_message(error))

            # The directory's own way to store a record: validated again, queued with writes.
            run_job(
                dialog,
                lambda _state: store.save(person),
                on_success=saved,
                on_failure=refused,
                writes=True,
            )

        dialog.person_ready.connect(save)
        self.defender_dialog = dialog
        dialog.open()
        return dialog

    def _save_alert(self, alert: Alert) -> None:
        store, form = self.store, self.form

        def refused(error: BaseException) -> None:
            if form is not None and isinstance(error, InvalidRecord):
                form.show_problems(error.errors)
            else:
                self.message.say(failure_message(error))

        def saved(_result: object) -> None:
            self.model.refresh()
            self.open_alert(alert.id)
            self.alert_saved.emit(alert.id)

        run_job(
            self,
            lambda _state: store.save(alert),
            on_success=saved,
            on_failure=refused,
            writes=True,
        )

    def open_alert(self, alert_id: str) -> None:
        assert self.side is not None
        detail = AlertDetail(self.store, alert_id, self.side, self.profile.engine)
        detail.changed.connect(self.model.refresh)
        self.show_detail(detail)
        self.form = None
        self.detail = detail
        row = self.model.row_of(alert_id)
        if row >= 0:
            select_row(self.view, row)
        self.alert_opened.emit(detail)

    def tear_down(self) -> None:
        """At lock: stop reading, forget every row and the alert shown."""
        self.model.clear()
        if self.detail is not None:
            self.detail.clear()

    def retranslate(self) -> None:
        self.heading.setText(_("Solidarity alerts"))
        self.new_button.setText(_("New alert"))
        self.start_button.setText(_("Start the first alert"))
        self.empty.title.setText(_("No open alert"))
        self.empty.text.setText(
            _(
                "When a defender is at risk, start an alert: the network drafts a letter, "
                "organizations sign it, and you follow the referrals and actions here. Alerts "
                "from other members arrive at each sync."
            )
        )
        self.placeholder.setText(_("Choose an alert to see the network's response."))
        if self.new_choices is not None:
            self._offer_new_alerts(self.new_choices)
        super().retranslate()
