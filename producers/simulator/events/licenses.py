"""``account.license`` events: seats assigned and released, license checks, quota metering."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from usage_pipeline.producers.simulator.draws import _pick
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run

_LICENSE_ACTIONS: Final = ("seat_assigned", "seat_released", "license_checked", "quota_used")
_LICENSE_ACTION_P: Final = np.array([0.05, 0.03, 0.52, 0.40])
_LICENSE_RESULTS: Final = ("valid", "expired", "over_limit", "invalid")
_LICENSE_RESULT_P: Final = np.array([0.965, 0.015, 0.014, 0.006])
# (quota, unit scale, integer units)
_QUOTAS: Final = (
    ("api_calls", 120.0, True),
    ("broadcast_minutes", 35.0, False),
    ("storage_gb", 1.8, False),
    ("transcode_minutes", 12.0, False),
    ("ad_impressions", 2_500.0, True),
)
_QUOTA_SCALE: Final = np.array([q[1] for q in _QUOTAS])
_QUOTA_WHOLE: Final = np.array([q[2] for q in _QUOTAS])


def _prepare_license(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """License rows: seat changes, checks with their result, quota use."""
    rng, pop = run.rng, run.pop
    n = hi - lo
    account = pop.user_account[r.user]
    action = _pick(rng, _LICENSE_ACTION_P, n)
    seats = np.rint(pop.account_seats[account] * rng.uniform(0.7, 1.0, n)).astype(np.int64)
    seats = np.where((action <= 1) | ((action == 2) & (rng.random(n) < 0.5)), seats, -1)
    result = _pick(rng, _LICENSE_RESULT_P, n)
    quota = rng.integers(0, len(_QUOTAS), size=n)
    units = _QUOTA_SCALE[quota] * np.exp(0.8 * rng.standard_normal(n))
    whole = _QUOTA_WHOLE[quota]
    units = np.where(whole, np.maximum(1, np.rint(units)), np.round(units, 2))
    as_int = units.astype(np.int64).astype(object)
    quota_units = np.where(whole, as_int, units.astype(object))
    return _license_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        c.ip[lo:hi],
        c.ua[lo:hi],
        c.session[lo:hi],
        action.tolist(),
        pop.account_license_ids[account].tolist(),
        pop.account_products[account].tolist(),
        seats.tolist(),
        result.tolist(),
        quota.tolist(),
        quota_units.tolist(),
    ]


def _license_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, ip, ua, sid, act, lic, product, seats, res, quota, units in zip(
        *columns, strict=True
    ):
        props: dict[str, Any] = {
            "action": _LICENSE_ACTIONS[act],
            "license_id": lic,
            "product": product,
        }
        if seats >= 0:
            props["seats"] = seats
        if act == 2:
            props["result"] = _LICENSE_RESULTS[res]
        elif act == 3:
            props["quota_name"] = _QUOTAS[quota][0]
            props["quota_units"] = units
        props["billing_period"] = t[:7]
        event = {
            "event_id": eid,
            "event_type": "account.license",
            "schema_version": 1,
            "occurred_at": t,
            "source": "licensing",
            "subject": {"account_id": acc, "user_id": uid},
            "properties": props,
        }
        if act != 3:  # metering is reported by the backend, without a client
            event["context"] = {"ip": ip, "user_agent": ua, "session_id": sid}
        out[i] = event
