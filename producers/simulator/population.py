"""The simulated customers (``Population``): accounts, users, devices, e-mail, consent answers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.catalog import (
    _BOT_UA_INDEX,
    _CONSUMER_DOMAIN_P,
    _CONSUMER_DOMAINS,
    _CORP_DOMAINS,
    _DESKTOP_UAS,
    _DOMAINS,
    _FIRST_NAMES,
    _ISP_DOMAINS,
    _LAST_NAMES,
    _MOBILE_UAS,
    _N_BOT_DEVICES,
    _N_DESKTOP,
    _PRODUCTS,
    _SEGMENT_ACTIVITY,
    _SEGMENTS,
    _TV_UA_INDEX,
)
from usage_pipeline.producers.simulator.config import DAY_MS, SimulationConfig
from usage_pipeline.producers.simulator.draws import _pick, _rng, _unique_ints
from usage_pipeline.producers.simulator.formatting import _ascii_rows
from usage_pipeline.producers.simulator.timeline import _GROWTH

# Initial answers per purpose: P(granted), P(withdrawn); the rest never answered.
_INITIAL_CONSENT: Final = ((0.70, 0.10), (0.45, 0.25), (0.25, 0.35))
_LATER_MARKETING_WITHDRAWAL: Final = 0.017  # of all users, via the preference center
_LATER_PARTNER_WITHDRAWAL: Final = 0.01
_LATER_ANALYTICS_GRANT: Final = 0.01


@dataclass(frozen=True, eq=False)
class Population:
    """The simulated customers: accounts, their users, devices, e-mail and consent answers."""

    account_ids: np.ndarray  # object: "acct_12345"
    account_segment: np.ndarray  # index into _SEGMENTS
    account_license_ids: np.ndarray  # object
    account_products: np.ndarray  # object
    account_seats: np.ndarray  # licensed seats
    account_first_user: np.ndarray  # users of an account are contiguous; the first is its owner
    user_account: np.ndarray
    user_ids: np.ndarray  # object: "usr_k2m9q7f3"
    user_emails: np.ndarray  # object
    user_domain: np.ndarray  # index into _DOMAINS
    user_weight: np.ndarray  # relative activity
    user_activation_ms: np.ndarray  # signup time; the start of the period for existing users
    user_device_start: np.ndarray  # first device of the user in the device arrays
    user_device_count: np.ndarray
    device_ips: np.ndarray  # object; crawler devices come last
    device_ua: np.ndarray  # index into USER_AGENTS
    consent_initial: np.ndarray  # (users, 3 purposes): -1 never answered, 0 withdrawn, 1 granted
    later_marketing_withdrawal: np.ndarray  # bool, through the preference center
    later_partner_withdrawal: np.ndarray
    later_analytics_grant: np.ndarray

    @property
    def users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def accounts(self) -> int:
        """Number of accounts."""
        return len(self.account_ids)


def population(config: SimulationConfig) -> Population:
    """Draw the accounts, users (about events/50), devices and consent answers of a run."""
    rng = _rng(config.seed, 0)
    users = max(8, config.events // 50)
    size, segment = _account_sizes(rng, users)
    accounts = len(size)
    user_account = np.repeat(np.arange(accounts), size)
    account_first_user = np.concatenate([[0], np.cumsum(size)[:-1]])

    account_numbers = _unique_ints(rng, accounts, 10_000, max(100_000, 20 * accounts))
    account_ids = np.array([f"acct_{x}" for x in account_numbers.tolist()], dtype=object)
    year = config.until.year
    account_license_ids = np.array(
        [f"lic_{year}_{x:05d}" for x in _unique_ints(rng, accounts, 1, 100_000).tolist()],
        dtype=object,
    )
    products = [
        _PRODUCTS[s][p % len(_PRODUCTS[s])]
        for s, p in zip(segment.tolist(), rng.integers(0, 6, size=accounts).tolist(), strict=True)
    ]
    account_products = np.array(products, dtype=object)
    account_seats = size + np.rint(size * rng.uniform(0.0, 0.3, size=accounts)).astype(np.int64)

    # Users: ids, e-mail addresses on ~12 domains (company accounts share a corporate domain).
    user_ids = _user_ids(rng, users)

    account_domain = np.where(
        segment == 2,
        _CORP_DOMAINS[rng.integers(0, 3, size=accounts)],
        np.where(segment == 3, _ISP_DOMAINS[rng.integers(0, 2, size=accounts)], -1),
    )
    user_domain = account_domain[user_account]
    personal = user_domain < 0
    user_domain[personal] = _CONSUMER_DOMAINS[_pick(rng, _CONSUMER_DOMAIN_P, int(personal.sum()))]
    user_emails = _email_addresses(rng, user_domain)

    # Activity: heavy-tailed per user; company users a bit busier.
    user_weight = rng.lognormal(0.0, 1.1, size=users) * _SEGMENT_ACTIVITY[segment[user_account]]
    # 75% of the users exist when the period starts; the rest sign up during it, more later on.
    start, span = config.start_ms, config.days * DAY_MS
    new = rng.random(users) < 0.25
    new[account_first_user] &= rng.random(accounts) < 0.25  # most owners predate the period
    u = rng.random(users)
    a = _GROWTH * 2
    frac = (np.sqrt(1 + 2 * a * u * (1 + a / 2)) - 1) / a
    user_activation_ms = np.where(new, start + (frac * span).astype(np.int64), start)

    # Devices: 1-3 per user, each an IP and a user agent.
    count, device_start, device_ips, device_ua = _devices(rng, segment, user_account)

    # Consent answers given at signup, and the changes some users make later.
    consent, later_marketing, later_partner, later_analytics = _consent_answers(rng, users)

    return Population(
        account_ids=account_ids,
        account_segment=segment,
        account_license_ids=account_license_ids,
        account_products=account_products,
        account_seats=account_seats,
        account_first_user=account_first_user,
        user_account=user_account,
        user_ids=user_ids,
        user_emails=user_emails,
        user_domain=user_domain,
        user_weight=user_weight,
        user_activation_ms=user_activation_ms,
        user_device_start=device_start,
        user_device_count=count,
        device_ips=device_ips,
        device_ua=device_ua,
        consent_initial=consent,
        later_marketing_withdrawal=later_marketing,
        later_partner_withdrawal=later_partner,
        later_analytics_grant=later_analytics,
    )


def _account_sizes(rng: np.random.Generator, users: int) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed account sizes summing to ``users``, and each account's segment."""
    sizes: list[np.ndarray] = []
    segments: list[np.ndarray] = []
    total = 0
    while total < users:
        batch = max(64, (users - total) // 8)
        seg = _pick(rng, np.array([p for _, p in _SEGMENTS]), batch)
        size = np.ones(batch, dtype=np.int64)
        small = seg == 1
        size[small] = np.minimum(1 + rng.geometric(0.35, int(small.sum())), 12)
        big = seg == 2
        size[big] = np.clip(np.rint(rng.lognormal(3.2, 1.0, int(big.sum()))), 10, 900)
        isp = seg == 3
        size[isp] = np.clip(np.rint(rng.lognormal(3.8, 0.8, int(isp.sum()))), 15, 600)
        sizes.append(size)
        segments.append(seg)
        total += int(size.sum())
    size = np.concatenate(sizes)
    seg = np.concatenate(segments)
    cut = int(np.searchsorted(np.cumsum(size), users)) + 1
    size, seg = size[:cut].copy(), seg[:cut]
    size[-1] -= int(size.sum()) - users
    return size, seg


def _ipv4(a: np.ndarray) -> list[str]:
    """Dotted-quad text of IPv4 addresses given as integers."""
    return [f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in a.tolist()]


def _device_ips(rng: np.random.Generator, n: int, network: np.ndarray) -> list[str]:
    """IP addresses: network 0 = 10.0.0.0/8, 1 = 100.64.0.0/10, 2 = 198.51.100.0/24, 3 = v6."""
    raw = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.int64)
    base = np.array([10 << 24, (100 << 24) | (64 << 16), (198 << 24) | (51 << 16) | (100 << 8), 0])
    size = np.array([1 << 24, 1 << 22, 1 << 8, 1])
    v4 = base[network] + raw % size[network]
    host = v4 & 255
    v4 = np.where((host == 0) | (host == 255), v4 - host + 1 + raw % 250, v4)
    ips = _ipv4(v4)
    v6 = np.flatnonzero(network == 3)
    words = rng.integers(0, 2**16, size=(len(v6), 6)).tolist()
    for i, w in zip(v6.tolist(), words, strict=True):
        # 2001:db8:<site>:<subnet>::<host>, sometimes a full SLAAC-like interface id
        if w[5] % 3:
            ips[i] = str(ipaddress.IPv6Address(f"2001:db8:{w[0]:x}:{w[1]:x}::{w[2]:x}"))
        else:
            ips[i] = str(
                ipaddress.IPv6Address(
                    f"2001:db8:{w[0]:x}:{w[1]:x}:{w[2]:x}:{w[3]:x}:{w[4]:x}:{w[5]:x}"
                )
            )
    return ips


