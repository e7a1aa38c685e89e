"""The stream tests' namespace fixture, for the subject commands' end-to-end tests."""

from tests.streams.conftest import stream_env  # noqa: F401 - the fixture
