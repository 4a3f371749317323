import pytest

from tests.actions.oauth_support import start_fake_provider


@pytest.fixture(scope="module")
def fake_server():
    """A fake OAuth provider on 127.0.0.1, one per test module: stopping one waits half a
    second for its serving thread."""
    server = start_fake_provider()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    """The module's fake provider, with no recorded requests or scripted answers left over."""
    fake_server.clear()
    yield fake_server
    fake_server.clear()
