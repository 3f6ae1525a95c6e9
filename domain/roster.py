"""Validation of a pupil roster (the CSV the school exports), all rows before any is kept.

Returns `(rows, errors)` like Beancount's loader: the caller imports nothing if there is a single
error, and shows every error with its line number so the file can be fixed in one pass.

The `school` column is optional (a city's server reads it; a one-school install has none): a file
without it leaves every pupil's school as it is, and an empty cell means "every school".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from .badges import normalize_uid
from .meals import Pupil
from .messages import N_, Message, RefectoryError
from .schools import school_problem
from .text import has_control_characters

COLUMNS = ("pupil_id", "first_name", "last_name", "class", "category", "badge_uid", "diet", "family_id")
OPTIONAL_COLUMNS = ("school",)
_PUPIL_ID = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
MAX_TEXT = 200


def is_pupil_id(text: str) -> bool:
    return bool(_PUPIL_ID.fullmatch(text))


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    pupil: Pupil
    badge_uid: str | None
    school: str | None = None  # None: the file has no school column; "": every school


def import_summary(ngettext: Callable[[str, str, int], str], created: int, updated: int, badges: int) -> str:
    """"2 pupils added, 1 updated, 3 badges assigned." for a roster import, each count in its own grammar."""
    return ", ".join([ngettext("{count} pupil added", "{count} pupils added", created).format(count=created),
                      ngettext("{count} updated", "{count} updated", updated).format(count=updated),
                      ngettext("{count} badge assigned", "{count} badges assigned", badges).format(count=badges),
                      ]) + "."


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 0: the whole file (it could not be read, or is too large)
    message: Message


def _collector(problems: list[Message]):
    def bad(template: str, **params: object) -> None:
        problems.append(Message(template, {k: str(v) for k, v in params.items()}))

    return bad


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int
    updated: int
    badges: int  # newly assigned
    deactivated: int = 0  # pupils the file left out, when the import was asked to deactivate them


class RosterError(RefectoryError):
    """The file has bad rows; `errors` lists each with its line number. Nothing was imported."""

    code = "invalid_roster"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(N_("The file has problems, each listed with its line: nothing was imported."))
        self.errors = errors


def parse_csv(data: bytes) -> tuple[list[str] | None, list[tuple[int, dict]]]:
    """Header and (line number, row) pairs of a UTF-8 CSV file's bytes (an Excel BOM is fine)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1  # the byte counted from its line's start
        raise RosterError([RowError(data.count(b"\n", 0, error.start) + 1, Message(
            N_("The file is not UTF-8 text (byte {position})."),
            {"position": str(error.start - line_start + 1)}))]) from None
    reader = csv.DictReader(text.splitlines(keepends=True))  # a quoted line break stays in its cell
    rows = []
    try:
        for row in reader:  # a row's number is the line it starts on
            inner = sum(v.count("\n") for v in row.values() if isinstance(v, str))
            rows.append((reader.line_num - inner, row))
    except csv.Error as error:  # raised before the reader counts the row's first line
        if str(error).startswith("field larger than field limit"):
            problem = Message(N_("A cell holds more than {limit} characters."), {"limit": str(csv.field_size_limit())})
        else:
            problem = Message(N_("Malformed CSV: {problem}."), {"problem": str(error)})
        raise RosterError([RowError(reader.line_num + 1, problem)]) from None
    return reader.fieldnames, rows


def unreadable(error: OSError) -> RosterError:
    """The file could not be opened or read: one problem for the whole file (line 0), in words."""
    name = str(error.filename or "")
    if isinstance(error, FileNotFoundError):
        message = Message(N_("There is no file {name}."), {"name": name})
    elif isinstance(error, PermissionError):
        message = Message(N_("The file {name} may not be read (permission denied)."), {"name": name})
    elif isinstance(error, IsADirectoryError):
        message = Message(N_("{name} is a folder, not a file."), {"name": name})
    else:
        message = Message(N_("Cannot read the file: {problem}."), {"problem": error.strerror or str(error)})
    return RosterError([RowError(0, message)])


