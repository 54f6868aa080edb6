"""A CSV upload is read a line at a time from Django's temporary file, never
whole: the memory a submit uses does not grow with the file."""

import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from retry_admin.models import Batch, MessageLog
from retry_admin.services import batch_writer
from retry_admin.web import batches as batch_views
from tests.web.conftest import batch_form

pytestmark = pytest.mark.django_db


def _csv(count: int, prefix: str, *, bad_line: int | None = None) -> bytes:
    lines = ["recipient,name"]
    for i in range(count):
        lines.append(f"{prefix}{i}@example.com,Name {i}")
    if bad_line is not None:
        lines[bad_line - 1] = "only-one-value"
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def measured(monkeypatch, settings):
    """Peak memory the batch form's view adds while it handles the upload
    (from the moment it reads the form: the request body Django's test
    client holds in memory is not the view's)."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024  # to disk, as a large file would go
    monkeypatch.setattr(batch_writer, "CHUNK_ROWS", 500)
    growth: list[int] = []
    base: list[int] = []

    class Measured(batch_views.BatchForm):
        def __init__(self, data=None, files=None, **kwargs):
            if files is not None:
                assert isinstance(files["csv_file"], TemporaryUploadedFile)
                tracemalloc.reset_peak()
                base.append(tracemalloc.get_traced_memory()[0])
            super().__init__(data, files, **kwargs)

    monkeypatch.setattr(batch_views, "BatchForm", Measured)

    def post(client, template, content: bytes):
        upload = SimpleUploadedFile("r.csv", content, content_type="text/csv")
        tracemalloc.start()
        try:
            response = client.post("/batches/new/", batch_form(template, csv_file=upload))
            growth.append(tracemalloc.get_traced_memory()[1] - base[-1])
        finally:
            tracemalloc.stop()
        return response

    post.growth = growth
    return post


def test_a_large_upload_is_streamed_not_read_whole(super_client, template, measured):
    small = measured(super_client, template, _csv(1_000, "s"))
    large = measured(super_client, template, _csv(10_000, "l"))

    assert (small.status_code, large.status_code) == (302, 302)
    assert list(Batch.objects.order_by("id").values_list("total", flat=True)) == [1_000, 10_000]
    assert MessageLog.objects.count() == 11_000
    small_growth, large_growth = measured.growth
    assert large_growth < 1.5 * small_growth, measured.growth


def test_a_bad_line_deep_in_a_large_upload_is_shown_and_nothing_is_created(
    super_client, template, measured
):
    response = measured(super_client, template, _csv(10_000, "b", bad_line=9_000))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Line 9,000</span> has 1 value but the header names 2 columns" in html
    assert "<code>only-one-value</code>" in html
    assert Batch.objects.count() == MessageLog.objects.count() == 0


def test_a_file_that_stops_being_utf8_deep_inside_names_the_byte(super_client, template):
    content = _csv(5_000, "u") + b"caf\xe9@example.com,x\n"

    response = super_client.post(
        "/batches/new/",
        batch_form(template, csv_file=SimpleUploadedFile("r.csv", content)),
    )

    assert response.status_code == 400
    where = content.index(b"\xe9")
    assert f"byte 0xe9 at position {where:,}" in response.content.decode()
    assert Batch.objects.count() == 0
