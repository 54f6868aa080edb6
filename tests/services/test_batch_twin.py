"""batch_recent_twin: the batch a user just created from the same input.
Fingerprinting reads every row (a whole uploaded file), so it is skipped when
the user created no batch to compare with."""

import pytest

from retry_admin.services.batches import RecipientRow, batch_create, batch_recent_twin

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