def check_header(header: Iterable[str] | None, required: Iterable[str] = COLUMNS,
                 optional: Iterable[str] = ()) -> list[RowError]:
    """Every required column present; a known column neither twice nor misspelt by its case (an
    optional column written "School" would otherwise be left out without a word)."""
    present = [h.strip() for h in header or ()]
    known = {c.casefold(): c for c in (*required, *optional)}
    errors = [RowError(1, Message(N_("Column {column} appears more than once."), {"column": c}))
              for c in dict.fromkeys(present) if c in known.values() and present.count(c) > 1]
    errors += [RowError(1, Message(N_("Column '{given}' must be written '{column}'."),
                                   {"given": h, "column": known[h.casefold()]}))
               for h in present if h.casefold() in known and h != known[h.casefold()]]
    missing = [c for c in required if c not in present]
    if missing:
        errors.append(RowError(1, Message(N_("Missing columns: {columns}."), {"columns": ", ".join(missing)})))
    return errors


def validate_roster(
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    *,
    categories: Iterable[str],
    badge_owners: Mapping[str, str],
    cashier_badges: Collection[str] = (),
) -> tuple[list[RosterRow], list[RowError]]:
    """Check every (line, row); `badge_owners` maps already-known badge UIDs to their pupil, and
    `cashier_badges` are the cashiers' own badges (which open cashier mode, so no pupil may use one)."""
    categories = frozenset(categories)
    valid: list[RosterRow] = []
    errors: list[RowError] = []
    seen_pupils: dict[str, int] = {}
    seen_badges: dict[str, int] = {}
    for line, raw in rows:
        row_errors: list[Message] = []
        bad = _collector(row_errors)
        columns = (*COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in raw))
        if None in raw or any(raw.get(c) is None for c in columns):
            errors.append(RowError(line, Message(N_("Wrong number of fields (expected {count})."),
                                                 {"count": str(len(COLUMNS))})))
            continue
        value = {c: (raw[c] or "").strip() for c in columns}
        pupil_id = value["pupil_id"]
        if not _PUPIL_ID.fullmatch(pupil_id):
            bad(N_("pupil_id '{value}' must be 1 to 40 letters, digits, '.', '_' or '-'."), value=pupil_id)
        elif pupil_id in seen_pupils:
            bad(N_("pupil_id '{value}' already appears on line {other}."), value=pupil_id, other=seen_pupils[pupil_id])
        for column in ("first_name", "last_name", "class"):
            if not value[column]:
                bad(N_("{column} is empty."), column=column)
        for column in COLUMNS:
            if len(value[column]) > MAX_TEXT:
                bad(N_("{column} is longer than {count} characters."), column=column, count=MAX_TEXT)
            if has_control_characters(value[column]):
                bad(N_("{column} contains a line break or another control character."), column=column)
        if value["category"] not in categories:
            bad(
                N_("Unknown category '{value}' (known: {known})."),
                value=value["category"],
                known=", ".join(sorted(categories)),
            )
        uid = None
        if value["badge_uid"]:
            try:
                uid = normalize_uid(value["badge_uid"])
            except RefectoryError as error:
                row_errors.append(error.message)
            else:
                owner = badge_owners.get(uid)
                if uid in seen_badges:
                    bad(N_("Badge {uid} already appears on line {other}."), uid=uid, other=seen_badges[uid])
                elif owner is not None and owner != pupil_id:
                    bad(N_("Badge {uid} already belongs to pupil {owner}."), uid=uid, owner=owner)
                elif uid in cashier_badges:
                    bad(N_("Badge {uid} is a cashier's badge."), uid=uid)
        if value.get("school") and (problem := school_problem(value["school"])):
            row_errors.append(problem)
        if row_errors:
            errors.extend(RowError(line, m) for m in row_errors)
            continue
        seen_pupils[pupil_id] = line
        if uid:
            seen_badges[uid] = line
        pupil = Pupil(
            pupil_id=pupil_id,
            first_name=value["first_name"],
            last_name=value["last_name"],
            class_name=value["class"],
            category=value["category"],
            diet=value["diet"],
            family_id=value["family_id"] or None,
        )
        valid.append(RosterRow(line, pupil, uid, value.get("school")))
    return valid, errors
