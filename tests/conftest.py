import pytest

from tests import factories

pytest_plugins = ["tests.fixtures.pipeline"]


@pytest.fixture(autouse=True)
def _no_search_memos(monkeypatch):
    """Each test starts with refunds.filters' per-process memo (whether a search is broad)
    empty, so what a request reads does not depend on the tests run before it."""
    from refunds import filters

    monkeypatch.setattr(filters, "_BROAD", {})


@pytest.fixture
def agent(db):
    return factories.agent(username="agent1@example.com")


@pytest.fixture
def agent2(db):
    return factories.agent(username="agent2@example.com")


@pytest.fixture
def manager(db):
    return factories.manager(username="manager1@example.com")


@pytest.fixture
def customer_user(db):
    return factories.UserFactory(username="alice@example.com")


@pytest.fixture
def order(db, customer_user):
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    return factories.make_order(
        customer=customer,
        lines=((2, "10.00", "0.00", "0.00"), (3, "9.99", "1.00", "0.50"), (1, "100.00", "0", "0")),
    )
