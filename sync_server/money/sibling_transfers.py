"""Money a family moves from one child's account to a brother's or sister's.

A kiosk may be offline and still serve the source child on money it believes is there, so, as for a
refund (`refund_fence`), the transfer is booked only once no kiosk can still spend that money. A
refund stops the account altogether; a transfer must not stop a child's meals, so it sets the
amount aside instead:

1. `ask` checks the request and writes, in one transaction, the transfer (`waiting`) and a change
   for the kiosks, at feed position S, saying that this amount of the source's balance is set
   aside. The server's own figure of what can still be moved drops at once (`movable`).
2. A kiosk that applies the change keeps the amount out of reach: a meal is served, and a top-up
   cancelled, only if the balance less what is set aside covers it (`kiosk.store`).
3. `release_due` books the transfer once every active kiosk has passed its fence: a heartbeat after
   its latest enrollment says `pending == 0` and `cursor >= F` (`refund_fence.KioskState.past`),
   where F is the later of S and the position of the source's latest debit (`fence`).
   - `cursor >= S`: the kiosk has applied the set-aside, so from then on it spends only what is
     not set aside.
   - `pending == 0`: everything it did before (a meal served offline before the change reached
     it) is in the server's ledger, so in the balance the server reads.
   - `cursor >= F`: it holds every debit of the source the server holds. Without this, a kiosk
     that synced early would go on spending, against the set-aside, money that another kiosk,
     offline until now, had already spent before it heard of the transfer: booking the transfer
     on the server's balance would then take the account below zero once that kiosk pushes.
     With it, what each kiosk counts as the source's balance at its heartbeat is the server's.
   A heartbeat late or out of order can only show an older cursor or more pending: it holds the
   transfer back, never lets it through. So, on the server's balance, read locked: if it covers
   the amount, the pair (debit on the source, credit on the destination, one transfer id as their
   reference) is written, then the set-aside is released, in one transaction and in that order
   in the change log, so a kiosk never sees the set-aside gone before the debit is there
   (between the two it counts both: it refuses more, never less). If it does not (an offline
   kiosk spent the money before it heard of the transfer), nothing moves: the transfer is
   cancelled, its set-aside released, and the family told.

Either way the source stays at or above zero everywhere, whatever order the kiosks sync in.
What the transfer does not lift is the design's own bound: two kiosks cut off from each other may
each spend the same money, with or without a transfer; the transfer adds nothing to it, since each
kiosk spends at most the balance less the set-aside. Server credits only add; a refund's payout
takes the balance as it is at its fence, so a transfer is refused while either child has a
refund open, and one asked after the transfer was set aside finds the transfer's fate in the
balance it takes. A dead kiosk holds every transfer back until the manager revokes it, as it
holds refunds. While a child eats at two kiosks in turn, each push moves F on and the transfer
waits one more round of the other kiosk; with the kiosks online that is a minute or two.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import aliased

from domain.clock import from_text, to_text
from domain.entries import SERVER_ORIGIN, EntryKind, LedgerEntry, is_entry_id, new_entry_id
from domain.messages import N_, RefectoryError
from domain.money import AmountError, format_chf, parse_amount
from domain.sync import ChangeType
from sync_server.admin import audit
from sync_server.admin.family_change import lock_children
from sync_server.db import fetch_all, in_json_list, sum_cents
from sync_server.families import accounts
from sync_server.families.accounts import mail_family
from sync_server.money.refund_fence import KioskState, active_kiosks, after_heartbeat
from sync_server.sync import ledger
from sync_server.sync.changes import record_change, school_of
from sync_server.tables import changes, entries, pupils, refund_requests, sibling_transfers

log = logging.getLogger(__name__)


class TransferError(RefectoryError):
    """Why a transfer cannot be made, and the form field it is about (`from_pupil`, `to_pupil`,
    `amount`; None: the request as a whole)."""

    code = "invalid_request"

    def __init__(self, template: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(template, **params)
        self.field = field


class Status(StrEnum):
    WAITING = "waiting"  # set aside; waits for the kiosks
    BOOKED = "booked"  # the pair of entries is written
    CANCELLED = "cancelled"  # the kiosks had spent the money before they heard of the transfer


@dataclass(frozen=True, slots=True)
class SiblingTransfer:
    transfer_id: str
    family_id: str
    from_pupil: str
    from_name: str
    to_pupil: str
    to_name: str
    amount_cents: int
    status: Status
    requested_at: datetime
    fence_seq: int
    settled_at: datetime | None
    debit_id: str | None
    credit_id: str | None


_FROM, _TO = aliased(pupils), aliased(pupils)
_SELECT = (select(sibling_transfers, _FROM.c.first_name.label("from_name"), _TO.c.first_name.label("to_name"))
           .select_from(sibling_transfers.join(_FROM, _FROM.c.pupil_id == sibling_transfers.c.from_pupil)
                        .join(_TO, _TO.c.pupil_id == sibling_transfers.c.to_pupil)))
_WAITING = (_SELECT.where(sibling_transfers.c.status == str(Status.WAITING))  # oldest first
            .order_by(sibling_transfers.c.requested_at, sibling_transfers.c.transfer_id))


def _transfer(row) -> SiblingTransfer:
    value = row._mapping
    return SiblingTransfer(value["transfer_id"], value["family_id"], value["from_pupil"], value["from_name"],
                           value["to_pupil"], value["to_name"], value["amount_cents"], Status(value["status"]),
                           from_text(value["requested_at"]), value["fence_seq"],
                           from_text(value["settled_at"]) if value["settled_at"] else None,
                           value["debit_id"], value["credit_id"])


def find(conn: Connection, transfer_id: str) -> SiblingTransfer:
    row = conn.execute(_SELECT.where(sibling_transfers.c.transfer_id == transfer_id)).first()
    if row is None:
        raise TransferError(N_("No such transfer."))
    return _transfer(row)


def of_family(conn: Connection, family_id: str, limit: int = 20) -> list[SiblingTransfer]:
    """The family's latest transfers, newest first."""
    rows = conn.execute(_SELECT.where(sibling_transfers.c.family_id == family_id)
                        .order_by(sibling_transfers.c.requested_at.desc(), sibling_transfers.c.transfer_id.desc())
                        .limit(limit))
    return [_transfer(row) for row in rows]


