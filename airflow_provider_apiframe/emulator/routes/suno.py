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

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_apiframe.core.catalog import SUNO_ACTION
from airflow_provider_apiframe.emulator.audio import EXTEND_SECONDS, AudioSpec, clamp
from airflow_provider_apiframe.emulator.routes.common import ApiKey, Emulated, error
from airflow_provider_apiframe.emulator.routes.jobs import accept
from airflow_provider_apiframe.emulator.state import EmulatorState, JobRecord
from airflow_provider_apiframe.emulator.state.jobs import track_id
from airflow_provider_apiframe.emulator.state.ledger import action_price
from airflow_provider_apiframe.emulator.state.outputs import SUNO_TRACKS, Output

ROUTE = SUNO_ACTION
_MODEL = "suno"

router = APIRouter()


@router.post(ROUTE, status_code=202)
async def suno_action(request: Request, key: ApiKey, emulated: Emulated) -> Response:
    """
    Start an extend, cover, add_vocals or stems of a Suno track.

    :param request: The request.
    :param key: The caller's key.
    :param emulated: The emulator's services.
    """
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, "Request body is not valid JSON.")
    problems = emulated.validator.validate(ROUTE, body)
    output: Output | None = None
    conflict: str | None = None
    if not problems:
        parent = emulated.state.jobs.get(body["parentJobId"])
        if parent is None or parent.api_key != key or parent.model != _MODEL:
            problems["parentJobId"] = ["No Suno job of yours has this id"]
        elif (conflict := unavailable(emulated.state, parent, body["action"])) is None:
            track = chosen_track(parent, body, problems)
            if track is not None:
                output = plan_action(parent, track, body, problems)
    return accept(
        request,
        key,
        emulated,
        ROUTE,
        body,
        problems,
        output=output,
        parent_id=body.get("parentJobId") if output else None,
        conflict=conflict,
    )


def unavailable(state: EmulatorState, parent: JobRecord, action: str) -> str | None:
    """
    Why ``action`` is not available for ``parent`` (the ``409``'s message), or None when it is.

    :param state: The emulator's state.
    :param parent: A Suno job of the caller.
    :param action: The action asked for.
    """
    status = state.status(parent)[0]
    if status != "COMPLETED":
        return f"The {action} action needs a completed job; job {parent.id} is {status}."
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
    parent: JobRecord, track: int, body: dict[str, Any], problems: dict[str, list[str]]
) -> Output | None:
    """
    What an available action on the parent's ``track`` makes, or None (its problem is added).

    :param parent: The parent, a completed pair of tracks.
    :param track: Which of its tracks (1-based).
    :param body: The validated action.
    :param problems: The request's problems by field.
    """
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