def _user_ids(rng: np.random.Generator, users: int) -> np.ndarray:
    """Distinct ids: ``usr_`` and 8 base-36 digits."""
    alphabet = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    id_numbers = _unique_ints(rng, users, 0, 36**8)
    digits = np.empty((users, 12), dtype=np.uint8)
    digits[:, :4] = np.frombuffer(b"usr_", dtype=np.uint8)
    rest = id_numbers.copy()
    for k in range(11, 3, -1):
        digits[:, k] = alphabet[rest % 36]
        rest //= 36
    return np.array(_ascii_rows(digits), dtype=object)


def _email_addresses(rng: np.random.Generator, user_domain: np.ndarray) -> np.ndarray:
    """Distinct addresses made of first and last names, on each user's mail domain."""
    users = len(user_domain)
    first = rng.integers(0, len(_FIRST_NAMES), size=users).tolist()
    last = rng.integers(0, len(_LAST_NAMES), size=users).tolist()
    style = rng.integers(0, 6, size=users).tolist()
    number = rng.integers(1, 100, size=users).tolist()
    emails: list[str] = []
    taken: set[str] = set()
    for i in range(users):
        f, la = _FIRST_NAMES[first[i]], _LAST_NAMES[last[i]]
        local = (
            f"{f}.{la}",
            f"{f}.{la}",
            f"{f[0]}{la}",
            f"{f}_{la}{number[i]}",
            f"{f}{number[i]}",
            f"{la}.{f}",
        )[style[i]]
        address = f"{local}@{_DOMAINS[int(user_domain[i])][0]}"
        extra = 1
        while address in taken:
            extra += 1
            address = f"{local}{extra}@{_DOMAINS[int(user_domain[i])][0]}"
        taken.add(address)
        emails.append(address)
    return np.array(emails, dtype=object)


