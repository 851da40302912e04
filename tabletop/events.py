"""The transcript's event types and the fields each carries: the contract between engine, scorer and UI.

Every transcript line has `seq`, `type`, `t` (sim seconds since start, a float), `wall` (UTC
ISO time), `prev` and `hash`; the fields below sit beside them at the top level of the line.

session_started   scenario_id, scenario_path, scenario_sha256, scenario (the resolved
                  Scenario as JSON), seed, speed, participants [{name, role, simulated}],
                  mode ("solo" | "team" | "simulate"), team (str or null), solo_role (str or
                  null), tool_version, resumed_from (null, or the path resumed),
                  conditions {mode, hints, auto_pause, speed} and rules_version (the
                  scoring rules the run was played under; absent: version 1)
inject_released   inject (id), title, channel, from, to [roles], phase, body, trigger
                  ("schedule" | "branch" | "response" | "facilitator" | "adhoc"),
                  condition (the `when` that fired it, or null); also due (the sim time it
                  was scheduled for: t - due is its lateness, e.g. after a time jump), marks,
                  advance_to, and from_role (the simulated role answering) on responses
decision          id (decision id "d<seq>"), role (who did it), by (person name), action,
                  fields {}, rationale (str), inject (id it answers, or null),
                  delegated_by (role, or null), delegation (delegation id, or null),
                  delegated_at (sim seconds the task was given, or null); teammate (the
                  expectation id) when a simulated teammate did its own role's work in solo
delegation        id ("g<seq>"), role (who delegates), by, to_role, action, fields {},
                  rationale, inject, timebox (seconds, or null)
note              role, by, text, inject (or null)
                  (decision, delegation and note carry script_entry, the index of the entry
                  in the decision script, when `tabletop simulate` recorded them, and request,
                  the player's request id, when a remote player sent them)
marker_set        marker, source ("inject:ID" | "action:ID" | "facilitator")
clock             op ("pause" | "resume" | "speed" | "jump" | "checkpoint"), speed (after the
                  op), paused (after the op), from_t, to_t and inject (the inject that jumped)
                  for jump; a checkpoint only records how far the clock had run (its `t`); a
                  solo run's auto-pause has reason "auto" and inject (the one that expects the
                  player's action)
facilitator       op ("trigger_now" | "adhoc" | "skip" | "role_change" | "join" | "leave" |
                  "note"), inject (id or null), detail {} (adhoc: title, body, channel, to,
                  from; role_change, join, leave: name, from, to; note: text, by, the
                  facilitator's own note, never sent to players)
session_ended     reason ("duration" | "facilitator" | "interrupted" | ...)
session_interrupted  reason (what stopped it: "SIGINT", "SIGTERM", "quit"), speed, paused:
                  the session was stopped without ending; `--resume` continues it
session_resumed   from_t (sim seconds where the session continues), dropped_bytes (a torn
                  last line cut off, 0 if none), paused, speed, signed_through (the seq of the
                  last signature line before it, or null): written when a session is continued
                  (`--resume`); readers that do not know it skip it
hotwash_answer    role, by (who played that role), question (its text, as the scenario's
                  `hotwash` has it), text, and request when a remote player sent it: an answer in
                  the hot wash, after session_ended; `t` is the end's
hotwash_closed    reason ("facilitator" | "player" | "time" | "skipped"), by (or null), answers
                  (how many were recorded): the hot wash is over, no answer follows
signature         key (base64 Ed25519 public key), signer (the key holder's name), signs (the
                  seq of the line it signs: the line before it), sig (base64 signature of that
                  line's hash): written by the transcript writer, see `tabletop.transcript`
"""

SESSION_STARTED = "session_started"
INJECT_RELEASED = "inject_released"
DECISION = "decision"
DELEGATION = "delegation"
NOTE = "note"
MARKER_SET = "marker_set"
CLOCK = "clock"
FACILITATOR = "facilitator"
SESSION_ENDED = "session_ended"
SESSION_RESUMED = "session_resumed"
SESSION_INTERRUPTED = "session_interrupted"
HOTWASH_ANSWER = "hotwash_answer"
HOTWASH_CLOSED = "hotwash_closed"
SIGNATURE = "signature"
