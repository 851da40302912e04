"""Follow-up actions that outlive one draft: their stable ids, due dates, and the rules that close them.

Every corrective action of a post-mortem draft's improvement plan has an id derived from the
transcript alone: `FU-` and the first 12 hex digits of the SHA-256 of the transcript's first
line hash (the `hash` of `session_started`, which commits to the scenario, the participants and
the start) and the item's key: `action:ACTION` for a catalog improvement (one per action that
was missed, late or hard), `decision:SEQ` for a follow-up the team recorded itself
(`create_followup`). The same transcript always gives the same ids, on any machine.

A follow-up is open until one of these closes it (`tabletop.programme.status`):

1. a later rehearsal that counts as evidence (a team rehearsal by the team that raised it,
   verified, ended) records `close_followup` naming the id;
2. a later such rehearsal of the same scenario, under the same scoring rules version, meets
   every expectation the follow-up came from (each one that applies is met, and one applies);
3. a manager closes it with a reason in the follow-up register (`tabletop followups close ID
   --why ...`).

Solo practice, `simulate` runs, transcripts that do not verify and other teams' rehearsals
never close a follow-up; a `close_followup` they record is listed as a claim that did not
count, with the reason. A manager can also give a follow-up to another role
(`tabletop followups reown ID --to ROLE --why ...`).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta

PREFIX = "FU-"
ID_DIGITS = 12
DEFAULT_DUE_DAYS = 30
"""Days after the rehearsal that a follow-up is due when the team set no date of its own."""

_ID = re.compile(r"^FU-[0-9a-f]{12}$")
_RELATIVE = re.compile(r"^\s*(\d{1,4})\s*(d|days?|w|weeks?|mo|months?|y|years?)\s*$", re.IGNORECASE)


def followup_id(first_hash: str, key: str) -> str:
    """The stable id of the follow-up `key` of the transcript whose first line hashes to `first_hash`."""
    digest = hashlib.sha256(f"{first_hash}\n{key}".encode()).hexdigest()
    return PREFIX + digest[:ID_DIGITS]


def is_followup_id(text: object) -> bool:
    return isinstance(text, str) and bool(_ID.match(text))


def normal_id(text: object) -> str:
    """An id as typed (`fu-3F2A...`, with spaces) in its written form, or the text stripped."""
    value = str(text or "").strip()
    if value.lower().startswith("fu-"):
        return PREFIX + value[3:].lower()
    return value


def parse_date(text: object, start: date | None = None) -> date | None:
    """A date written as `2026-09-30` (or an ISO date-time), or as a time from `start`
    (`90d`, `6w`, `3mo`, `1y`); None when it is neither."""
    if type(text) is str and len(text) == 10:  # the common case: a date as the facts keep it
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    value = str(text or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    match = _RELATIVE.match(value)
    if match is None or start is None:
        return None
    from dateutil.relativedelta import relativedelta

    number, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("d"):
        result: date = start + timedelta(days=number)
    elif unit.startswith("w"):
        result = start + timedelta(weeks=number)
    elif unit.startswith("m"):
        result = start + relativedelta(months=number)
    else:
        result = start + relativedelta(years=number)
    return result


def session_date(wall: object) -> date | None:
    """The UTC date of a transcript line's `wall` time."""
    try:
        return datetime.fromisoformat(str(wall).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def default_due(start: date) -> date:
    return start + timedelta(days=DEFAULT_DUE_DAYS)
