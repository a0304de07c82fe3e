"""The platform's own examples (tests/integrations/llzw/fixtures/README.md names each page):
our parser reads them, our error handling classifies them, and the sandbox answers in the same
shapes."""

import json
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from integrations.errors import PermanentError, TransientError
from integrations.llzw import mapping
from integrations.llzw.client import LlzwAdapter
from integrations.llzw.sandbox import ERROR_STATUS, STATUSES

from .support import login, make_account

FIXTURES = Path(__file__).parent / "fixtures"
ENTITY = json.loads((FIXTURES / "seed003_refund_entity.json").read_text(), parse_float=Decimal)
ENVELOPE = json.loads((FIXTURES / "docs_generals_envelope.json").read_text())
ERRORS = json.loads((FIXTURES / "source_error_bodies.json").read_text())
# Seed 003, the entity's `status` and the list's `status` parameter.
SEED_STATUSES = ("PROCESSING", "DENIED", "ISSUED", "CANCELLED", "REQUESTED", "WAITING")
# The example's date, "2019-10-1 3:00 PM GMT+1:00".
SEED_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2} (AM|PM) GMT[+-]\d{1,2}:\d{2}$")


def response(status: int, body: dict) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    return answer


def test_the_seed_entity_is_read_field_by_field():
    remote = mapping.remote_refund(ENTITY)

    assert (remote.external_id, remote.order_external_number, remote.status) == (
        "1",
        "5",
        "REQUESTED",
    )
    assert remote.amount == Decimal("500.0")
    assert (remote.reason, remote.requester) == ("I hate this product", "USERNAME_OF_REFUND_ISSUER")
    assert (remote.tracking_id, remote.carrier) == (
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "SF-Express",
    )
    assert (remote.refund_only, remote.response_reason, remote.idempotency_key) == (False, "", "")
    assert remote.created_at == remote.updated_at
    assert remote.created_at.isoformat() == "2019-10-01T15:00:00+01:00"


def test_the_seed_entity_changed_in_one_field_reads_differently():
    denied = mapping.remote_refund({**ENTITY, "status": "DENIED", "responseReason": "Worn"})

    assert (denied.status, denied.response_reason) == ("DENIED", "Worn")


def test_the_statuses_are_the_seeds():
    assert STATUSES == SEED_STATUSES
    assert mapping.STATUSES == SEED_STATUSES
    assert set(SEED_STATUSES) <= set(mapping.STATUS_MAP)


def test_the_sandbox_entity_has_the_seeds_fields_types_and_date_format(api):
    seller = login(api)
    created = seller.post(
        f"{api}/api/v2/refunds",
        json={"orderId": 1001, "reason": "I hate this product", "amount": 5, "refundOnly": False},
        timeout=5,
    ).json()
    alice = login(api, "alice@example.com", "customer-secret")
    shipped = alice.patch(
        f"{api}/api/v2/refunds/1",
        json={"action": "SHIP_INIT", "trackingId": "T1", "carrierName": "SF-Express"},
        timeout=5,
    ).json()["data"]

    assert list(created["data"]) == list(ENTITY)
    for field, example in ENTITY.items():
        if example is not None:
            assert type(shipped[field]) is type(example) or (
                isinstance(example, Decimal) and isinstance(shipped[field], int | float)
            ), field
    assert SEED_DATE.match(shipped["createdAt"])
    assert mapping.parse_date(shipped["createdAt"]) is not None


def test_the_published_envelope_is_a_success_and_the_sandbox_keeps_its_fields(api):
    adapter = LlzwAdapter(make_account(api))

    assert adapter._classify(response(200, ENVELOPE)) is None
    answer = requests.get(f"{api}/api/v2/refunds", cookies=login(api).cookies, timeout=5).json()
    assert {"responseId", "success", "data"} <= set(answer)
    assert uuid.UUID(answer["responseId"])
    assert answer["success"] is True


@pytest.mark.parametrize("example", ERRORS, ids=[e["body"]["error"]["type"] for e in ERRORS])
def test_every_error_body_of_the_platforms_source_is_classified(example):
    adapter = LlzwAdapter(make_account("http://127.0.0.1:9/llzw"))
    error_type = example["body"]["error"]["type"]

    error = adapter._classify(response(example["status"], example["body"]))

    kind, staff_message = mapping.ERROR_CODES[error_type]
    assert type(error) is (TransientError if kind == mapping.TRANSIENT else PermanentError)
    assert error.code == error_type
    assert error.message == f"{staff_message} LLZW says: {example['body']['error']['message']}"


def test_the_sandbox_answers_errors_with_the_sources_statuses_and_shape(api):
    by_type = {e["body"]["error"]["type"]: e for e in ERRORS}
    for error_type, status in ERROR_STATUS.items():
        assert by_type[error_type]["status"] == status, error_type

    answer = requests.get(f"{api}/api/v2/refunds/999", cookies=login(api).cookies, timeout=5)

    assert answer.status_code == 404
    assert set(answer.json()) == set(by_type["API.ENTITY_NOT_FOUND"]["body"])
    assert answer.json()["error"] == {
        "type": "API.ENTITY_NOT_FOUND",
        "message": "Refund 999 not found",
    }
