"""Child workers of `usage-pipeline stream --processes N`: each its own instance and port."""

from __future__ import annotations

from usage_pipeline.streams.worker.processes import PREFIX, child_env, child_metrics_port


def test_each_child_worker_gets_its_own_instance_id_and_metrics_port():
    envs = [child_env("host-a", index, 9400) for index in range(3)]
    assert [env[f"{PREFIX}INSTANCE_ID"] for env in envs] == ["host-a-0", "host-a-1", "host-a-2"]
    ports = [int(env[f"{PREFIX}METRICS_PORT"]) for env in envs]
    assert ports == [child_metrics_port(9400, index) for index in range(3)] == [9400, 9401, 9402]
    assert all(env[f"{PREFIX}PROCESSES"] == "1" for env in envs)


def test_children_serve_no_metrics_when_none_is_configured():
    assert f"{PREFIX}METRICS_PORT" not in child_env("host-a", 1, None)
