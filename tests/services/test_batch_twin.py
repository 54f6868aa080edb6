"""batch_recent_twin: the batch a user just created from the same input.
Fingerprinting reads every row (a whole uploaded file), so it is skipped when
the user created no batch to compare with."""

import hashlib
import json

import pytest

from retry_admin.services.batches import (
    LineError,
    RecipientRow,
    _fingerprint,
    batch_create,
    batch_recent_twin,
)

pytestmark = pytest.mark.django_db


def _rows():
    return [RecipientRow(1, "ada@example.com", {"name": "Ada"})]


def _unreadable():
    raise AssertionError("the rows were read")
    yield


def _twin(user, template, rows):
    return batch_recent_twin(
        user=user,
        name="Spring",
        template=template,
        channel="log",
        recipients=rows,
        within_seconds=60,
    )


def test_it_reads_no_row_when_the_user_created_no_batch_lately(super_admin, template):
    assert _twin(super_admin, template, _unreadable()) is None


def test_it_finds_the_batch_created_from_the_same_input(super_admin, template):
    batch = batch_create(
        name="Spring",
        template=template,
        recipients=_rows(),
        user=super_admin,
        idempotency_key="first",
    ).batch
    assert _twin(super_admin, template, _rows()) == batch
    other = [RecipientRow(1, "grace@example.com", {"name": "Grace"})]
    assert _twin(super_admin, template, other) is None


def test_a_fingerprint_is_the_hash_kept_on_earlier_batches(template):
    """Fingerprints are compared with those stored on batches: the hash of
    the request's head, then of each parsed row as json.dumps wrote it."""
    rows = [
        RecipientRow(1, "ada@example.com", {"name": "Ada", "code": 7, "b": None}),
        LineError(2, "cannot be read as CSV"),
        RecipientRow(3, "Zoë <z@example.com>", {"name": "Zoë"}),
        RecipientRow(4, "bare@example.com"),
    ]
    expected = hashlib.sha256()
    expected.update(json.dumps(["Spring", template.pk, "log", 0], ensure_ascii=False).encode())
    for row in (rows[0], rows[2]):
        item = [row.recipient, dict(row.context)]
        expected.update(json.dumps(item, sort_keys=True, ensure_ascii=False, default=str).encode())
    expected.update(json.dumps(["bare@example.com", {}]).encode())

    assert _fingerprint(" Spring ", template, "log", 0, rows) == expected.hexdigest()
