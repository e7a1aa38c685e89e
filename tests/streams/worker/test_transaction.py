"""The EOS example's error classes: retry, abort and rewind, or end the process."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from usage_pipeline.streams.worker import transaction
from usage_pipeline.streams.worker.transaction import FatalTransactionError, Transactions


class Producer:
    """A transactional producer whose commit fails as told, then succeeds."""

    def __init__(self, failures: list[KafkaError]) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def init_transactions(self, _timeout: float) -> None:
        self.calls.append("init")

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send_offsets_to_transaction(self, *_args: object) -> None:
        self.calls.append("send_offsets")

    def commit_transaction(self, _timeout: float) -> None:
        self.calls.append("commit")
        if self.failures:
            raise KafkaException(self.failures.pop(0))

    def abort_transaction(self, _timeout: float) -> None:
        self.calls.append("abort")


class Consumer:
    def consumer_group_metadata(self) -> object:
        return object()


def error(**kind: bool) -> KafkaError:
    return KafkaError(KafkaError._STATE, "test", **kind)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(transaction, "RETRY_PAUSE_S", 0.0)


def test_a_retriable_error_is_retried_and_the_transaction_commits():
    producer = Producer([error(retriable=True)])
    transactions = Transactions(producer, Consumer(), timeout_s=5)
    transactions.begin()
    assert transactions.commit([]) is True
    assert producer.calls.count("commit") == 2 and "abort" not in producer.calls


def test_an_abortable_error_aborts_and_says_so():
    producer = Producer([error(txn_requires_abort=True)])
    transactions = Transactions(producer, Consumer(), timeout_s=5)
    transactions.begin()
    assert transactions.commit([]) is False
    assert producer.calls[-1] == "abort" and not transactions.open


def test_a_fatal_error_ends_the_worker():
    producer = Producer([error(fatal=True)])
    transactions = Transactions(producer, Consumer(), timeout_s=5)
    transactions.begin()
    with pytest.raises(FatalTransactionError):
        transactions.commit([])


def test_an_error_retried_for_as_long_as_a_transaction_lives_ends_the_worker():
    producer = Producer([error(retriable=True)] * 1000)
    transactions = Transactions(producer, Consumer(), timeout_s=0.05)
    transactions.begin()
    with pytest.raises(FatalTransactionError, match="still failing"):
        transactions.commit([])


def test_nothing_to_commit_without_an_open_transaction():
    producer = Producer([])
    assert Transactions(producer, Consumer(), timeout_s=5).commit([]) is True
    assert producer.calls == ["init"]