_ANY_WAITING = select(sibling_transfers.c.transfer_id).where(
    sibling_transfers.c.status == str(Status.WAITING)).limit(1)


def any_waiting(conn: Connection) -> bool:
    """Whether a transfer waits for the kiosks (every heartbeat asks, and nearly always none does)."""
    return bool(fetch_all(conn, _ANY_WAITING))


def waiting(conn: Connection) -> list[SiblingTransfer]:
    """The transfers still waiting for the kiosks, oldest first (the back office's kiosks page)."""
    return [_transfer(row) for row in conn.execute(_WAITING)]


def set_aside(conn: Connection, pupil_id: str) -> int:
    """What waiting transfers keep aside on the pupil's account."""
    return set_aside_on(conn, [pupil_id]).get(pupil_id, 0)


# Built once: the home page asks on every visit, a transfer before it moves anything.
_SET_ASIDE_ON = (select(sibling_transfers.c.from_pupil, sum_cents(sibling_transfers.c.amount_cents))
                 .where(sibling_transfers.c.status == bindparam("waiting", Status.WAITING.value),
                        in_json_list(sibling_transfers.c.from_pupil, "pupil_ids"))
                 .group_by(sibling_transfers.c.from_pupil))


def set_aside_on(conn: Connection, pupil_ids: list[str]) -> dict[str, int]:
    """What waiting transfers keep aside, for those of these pupils that have any (the home page)."""
    if not pupil_ids:
        return {}
    return dict(fetch_all(conn, _SET_ASIDE_ON, {"pupil_ids": json.dumps(pupil_ids)}))


def movable(conn: Connection, pupil_id: str) -> int:
    """What can be moved off the pupil's account now: its balance less what is already set aside
    (never below zero)."""
    return max(0, ledger.balance(conn, pupil_id) - set_aside(conn, pupil_id))


def _lock(conn: Connection, *pupil_ids: str) -> None:
    """Both balances locked until the transaction ends, in account order as a push locks them (so
    neither waits on the other): two requests at once cannot take the same money, and a push
    booked meanwhile waits for the transfer."""
    for pupil_id in sorted(set(pupil_ids)):
        ledger.balance(conn, pupil_id, lock=True)


def _refund_open(conn: Connection, pupil_ids: tuple[str, str]) -> str | None:
    return conn.execute(select(refund_requests.c.open_for).where(refund_requests.c.open_for.in_(pupil_ids))
                        .order_by(refund_requests.c.request_id).limit(1)).scalar()


@dataclass(frozen=True, slots=True)
class Checked:
    """A request that can be made as it stands: what the confirmation shows."""
    source: accounts.Child
    destination: accounts.Child
    amount_cents: int
    movable_cents: int  # what the source had to move, this amount included


