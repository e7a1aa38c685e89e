"""``usage.media_played`` events: live broadcasts and on-demand plays of the programs."""

from __future__ import annotations

from typing import Any

import numpy as np

from usage_pipeline.producers.simulator.draws import _pick_cum
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run


def _prepare_media(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """Media rows: which program, live or on demand, how long, how many bytes."""
    rng, programs = run.rng, run.programs
    n = hi - lo
    program = _pick_cum(rng, programs.cum, n)
    live = rng.random(n) < np.maximum(programs.live_share[program], 0.05)
    fraction = np.where(live, rng.beta(1.0, 1.6, n), rng.beta(0.7, 0.6, n))
    seconds = np.maximum(np.round(programs.length_s[program] * fraction, 1), 1.0)
    volume = seconds * programs.kbps[program] * 125 * np.exp(0.08 * rng.standard_normal(n))
    titles = np.where(rng.random(n) < 0.9, programs.titles[program], None)
    return _media_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        c.ip[lo:hi],
        c.ua[lo:hi],
        c.session[lo:hi],
        programs.ids[program].tolist(),
        titles.tolist(),
        live.tolist(),
        seconds.tolist(),
        np.rint(volume).astype(np.int64).tolist(),
    ]


def _media_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, ip, ua, sid, program, title, live, seconds, size in zip(
        *columns, strict=True
    ):
        service, mode = ("broadcast-studio", "broadcast") if live else ("media-library", "played")
        out[i] = {
            "event_id": eid,
            "event_type": "usage.media_played",
            "schema_version": 1,
            "occurred_at": t,
            "source": "player-gateway",
            "subject": {"account_id": acc, "user_id": uid},
            "context": {"ip": ip, "user_agent": ua, "session_id": sid},
            "properties": {
                "service": service,
                "program_id": program,
                "program_title": title,
                "mode": mode,
                "duration_s": seconds,
                "bytes": size,
            }
            if title is not None
            else {
                "service": service,
                "program_id": program,
                "mode": mode,
                "duration_s": seconds,
                "bytes": size,
            },
        }
