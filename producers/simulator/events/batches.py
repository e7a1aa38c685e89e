"""The event dicts of a chunk's sorted rows, a batch at a time, each type by its own builder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np

from usage_pipeline.producers.simulator.catalog import ANONYMOUS_ACCOUNT, USER_AGENTS
from usage_pipeline.producers.simulator.events.columns import _Columns
from usage_pipeline.producers.simulator.events.consent import _prepare_consent
from usage_pipeline.producers.simulator.events.email import _prepare_mail
from usage_pipeline.producers.simulator.events.features import _prepare_feature
from usage_pipeline.producers.simulator.events.licenses import _prepare_license
from usage_pipeline.producers.simulator.events.media import _prepare_media
from usage_pipeline.producers.simulator.events.tickets import _prepare_ticket
from usage_pipeline.producers.simulator.events.traffic import _prepare_traffic
from usage_pipeline.producers.simulator.formatting import _hex_strings, _timestamps, _uuid4_strings
from usage_pipeline.producers.simulator.hashing import _mix64
from usage_pipeline.producers.simulator.rows import (
    K_CONSENT,
    K_FEATURE,
    K_LICENSE,
    K_MAIL_SENT,
    K_MAIL_UNSUBSCRIBED,
    K_MEDIA,
    K_TICKET_CLOSE,
    K_TICKET_OPEN,
    K_TRAFFIC,
    _Rows,
)
from usage_pipeline.producers.simulator.run import _Run

# Row kinds built by the same code, and that code, in the order it runs (and draws).
_FAMILIES: Final = (
    ((K_TRAFFIC,), _prepare_traffic),
    ((K_FEATURE,), _prepare_feature),
    ((K_MEDIA,), _prepare_media),
    ((K_LICENSE,), _prepare_license),
    ((K_TICKET_OPEN, K_TICKET_CLOSE), _prepare_ticket),
    ((K_CONSENT,), _prepare_consent),
    (tuple(range(K_MAIL_SENT, K_MAIL_UNSUBSCRIBED + 1)), _prepare_mail),
)
_FAMILY_OF_KIND: Final = np.array([f for f, (kinds, _) in enumerate(_FAMILIES) for _ in kinds])
_BATCH: Final = 512


class _EventBuilder:
    """Builds the event dicts of a run's rows."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        pop = run.pop
        # Lookup arrays indexed by user; index -1 (crawlers) hits the sentinel at the end.
        self.u_account = np.append(pop.account_ids[pop.user_account], ANONYMOUS_ACCOUNT)
        self.u_user = np.append(pop.user_ids, None)
        self.u_email = np.append(pop.user_emails, None)
        self.ua = np.array(USER_AGENTS, dtype=object)[pop.device_ua]

    def batches(self, rows: _Rows) -> Iterator[list[dict[str, Any]]]:
        """The event dicts of sorted rows, in batches of ``_BATCH`` consecutive events."""
        n = len(rows)
        if n == 0:
            return
        run = self.run
        family = _FAMILY_OF_KIND[rows.kind]
        order = np.argsort(family, kind="stable")  # by family, then in time order
        r = rows.take(order)
        bounds = np.searchsorted(family[order], np.arange(len(_FAMILIES) + 1)).tolist()
        user, dev = r.user, r.dev
        cols = _Columns(
            slot=(order % _BATCH).tolist(),
            ids=_uuid4_strings(run.ids, n),
            ts=_timestamps(r.t),
            account=self.u_account[user].tolist(),
            user=self.u_user[user].tolist(),
            email=self.u_email[user].tolist(),
            ip=run.pop.device_ips[dev].tolist(),
            ua=self.ua[dev].tolist(),
            session=self._session_ids(r.sess),
        )
        batch_starts = np.arange(0, n + _BATCH, _BATCH)
        families: list[tuple[Any, list[list[Any]], list[int]]] = []
        for f, (_, prepare) in enumerate(_FAMILIES):
            lo, hi = bounds[f], bounds[f + 1]
            if hi > lo:
                loop, columns = prepare(run, r.take(slice(lo, hi)), cols, lo, hi)
                cuts = np.searchsorted(order[lo:hi], batch_starts).tolist()
                families.append((loop, columns, cuts))
        for b in range(len(batch_starts) - 1):
            out: list[Any] = [None] * (min(n, (b + 1) * _BATCH) - b * _BATCH)
            for loop, columns, cuts in families:
                j0, j1 = cuts[b], cuts[b + 1]
                if j1 > j0:
                    loop(out, *[column[j0:j1] for column in columns])
            yield out

    def _session_ids(self, sess: np.ndarray) -> list[str | None]:
        """``sess_`` + 12 hex digits per session number (None for rows without a session)."""
        unique, inverse = np.unique(sess, return_inverse=True)
        names = np.array(_hex_strings(_mix64(unique ^ self.run.salt), 12, "sess_"), dtype=object)
        names[unique < 0] = None
        return names[inverse].tolist()
