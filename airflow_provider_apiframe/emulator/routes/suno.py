"""
``POST /v2/music/suno/action``: a follow-up action on one track of a completed Suno job.

The body is judged against the contract's ``SunoActionRequest`` (the alternative its ``action``
names); the parent must be a ``suno`` job of the caller (else ``400`` on ``parentJobId``), and the
track ``index`` (1-2) or ``trackId`` (one of the parent's ``result.tracks[].id``) names one of its
tracks (else ``400``; neither: the first). The action is available (else ``409``) on a completed
pair of tracks (a generation, or an extend, cover or add_vocals), not on stems, which accept no
further actions.

- ``extend``: a fresh pair of tracks continuing the track from ``continueAt`` (seconds, less than
  its duration, else ``400``; default: its end), 6 s longer than that (at most 20 s);
- ``cover``, ``add_vocals``: a fresh pair of tracks as long as the track;
- ``stems``: ``{"vocals": url, "instrumental": url}``, the two parts of the track's tune.

The new job then runs, is charged, replayed and faulted as every job is.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.core.catalog import SUNO_ACTION
from airflow_provider_apiframe.emulator.audio import EXTEND_SECONDS, AudioSpec, clamp
from airflow_provider_apiframe.emulator.routes.actions import action_router
from airflow_provider_apiframe.emulator.state import JobRecord
from airflow_provider_apiframe.emulator.state.jobs import track_id
from airflow_provider_apiframe.emulator.state.ledger import action_price
from airflow_provider_apiframe.emulator.state.outputs import SUNO_TRACKS, Output

ROUTE = SUNO_ACTION
_MODEL = "suno"


def unavailable(parent: JobRecord, action: str) -> str | None:
    """
    Why ``action`` is not available for ``parent`` (the ``409``'s message), or None when it is.

    :param parent: A completed Suno job of the caller.
    :param action: The action asked for.
    """
    if parent.output != "tracks":
        made = (
            "stems, which accept no further actions" if parent.output == "stems" else "not a pair of tracks"
        )
        return f"The {action} action is not available for job {parent.id}: its result is {made}."
    return None


def chosen_track(parent: JobRecord, body: dict[str, Any], problems: dict[str, list[str]]) -> int | None:
    """
    Which of the parent's tracks (1-based) the action names, or None (its problem is added).

    :param parent: The parent, a completed pair of tracks.
    :param body: The validated action.
    :param problems: The request's problems by field.
    """
    ids = [track_id(parent.id, n) for n in range(1, SUNO_TRACKS + 1)]
    by_index = body.get("index")
    if (wanted := body.get("trackId")) is not None:
        if wanted not in ids:
            problems["trackId"] = [f"No track of job {parent.id} has this id (its tracks: {', '.join(ids)})"]
            return None
        if by_index is not None and ids.index(wanted) + 1 != by_index:
            problems["index"] = [f"Names track {by_index}, but trackId names track {ids.index(wanted) + 1}"]
            return None
        return ids.index(wanted) + 1
    return int(by_index or 1)


def plan_action(
    parent: JobRecord, body: dict[str, Any], problems: dict[str, list[str]], _: str
) -> Output | None:
    """
    What an available action on the track it names makes, or None (its problem is added).

    :param parent: The parent, a completed pair of tracks.
    :param body: The validated action.
    :param problems: The request's problems by field.
    :param _: The base URL of result links (the action's files are drawn afresh).
    """
    track = chosen_track(parent, body, problems)
    if track is None:
        return None
    action = str(body["action"])
    seconds = parent.audio.seconds if parent.audio else 0.0
    caption = str(body.get("prompt") or parent.prompt)
    if action == "stems":
        audio = AudioSpec(2, seconds, parent.audio.fmt if parent.audio else "mp3")
        return Output("stems", action_price(action), caption, audio=audio, source=f"{parent.id}#{track}")
    if action == "extend":
        start = body.get("continueAt", seconds)
        if "continueAt" in body and start >= seconds:
            problems["continueAt"] = [f"Must be less than the track's duration ({seconds:g} s)"]
            return None
        seconds = clamp(start + EXTEND_SECONDS)
    title = str(body.get("title") or parent.title)
    audio = AudioSpec(SUNO_TRACKS, seconds)
    return Output("tracks", action_price(action), caption, audio=audio, title=title)


router = action_router(
    ROUTE, _MODEL, unavailable, plan_action, "Start an extend, cover, add_vocals or stems of a Suno track."
)
