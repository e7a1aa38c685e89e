"""The settings resolved into what each stage takes: clusters per role, the local broker, names.

Only the edge (the CLI, a service's entry point, tests and benches) holds the root
``Settings``; what it hands a stage is resolved here, once, so that no room imports the root.
"""

from __future__ import annotations

from usage_pipeline.broker.acls import AclNames, apply_acls, pipeline_acls
from usage_pipeline.broker.config import LocalRole
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.broker.security import Cluster
from usage_pipeline.settings import Settings
from usage_pipeline.subjects.stores import Stores


def local_broker(settings: Settings) -> LocalBroker:
    """The development broker that belongs to these settings' home folder."""
    return LocalBroker(settings.local_broker, settings.home)


def cluster_address(settings: Settings) -> str:
    """The configured cluster if there is one, else the local broker's address."""
    return settings.kafka.bootstrap_servers or local_broker(settings).bootstrap_servers


def client_cluster(settings: Settings, role: LocalRole) -> Cluster:
    """How a client acting as ``role`` connects.

    A configured cluster is reached with ``settings.kafka``'s own login whatever the role
    (each deployed service has one user); the local broker gives each role its user.
    """
    if settings.kafka.bootstrap_servers:
        return settings.kafka
    return local_broker(settings).client(role)


def acl_names(settings: Settings) -> AclNames:
    """The groups the ACL table grants, in the settings' namespace."""
    stores = subject_stores(settings)
    return AclNames(stores.namespace, stores.stream_group, stores.sink_group)


def secure_local_broker(settings: Settings) -> None:
    """Apply the ACL table to the local broker when it runs with SASL/SCRAM (else nothing)."""
    broker = local_broker(settings)
    if broker.secured:
        bindings = pipeline_acls(acl_names(settings), settings.local_broker.users)
        apply_acls(broker.client("admin"), bindings)


def subject_stores(settings: Settings) -> Stores:
    """Where the settings' pipeline keeps data, for the subject commands."""
    namespace = settings.topics.namespace
    return Stores(
        namespace=namespace,
        lake_dir=settings.sink.lake_dir,
        database=settings.aggregate.database,
        k=settings.aggregate.k,
        stream_group=namespace + settings.stream.app_id,
        sink_group=namespace + settings.sink.group_id,
        client_id=settings.kafka.client_id,
        producer=settings.producer,
    )