def check(conn: Connection, family_id: str, from_pupil: str, to_pupil: str, amount: str) -> Checked:
    """The request checked, or a `TransferError` saying what is wrong and where."""
    source, destination = _two_children(conn, family_id, from_pupil, to_pupil)
    try:
        cents = parse_amount(amount)
    except AmountError as error:
        raise TransferError(error.message.template, field="amount", **error.message.params) from None
    refunded = _refund_open(conn, (from_pupil, to_pupil))
    if refunded is not None:
        raise TransferError(N_("A refund of the balance of {name} is in progress: no transfer until it is done."),
                            name=(source if refunded == from_pupil else destination).first_name)
    available = movable(conn, from_pupil)
    if available <= 0:
        raise TransferError(N_("{name} has no money that can be moved now."), field="amount", name=source.first_name)
    if cents > available:
        raise TransferError(N_("{name} has {available} that can be moved: enter at most that amount."),
                            field="amount", name=source.first_name, available=format_chf(available))
    return Checked(source, destination, cents, available)


def _two_children(conn: Connection, family_id: str, from_pupil: str, to_pupil: str
                  ) -> tuple[accounts.Child, accounts.Child]:
    own = {child.pupil_id: child for child in accounts.children(conn, family_id)}
    if from_pupil not in own:
        raise TransferError(N_("Choose the child the money comes from among your children."), field="from_pupil")
    if to_pupil not in own:
        raise TransferError(N_("Choose the child the money goes to among your children."), field="to_pupil")
    if from_pupil == to_pupil:
        raise TransferError(N_("Choose two different children: the money goes from one to the other."),
                            field="to_pupil")
    return own[from_pupil], own[to_pupil]


def ask(conn: Connection, family_id: str, from_pupil: str, to_pupil: str, amount: str, now: datetime, *,
        canteen: dict, portal_url: str, transfer_id: str | None = None) -> SiblingTransfer:
    """Set the amount aside on `from_pupil` for `to_pupil`, both children of the family, and book it
    at once if no kiosk has to be waited for (see the module docstring).

    `transfer_id` (made when the confirmation page was shown) makes a confirmation sent twice (a
    double click, a reload) one transfer: the second finds the first and returns it."""
    lock_children(conn, from_pupil, to_pupil)  # a move to another family at the same moment: one waits
    _two_children(conn, family_id, from_pupil, to_pupil)
    _lock(conn, from_pupil, to_pupil)  # a twin request waits here until the first has committed
    if transfer_id is not None:
        row = conn.execute(_SELECT.where(sibling_transfers.c.transfer_id == transfer_id)).first()
        if row is not None and row.family_id == family_id:
            return _transfer(row)
        if row is not None or not is_entry_id(transfer_id):
            raise TransferError(N_("This confirmation is no longer valid: check the transfer again."))
    cents = check(conn, family_id, from_pupil, to_pupil, amount).amount_cents
    transfer_id = transfer_id or new_entry_id()
    fence = record_change(conn, ChangeType.TRANSFER, transfer_id, {"pupil_id": from_pupil, "amount_cents": cents},
                          now, school=school_of(conn, from_pupil))
    conn.execute(insert(sibling_transfers).values(
        transfer_id=transfer_id, family_id=family_id, from_pupil=from_pupil, to_pupil=to_pupil, amount_cents=cents,
        status=str(Status.WAITING), requested_at=to_text(now), fence_seq=fence))
    audit.record(conn, f"family:{family_id}", "transfer.ask", transfer_id, now,
                 f"{from_pupil} → {to_pupil}: {format_chf(cents)} set aside")
    release_due(conn, now, canteen=canteen, portal_url=portal_url)  # no kiosk to wait for: booked now
    return find(conn, transfer_id)


def own(conn: Connection, family_id: str, transfer_id: str) -> SiblingTransfer:
    """The family's own transfer; another family's answers as one that does not exist."""
    transfer = conn.execute(_SELECT.where(sibling_transfers.c.transfer_id == transfer_id,
                                          sibling_transfers.c.family_id == family_id)).first()
    if transfer is None:
        raise accounts.NotYoursError(N_("No such transfer."))
    return _transfer(transfer)


def fence(conn: Connection, transfer: SiblingTransfer) -> int:
    """The position every kiosk must have synced past: the set-aside's, or that of the source's
    latest debit after it (a meal a kiosk pushed since), whichever is later. A credit a kiosk has
    not pulled yet only makes it spend less. Read from the change log from S on: a few minutes'
    worth of rows, each joined to its entry by id."""
    latest = conn.execute(
        select(func.max(changes.c.seq)).select_from(changes.join(entries, entries.c.id == changes.c.key))
        .where(changes.c.seq > transfer.fence_seq, changes.c.type == str(ChangeType.ENTRY),
               entries.c.account_id == transfer.from_pupil, entries.c.amount_cents < 0)).scalar()
    return max(transfer.fence_seq, latest or 0)


