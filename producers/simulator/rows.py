"""The row table: one row of integers per event, from its drawing until its dict is built."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Event kinds of the internal row table
(
    K_TRAFFIC,
    K_FEATURE,
    K_MEDIA,
    K_LICENSE,
    K_TICKET_OPEN,
    K_TICKET_CLOSE,
    K_CONSENT,
    K_MAIL_SENT,
    K_MAIL_DELIVERED,
    K_MAIL_BOUNCED_HARD,
    K_MAIL_BOUNCED_SOFT,
    K_MAIL_COMPLAINED,
    K_MAIL_OPENED,
    K_MAIL_CLICKED,
    K_MAIL_UNSUBSCRIBED,
) = range(15)


@dataclass(eq=False)
class _Rows:
    """Columns of events not yet built: time, kind, user, device, session and two parameters.

    ``a`` and ``b`` depend on the kind: traffic ``a`` = -1 (a person browsing), -2 (a crawler)
    or the campaign of a landing page (``b`` = its send time); tickets ``a`` = ticket number,
    ``b`` = packed attributes; e-mail ``a`` = campaign, ``b`` = send time; consent ``a`` =
    purpose * 100 + status * 10 + source.
    """

    t: np.ndarray
    kind: np.ndarray
    user: np.ndarray
    dev: np.ndarray
    sess: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @classmethod
    def make(
        cls,
        t: np.ndarray,
        kind: np.ndarray | int,
        user: np.ndarray | int,
        dev: np.ndarray | int = -1,
        sess: np.ndarray | int = -1,
        a: np.ndarray | int = -1,
        b: np.ndarray | int = 0,
    ) -> _Rows:
        """Rows at times ``t``; every other column per row, or one value for all rows."""
        n = len(t)

        def col(x: np.ndarray | int) -> np.ndarray:
            if isinstance(x, np.ndarray):
                return x if x.dtype == np.int64 else x.astype(np.int64)
            return np.full(n, x, dtype=np.int64)

        return cls(col(t), col(kind), col(user), col(dev), col(sess), col(a), col(b))

    @classmethod
    def empty(cls) -> _Rows:
        """No rows."""
        return cls.make(np.empty(0, np.int64), 0, 0)

    @classmethod
    def concat(cls, parts: list[_Rows]) -> _Rows:
        """The rows of ``parts``, one part after the other."""
        parts = [p for p in parts if len(p.t)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.user for p in parts]),
            np.concatenate([p.dev for p in parts]),
            np.concatenate([p.sess for p in parts]),
            np.concatenate([p.a for p in parts]),
            np.concatenate([p.b for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray | slice) -> _Rows:
        """The rows at ``index``: a mask, indices or a slice."""
        return _Rows(
            self.t[index],
            self.kind[index],
            self.user[index],
            self.dev[index],
            self.sess[index],
            self.a[index],
            self.b[index],
        )

    def split(self, t_ms: int) -> tuple[_Rows, _Rows]:
        """(rows before ``t_ms``, the rest)."""
        before = self.t < t_ms
        if before.all():
            return self, _Rows.empty()
        return self.take(before), self.take(~before)

    def sorted(self) -> _Rows:
        """By time; at equal times consent first, then in creation order."""
        key = self.t * 2 + (self.kind != K_CONSENT)
        return self.take(np.argsort(key, kind="stable"))