def _devices(
    rng: np.random.Generator, segment: np.ndarray, user_account: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per user: device count and first device; per device: IP, user agent (crawlers last)."""
    users, accounts = len(user_account), len(segment)
    count = 1 + _pick(rng, np.array([0.50, 0.35, 0.15]), users)
    device_start = np.concatenate([[0], np.cumsum(count)[:-1]])
    devices = int(count.sum())
    device_user = np.repeat(np.arange(users), count)
    device_rank = np.arange(devices) - device_start[device_user]
    kind = _pick(rng, np.array([0.62, 0.35, 0.03]), devices)  # desktop, mobile, tv
    kind[device_rank == 0] = np.where(rng.random(users) < 0.8, 0, 1)
    ua = np.where(
        kind == 0,
        _pick(rng, np.array([p for _, p in _DESKTOP_UAS]), devices),
        np.where(
            kind == 1,
            _N_DESKTOP + _pick(rng, np.array([p for _, p in _MOBILE_UAS]), devices),
            _TV_UA_INDEX,
        ),
    )
    dev_segment = segment[user_account[device_user]]
    network = np.where(kind == 1, 1, np.where(rng.random(devices) < 0.5, 2, 1))
    network = np.where((dev_segment >= 2) & (kind == 0), 0, network)
    network = np.where(rng.random(devices) < 0.12, 3, network)
    ips = _device_ips(rng, devices, network)
    # Desktop devices of company users leave through the account's office address.
    office = _device_ips(rng, accounts, np.where(rng.random(accounts) < 0.10, 3, 0))
    shared = np.flatnonzero((dev_segment >= 2) & (kind == 0) & (network == 0))
    for i in shared.tolist():
        ips[i] = office[int(user_account[device_user[i]])]
    bots = [f"203.0.113.{x}" for x in rng.integers(1, 255, size=_N_BOT_DEVICES).tolist()]
    device_ips = np.array(ips + bots, dtype=object)
    device_ua = np.concatenate([ua, np.full(_N_BOT_DEVICES, _BOT_UA_INDEX)])
    return count, device_start, device_ips, device_ua


def _consent_answers(
    rng: np.random.Generator, users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers per user and purpose at signup; who withdraws or grants later in the period."""
    consent = np.full((users, 3), -1, dtype=np.int8)
    for purpose, (granted, withdrawn) in enumerate(_INITIAL_CONSENT):
        r = rng.random(users)
        consent[r < granted + withdrawn, purpose] = 0
        consent[r < granted, purpose] = 1
    r = rng.random((users, 3))
    later_marketing = (consent[:, 1] == 1) & (r[:, 0] < _LATER_MARKETING_WITHDRAWAL / 0.45)
    later_partner = (consent[:, 2] == 1) & (r[:, 1] < _LATER_PARTNER_WITHDRAWAL / 0.25)
    later_analytics = (consent[:, 0] != 1) & (r[:, 2] < _LATER_ANALYTICS_GRANT / 0.30)
    return consent, later_marketing, later_partner, later_analytics