def missing(conn: Connection, transfer: SiblingTransfer, states: list[KioskState]) -> list[KioskState]:
    """The active kiosks a waiting transfer still waits for."""
    position = fence(conn, transfer)
    return [state for state in states if not state.past(position)]


def release_due(conn: Connection, now: datetime, *, canteen: dict, portal_url: str) -> list[SiblingTransfer]:
    """Book (or cancel) every waiting transfer whose set-aside every active kiosk has passed."""
    query = _WAITING.with_for_update(of=sibling_transfers, skip_locked=True)  # two heartbeats at once: one books
    claimed = [_transfer(row) for row in conn.execute(query)]
    if not claimed:
        return []
    states = active_kiosks(conn)
    due = [transfer for transfer in claimed if not missing(conn, transfer, states)]
    # Every balance they move locked first, in account order, before the change log's lock that the
    # first booking takes: a family asking a transfer takes them in that order too.
    _lock(conn, *(pupil for transfer in due for pupil in (transfer.from_pupil, transfer.to_pupil)))
    return [settle(conn, transfer, now, canteen=canteen, portal_url=portal_url) for transfer in due]


def settle(conn: Connection, transfer: SiblingTransfer, now: datetime, *, canteen: dict,
           portal_url: str) -> SiblingTransfer:
    """The pair of entries if the source's balance covers the amount, else nothing moves; then the
    set-aside is released (after the entries, in the change log)."""
    _lock(conn, transfer.from_pupil, transfer.to_pupil)
    balance = ledger.balance(conn, transfer.from_pupil)
    pair = [LedgerEntry(new_entry_id(), transfer.from_pupil, -transfer.amount_cents, EntryKind.TRANSFER, now,
                        SERVER_ORIGIN, reference=transfer.transfer_id, note=transfer.to_name),
            LedgerEntry(new_entry_id(), transfer.to_pupil, transfer.amount_cents, EntryKind.TRANSFER, now,
                        SERVER_ORIGIN, reference=transfer.transfer_id, note=transfer.from_name)]
    status = Status.CANCELLED
    if balance >= transfer.amount_cents:
        try:
            ledger.append_many(conn, pair, now)
            status = Status.BOOKED
        except AmountError:  # the destination would pass the most an account holds
            log.warning("transfer %s would take %s beyond the balance limit", transfer.transfer_id, transfer.to_pupil)
    record_change(conn, ChangeType.TRANSFER, transfer.transfer_id, None, now,
                  school=school_of(conn, transfer.from_pupil))
    booked = status is Status.BOOKED
    conn.execute(update(sibling_transfers).where(sibling_transfers.c.transfer_id == transfer.transfer_id)
                 .values(status=str(status), settled_at=to_text(now), debit_id=pair[0].id if booked else None,
                         credit_id=pair[1].id if booked else None))
    detail = (f"{transfer.from_pupil} → {transfer.to_pupil}: {format_chf(transfer.amount_cents)}; entries "
              f"{pair[0].id} and {pair[1].id}" if booked else
              f"{transfer.from_pupil} → {transfer.to_pupil}: {format_chf(transfer.amount_cents)}; the balance was "
              f"{format_chf(balance)}, nothing moved")
    audit.record(conn, "server", "transfer.book" if booked else "transfer.cancel", transfer.transfer_id, now, detail)
    settled = find(conn, transfer.transfer_id)
    _tell_family(conn, settled, now, canteen=canteen, portal_url=portal_url, balance_cents=balance)
    log.info("transfer %s %s: %s centimes from %s to %s", transfer.transfer_id, status, transfer.amount_cents,
             transfer.from_pupil, transfer.to_pupil)
    return settled


def release_after_heartbeat(conn: Connection, kiosk_id: str, now: datetime, *, canteen: dict,
                            portal_url: str) -> None:
    """Called after the heartbeat, in a transaction of its own (kiosk_api.views.heartbeat); a failure
    is logged and the next heartbeat tries again (`after_heartbeat`)."""
    settled = after_heartbeat(conn, kiosk_id, "transfers",
                              lambda: release_due(conn, now, canteen=canteen, portal_url=portal_url))
    for transfer in settled:
        log.info("transfer %s settled after kiosk %s passed its set-aside", transfer.transfer_id, kiosk_id)


def _tell_family(conn: Connection, transfer: SiblingTransfer, now: datetime, *, canteen: dict, portal_url: str,
                 balance_cents: int) -> None:
    mail_family(conn, transfer.family_id, f"sibling_transfer_{transfer.status}", now, transfer=transfer,
                balance_cents=balance_cents, canteen=canteen, portal_url=portal_url)
