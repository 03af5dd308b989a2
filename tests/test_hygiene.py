"""Evidence and actions hygiene: no table rows, headings or titles as evidence; whole words; quotes once; requests once."""

import pytest

from supplywatch.store.text import (
    clip,
    dedupe_actions,
    evidence_ok,
    is_heading,
    is_table_row,
    near_duplicate,
    pick_evidence,
    quote_ready,
)

TITLE = "Acme rotates firmware signing certificate after build server intrusion"


@pytest.mark.parametrize("row", ["| Severity | High (CVSS 8.1) |", "|---|---|", "Severity | High | CVSS 8.1"])
def test_table_rows_are_not_evidence(row):
    assert is_table_row(row) and not evidence_ok(row, TITLE)


@pytest.mark.parametrize("heading", ["How to detect this backdoor", "SSL CERTIFICATES AND PRIVATE KEYS",
                                     "Private Keys for the Mobile Apps", "Affected products:"])
def test_headings_are_not_evidence(heading):
    assert is_heading(heading) and not evidence_ok(heading, TITLE)


def test_a_short_sentence_is_not_a_heading():
    assert not is_heading("The signing key was stolen.")
    assert evidence_ok("The signing key was stolen in March, the company said.", TITLE)


@pytest.mark.parametrize("repeat", [TITLE, TITLE.upper() + ".", "“" + TITLE + "”", "Update: " + TITLE])
def test_the_title_repeated_is_not_evidence(repeat):
    assert not evidence_ok(repeat, TITLE)


def test_pick_evidence_takes_the_best_ranked_acceptable_sentence_or_none():
    units = [TITLE, "| Severity | High |", "How to check your devices",
             "Acme said an attacker broke into a build server that could request firmware signatures."]
    assert pick_evidence(units, [0, 1, 2, 3]) == 3
    assert pick_evidence(units[:3], [0, 1, 2]) == -1


@pytest.mark.parametrize("limit", range(20, 120, 7))
def test_clip_never_cuts_mid_word(limit):
    text = ("Customers who use the connection are asked to delete the existing connection in their tenant "
            "immediately. Then set it up again using the new certificate from the administration console.")
    out = clip(text, limit)
    assert len(out) <= limit
    body = out.rstrip("…")
    assert text.startswith(body)
    nxt = text[len(body):len(body) + 1]
    assert nxt in ("", " ") or body.endswith(".")


def test_clip_prefers_a_sentence_end():
    assert clip("The key was stolen in March. Customers should rotate every certificate now.", 40) == \
        "The key was stolen in March."


@pytest.mark.parametrize("raw,ready", [
    ("“However, we cannot rule out that the key was misused.", "However, we cannot rule out that the key was misused."),
    ("“The key is gone.”", "The key is gone."),
    ("He said: “rotate it now.”", "He said: ‘rotate it now.’"),
    ('"The key is gone," she said.', '"The key is gone," she said.'),
    ("The archive holds no keys.”", "The archive holds no keys."),
])
def test_quote_ready_leaves_the_template_the_only_outer_quotes(raw, ready):
    out = quote_ready(raw)
    assert out == ready
    assert not ("“" + out).startswith("““")


def test_near_duplicate_requests_are_merged_in_order():
    a = ("Customers who use the connection are asked to delete the existing connection in their Microsoft 365 tenant "
         "immediately and then set it up again using a new certificate.")
    b = ("The vendor is asking every customer that uses the integration to delete the existing connection in their "
         "Microsoft 365 tenant straight away and then re-establish it with a new certificate.")
    c = "Administrators should review the audit logs of the application for the past six months."
    d = "Administrators should review the application's audit logs for the past six months."
    assert near_duplicate(a, b) and near_duplicate(c, d) and not near_duplicate(a, c)
    assert dedupe_actions([a, b, c, d]) == [a, c]
    assert dedupe_actions([a, c, "Update the agent to version 7.4.3."], limit=2) == [a, c]


def test_distinct_requests_that_share_a_version_number_both_survive():
    a = ("The company is asking customers to upgrade to 7.4.3, disconnect any FleetPilot server that installed 7.4.2 "
         "from the internet until it has been checked, and reset passwords and API keys stored in or used by FleetPilot.")
    b = ("Customers are asked to upgrade to 7.4.3 immediately, block network traffic to the indicators listed in "
         "Orbitline's advisory and, if their agents installed 7.4.2, treat the servers running FleetPilot as "
         "potentially compromised and reset any credentials stored on or passed through them.")
    assert not near_duplicate(a, b)
    assert any("block network traffic to the indicators" in x for x in dedupe_actions([a, b]))
