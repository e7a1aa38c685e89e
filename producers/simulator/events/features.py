"""``usage.feature_used`` events: what people do in the five applications, and how long."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from usage_pipeline.producers.simulator.draws import _pick_cum
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run

# (service, feature, typical duration in ms, relative frequency)
_FEATURES: Final = (
    ("broadcast-studio", "stream.start", 2_400, 5.0),
    ("broadcast-studio", "stream.stop", 900, 4.5),
    ("broadcast-studio", "schedule.create", 700, 3.0),
    ("broadcast-studio", "schedule.edit", 500, 2.5),
    ("broadcast-studio", "overlay.add", 300, 2.0),
    ("broadcast-studio", "recording.export", 45_000, 1.5),
    ("broadcast-studio", "encoder.configure", 1_200, 1.0),
    ("broadcast-studio", "multistream.enable", 800, 0.6),
    ("campaign-manager", "campaign.create", 1_500, 3.0),
    ("campaign-manager", "campaign.edit", 600, 4.0),
    ("campaign-manager", "campaign.schedule", 400, 2.5),
    ("campaign-manager", "audience.segment_create", 3_500, 1.5),
    ("campaign-manager", "creative.upload", 8_000, 2.0),
    ("campaign-manager", "ab_test.create", 900, 0.8),
    ("campaign-manager", "report.export_csv", 6_000, 1.2),
    ("campaign-manager", "budget.update", 300, 0.9),
    ("media-library", "asset.upload", 25_000, 4.0),
    ("media-library", "asset.search", 180, 8.0),
    ("media-library", "asset.transcode", 90_000, 2.0),
    ("media-library", "asset.share_link", 150, 2.5),
    ("media-library", "playlist.create", 400, 1.2),
    ("media-library", "asset.tag", 120, 3.0),
    ("media-library", "asset.delete", 200, 0.8),
    ("media-library", "caption.generate", 60_000, 0.7),
    ("analytics-dashboard", "dashboard.view", 850, 9.0),
    ("analytics-dashboard", "report.run", 4_200, 4.0),
    ("analytics-dashboard", "report.export_csv", 5_500, 1.5),
    ("analytics-dashboard", "report.schedule", 350, 0.6),
    ("analytics-dashboard", "filter.apply", 400, 5.0),
    ("analytics-dashboard", "cohort.compare", 2_800, 0.8),
    ("analytics-dashboard", "alert.create", 300, 0.5),
    ("account-portal", "login", 250, 7.0),
    ("account-portal", "logout", 80, 2.0),
    ("account-portal", "password.change", 400, 0.4),
    ("account-portal", "mfa.enable", 600, 0.2),
    ("account-portal", "billing.view_invoice", 500, 0.8),
    ("account-portal", "seat.invite", 700, 0.5),
    ("account-portal", "api_key.create", 300, 0.3),
    ("account-portal", "profile.update", 350, 0.6),
    ("account-portal", "privacy.preferences_view", 300, 0.3),
)
# Services whose events name the user's e-mail in the subject (they act on the account).
_SERVICES_WITH_EMAIL: Final = frozenset({"account-portal", "campaign-manager"})
_FEATURE_SERVICE: Final = np.array([f[0] for f in _FEATURES], dtype=object)
_FEATURE_NAME: Final = np.array([f[1] for f in _FEATURES], dtype=object)
_FEATURE_SOURCE: Final = np.array([f"{f[0]}-api" for f in _FEATURES], dtype=object)
_FEATURE_MEDIAN: Final = np.array([float(f[2]) for f in _FEATURES])
_FEATURE_CUM: Final = np.cumsum([f[3] for f in _FEATURES])
_FEATURE_EMAIL: Final = np.array([f[0] in _SERVICES_WITH_EMAIL for f in _FEATURES])


def _prepare_feature(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """Feature-use rows: which feature, how long it took, the e-mail for some services."""
    rng = run.rng
    n = hi - lo
    feature = _pick_cum(rng, _FEATURE_CUM, n)
    duration = np.rint(_FEATURE_MEDIAN[feature] * np.exp(0.9 * rng.standard_normal(n)))
    duration = np.where(rng.random(n) < 0.12, -1, duration).astype(np.int64)
    emails = np.where(_FEATURE_EMAIL[feature], np.array(c.email[lo:hi], dtype=object), None)
    return _feature_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        _FEATURE_SOURCE[feature].tolist(),
        c.account[lo:hi],
        c.user[lo:hi],
        emails.tolist(),
        c.ip[lo:hi],
        c.ua[lo:hi],
        c.session[lo:hi],
        _FEATURE_SERVICE[feature].tolist(),
        _FEATURE_NAME[feature].tolist(),
        duration.tolist(),
    ]


def _feature_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, src, acc, uid, em, ip, ua, sid, service, feature, ms in zip(
        *columns, strict=True
    ):
        out[i] = {
            "event_id": eid,
            "event_type": "usage.feature_used",
            "schema_version": 1,
            "occurred_at": t,
            "source": src,
            "subject": {"account_id": acc, "user_id": uid, "email": em}
            if em is not None
            else {"account_id": acc, "user_id": uid},
            "context": {"ip": ip, "user_agent": ua, "session_id": sid},
            "properties": {"service": service, "feature": feature, "duration_ms": ms}
            if ms >= 0
            else {"service": service, "feature": feature},
        }
