"""Parsing pasted or uploaded recipients into lines the service can check."""

import pytest

from retry_admin.web.recipients import RecipientsUnreadable, decode_upload, parse_recipients


def test_a_header_line_names_the_columns():
    parsed = parse_recipients(
        "recipient,name,code\nada@example.com,Ada,1\n\ngrace@example.com, Grace ,2\n",
        header_required=False,
    )

    assert [(r.line, r.recipient, dict(r.context)) for r in parsed.rows] == [
        (2, "ada@example.com", {"name": "Ada", "code": "1"}),
        (4, "grace@example.com", {"name": "Grace", "code": "2"}),
    ]
    assert parsed.columns == ["name", "code"]
    assert parsed.errors == []


def test_just_addresses_one_per_line():
    parsed = parse_recipients("ada@example.com\r\n+447700900001\n", header_required=False)

    assert [(r.line, r.recipient, dict(r.context)) for r in parsed.rows] == [
        (1, "ada@example.com", {}),
        (2, "+447700900001", {}),
    ]


def test_the_recipient_column_may_be_anywhere_and_any_case():
    parsed = parse_recipients("name,Recipient\nAda,ada@example.com\n", header_required=True)

    assert parsed.rows[0].recipient == "ada@example.com"
    assert dict(parsed.rows[0].context) == {"name": "Ada"}


def test_quoted_values_may_hold_commas_and_newlines():
    parsed = parse_recipients(
        'recipient,note\nada@example.com,"one, two\nthree"\ngrace@example.com,x\n',
        header_required=True,
    )

    assert parsed.rows[0].context["note"] == "one, two\nthree"
    assert parsed.rows[1].line == 4


def test_a_line_with_the_wrong_number_of_values_is_reported_with_its_number():
    parsed = parse_recipients(
        "recipient,name\nada@example.com,Ada\ngrace@example.com\nalan@example.com,Alan,extra\n",
        header_required=True,
    )

    assert [r.recipient for r in parsed.rows] == ["ada@example.com"]
    assert [(e.line, e.message) for e in parsed.errors] == [
        (3, "has 1 value but the header names 2 columns (recipient, name)"),
        (4, "has 3 values but the header names 2 columns (recipient, name)"),
    ]


def test_commas_without_a_header_are_refused_clearly():
    with pytest.raises(RecipientsUnreadable, match="not a header"):
        parse_recipients("ada@example.com,Ada\n", header_required=False)


def test_an_address_list_with_a_stray_comma_points_at_the_line():
    parsed = parse_recipients("ada@example.com\ngrace@example.com,Grace\n", header_required=False)

    assert [(e.line, e.message[:11]) for e in parsed.errors] == [(2, "has a comma")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The CSV file is empty."),
        ("\n\n  \n", "The CSV file is empty."),
        ("email,name\na@example.com,A\n", "needs a “recipient” column"),
        ("recipient,,code\n", "Column 2 of the header line has no name."),
        ("recipient,name,name\n", "repeats the column 'name'"),
    ],
)
def test_unreadable_csv_files(text, message):
    with pytest.raises(RecipientsUnreadable, match=message):
        parse_recipients(text, header_required=True)


def test_bytes_that_are_not_utf8_are_refused_with_their_position():
    with pytest.raises(RecipientsUnreadable, match=r"not UTF-8 text \(byte 0xff at position 10"):
        decode_upload(b"recipient\n\xff\xfe")


def test_a_utf8_bom_is_accepted():
    text = decode_upload("\ufeffrecipient\nada@example.com\n".encode())

    assert parse_recipients(text, header_required=True).rows[0].recipient == "ada@example.com"


def test_the_preview_reads_only_what_it_needs():
    text = "recipient\n" + "".join(f"u{i}@example.com\n" for i in range(10_000))

    parsed = parse_recipients(text, header_required=True, limit=1)

    assert len(parsed.rows) == 1


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_semicolon_or_tab_separated_file_is_read(delimiter):
    text = (
        f"recipient{delimiter}first_name{delimiter}code\n+447700950029{delimiter}Ada{delimiter}29\n"
    )

    parsed = parse_recipients(text, header_required=True)

    assert [(r.recipient, dict(r.context)) for r in parsed.rows] == [
        ("+447700950029", {"first_name": "Ada", "code": "29"})
    ]
    assert parsed.errors == []


def test_a_semicolon_inside_a_comma_separated_value_stays_in_the_value():
    text = "recipient,name\nada@example.com,Lovelace; Ada\ngrace@example.com,Hopper; Grace\n"

    parsed = parse_recipients(text, header_required=True)

    assert [dict(r.context) for r in parsed.rows] == [
        {"name": "Lovelace; Ada"},
        {"name": "Hopper; Grace"},
    ]
