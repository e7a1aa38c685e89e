"""The stream worker: an exactly-once read-process-write loop on Kafka transactions.

``run.py`` wires one process; ``loop.py`` is the loop; ``transaction.py`` commits outputs
and offsets together; ``ordering.py`` holds events until their consent is read;
``consent_store.py`` keeps consent per partition; ``salt_log.py`` shares visitor salts;
``health.py`` serves /healthz and /metrics; ``processes.py`` runs several workers.
"""
