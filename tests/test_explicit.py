"""Explicit statements of whose signing artefact was compromised (``classifiers.explicit``, issue 10): what
they find among the project's labelled sentences, the owner they name, and the flag they give a document
the head scored below its threshold (through the real labelling and incident book; the head is the
stand-in of ``test_labelling_guard``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from supplywatch.classifiers.explicit import explicit_owner, explicit_statement
from supplywatch.classifiers.guard import names_artefact, sentence_verdict
from supplywatch.classifiers.incidents import IncidentBook
from supplywatch.classifiers.labelling import EXPLICIT, EXPLICIT_FLOOR, EXPLICIT_LEAD

from .test_labelling_guard import ScoreHead, headline_of

SENTENCES = Path(__file__).resolve().parents[1] / "classifiers" / "data" / "sentences" / "ownership.jsonl"


def test_it_finds_most_stated_compromises_of_a_legitimate_party_and_almost_nothing_else():
    rows = [json.loads(line) for line in SENTENCES.read_text("utf-8").splitlines() if line.strip()]
    found = Counter((r["class"] == "legit_party_compromise", explicit_statement(r["text"])) for r in rows)
    legit, other = found[True, True] + found[True, False], found[False, True] + found[False, False]
    assert legit >= 100 and other >= 150
    # measured 2026-12-01: 99 of 120 and 0 of 183 (97 before a signing server and code-signing infrastructure
    # were artefacts)
    assert found[True, True] >= 99
    assert found[False, True] <= 1
    # classify embeds a document none of whose sentences names a signing artefact from its title alone
    # (features.select_units): that changes no flag only while every statement read here names one
    assert all(names_artefact(r["text"]) for r in rows if explicit_statement(r["text"]))


@pytest.mark.parametrize("sentence, owner", [
    ("Attackers used Tessaro Networks's code-signing certificate to sign the spyware.", "Tessaro Networks"),
    ("The malware was signed using a certificate belonging to Halvard Systems, a maker of network cards.",
     "Halvard Systems"),
    ("Attackers may have accessed the private key of the php.net SSL certificate, so we revoked it.", "php.net"),
    ("The trojan was signed with Opera's stolen certificate.", "Opera"),
    ("The group signed the backdoor with Corvane's code-signing certificate.", "Corvane"),
    # a name that starts with digits
    ("A trojanized build of the 7Lattice desktop app, signed with 7Lattice's own certificate, was pushed to users.",
     "7Lattice"),
    # the owner as a modifier of its own signing artefact
    ("Halvard and Brisco platform certificates were abused to sign malicious Android apps.", "Brisco"),
    ("Corvane code-signing certificates were stolen in the breach and later signed a loader.", "Corvane"),
    # headline grammar: no auxiliary, present tense
    ("Halvard platform certificates abused to sign Android malware", "Halvard"),
    ("Qorvath certificate compromised by hackers, customers told to re-add connection", "Qorvath"),
    ("Ransomware gang leaks Brisco's firmware signing keys", "Brisco"),
    # a console's or board's boot ROM and Boot Guard keys are its maker's platform keys
    ("Corvane Lumen 5 ROM Keys Leak Online, Opening the Door to Permanent Jailbreaks", "Corvane Lumen"),
    ("Brisco Boot Guard keys leaked in the ransomware gang's dump of a laptop maker's files", "Brisco"),
    # the machinery that signs, breached
    ("Intruders breached Qorvath's code-signing server and signed a backdoor with the firm's certificate.", "Qorvath"),
    # an artefact named by the legitimate use its owner put it to
    ("A certificate used to authenticate Qorvath's products to cloud mail tenants was compromised.", "Qorvath"),
    ("Qorvath says a certificate used to authenticate its products to cloud mail was compromised.", ""),
    # a named party's key in the attackers' hands, told by what they did with it
    ("The attackers obtained an inactive Brisco account signing key and used it to mint tokens for cloud mail.",
     "Brisco"),
    # a named party's keys inside what was taken
    ("Extortion gang leaks Corvane source code including bootloader signing keys", "Corvane"),
    # described, not named: no party to follow
    ("Duqu, like Stuxnet, uses a stolen digital certificate from a Taiwanese company.", ""),
    ("The group has stolen third-party certificates to sign its malware.", ""),
])
def test_the_owner_is_the_party_the_statement_names(sentence, owner):
    assert explicit_statement(sentence) and names_artefact(sentence)  # what classify's selection relies on
    assert explicit_owner(sentence) == owner


@pytest.mark.parametrize("sentence", [
    "The crew bought a code-signing certificate from a reseller to sign the loader.",
    "Microsoft said no signing keys were stolen in the intrusion.",
    "An attacker who steals the vendor's signing key could sign malicious updates.",
    "The trojan steals passwords, digital certificates, browser history and cookies.",
    "Millions of phones are exposed by the Android Master Key vulnerability, which lets hackers modify signed apps.",
    # the attackers' own certificate, whatever else the clause says was compromised
    "The operators install their own root certificate on compromised machines, so the binary looks signed.",
    "Hackers signed the loader with their own code-signing certificate after the intrusion.",
    # a vendor signing its own software is no misuse
    "Microsoft used its own certificate to sign the emergency update.",
    "The vendor used its code-signing certificate to sign the new driver release.",
    # "the company said the certificates ..." names no owner: the company is the speaker
    "The company said the certificates were obtained by applicants who passed identity checks.",
    # a party's name before certificates it issues or enrols others for: attacker-obtained, a near miss
    "Corvane developer certificates were abused by malware authors who enrolled under fake names.",
    "Corvane certificates were abused by scammers to make fake shops look trustworthy.",
    "Corvane developer certificates abused by malware authors",
    "Corvane certificates abused by phishers to make fake shops look trustworthy",
    # a general statement's determiner is no name
    "Some signing keys were leaked in such dumps over the years, researchers said.",
    # an artefact named by its use, but bought by the attackers
    "A certificate used to sign their malware was bought from a reseller.",
    # a certificate from a CA, bought: only a named party's *key* in others' hands is its owner's compromise
    "Criminals obtained a Corvane code-signing certificate and used it to sign malware.",
    # a vendor obtaining its own key, and a key in leaked code that was not there
    "Qorvath obtained a new signing key and used it to sign the update.",
    "Hackers leaked Corvane source code containing no signing keys.",
    "Corvane says no Boot Guard keys were leaked in the intrusion.",
    "Console ROM keys could leak online if the exploit is published.",
])
def test_near_misses_are_no_explicit_statement(sentence):
    assert not explicit_statement(sentence)


def test_information_stealers_and_flaw_names_are_no_compromise_for_the_guard():
    assert sentence_verdict("Steals passwords, digital certificates, browser history, and cookies.") == "near-miss"
    assert sentence_verdict("Hackers stole code-signing certificates and passwords from the vendor.") == "yes"
    assert sentence_verdict("Android devices are open to the Master Key vulnerability that lets hackers modify "
                            "digitally signed apps.") == "flaw"
    assert sentence_verdict("Germany's computer emergency response team (CERT) was told of the backdoor.") \
        == "no-artefact"


TEXT = ("The company confirmed the breach on Monday. Researchers found the trojan was signed with Opera's stolen "
        "certificate. Customers should update.")


def test_a_document_below_the_threshold_with_an_explicit_statement_is_flagged_and_opens_its_owners_incident():
    book = IncidentBook()
    score = 0.6 * ScoreHead.threshold
    assert score >= EXPLICIT_FLOOR * ScoreHead.threshold
    lab, flagged = headline_of({"id": 1, "title": "Browser maker hit by intrusion", "text": TEXT,
                                "published": "2013-06-26", "score": score}, book)
    assert flagged and lab.reason.startswith(EXPLICIT) and f"{score:.2f}" in lab.reason
    assert lab.score >= ScoreHead.threshold
    assert "Opera's stolen certificate" in lab.evidence
    assert [inc.party for inc in book.incidents] == ["Opera"]
    # a later article naming the party follows it, though it never restates the theft
    follow, ok = headline_of({"id": 2, "title": "Opera resets users' passwords after the attack",
                              "text": "The browser maker asked users to change passwords.",
                              "published": "2013-06-28", "score": 0.01}, book)
    assert ok and follow.reason.startswith("follow-up of: Opera")


def test_below_the_floor_a_statement_flags_only_in_the_title_or_lead():
    # The issue saw later articles' plain statements scored 0.02-0.2 against a threshold of 0.31: in the lead, what
    # the article reports, the statement flags at any score; deeper, where roundups mention old incidents, it does not.
    low = 0.05 * ScoreHead.threshold
    assert EXPLICIT_LEAD == 3  # the title and two sentences
    lab, flagged = headline_of({"id": 1, "title": "Browser maker hit by intrusion", "text": TEXT,
                                "published": "2013-06-26", "score": low})
    assert flagged and lab.reason.startswith(EXPLICIT) and "Opera's stolen certificate" in lab.evidence
    deep = ("The company confirmed the breach on Monday after a week of silence. It would not say when the attack "
            "began or how long it lasted. Customers were told to install the newest version at once. "
            "Researchers found the trojan was signed with Opera's stolen certificate.")
    lab, flagged = headline_of({"id": 2, "title": "Browser maker hit by intrusion", "text": deep,
                                "published": "2013-06-26", "score": 0.9 * EXPLICIT_FLOOR * ScoreHead.threshold})
    assert not flagged and lab.score < ScoreHead.threshold
    lab, flagged = headline_of({"id": 3, "title": "Browser maker hit by intrusion", "text": deep,
                                "published": "2013-06-26", "score": EXPLICIT_FLOOR * ScoreHead.threshold})
    assert flagged and "Opera's stolen certificate" in lab.evidence


@pytest.mark.parametrize("sentence", [
    "Among the exposed files was Contoso's master key to its Amazon Web Services account.",
    "Contoso's secret key for its cloud storage account was leaked in a public repository.",
    "Hackers stole Contoso's master keys to its Azure storage accounts.",
    "Contoso's AWS secret key was leaked in a public repository.",
])
def test_a_key_to_a_cloud_account_is_a_credential_not_a_signing_artefact(sentence):
    assert not explicit_statement(sentence)


def test_a_signing_key_leaked_beside_cloud_keys_is_still_stated():
    assert explicit_statement("Contoso's code-signing key was leaked in a public repository.")
    assert explicit_statement("Hackers stole Contoso's code-signing certificate and its AWS access keys.")


def test_an_owner_described_but_not_named_opens_no_incident_so_nothing_follows_the_malwares_name():
    book = IncidentBook()
    lab, flagged = headline_of({"id": 1, "title": "DUQU: Another Stuxnet in the Making?",
                                "text": "Duqu too, like Stuxnet, uses a stolen digital certificate from a Taiwanese "
                                        "company to prove its authenticity. It spreads slowly.",
                                "published": "2011-11-01", "score": 0.5 * ScoreHead.threshold}, book)
    assert flagged and book.incidents == []
    _, followed = headline_of({"id": 2, "title": "Who is behind Stuxnet?", "text": "Nobody has said so far.",
                               "published": "2011-12-01", "score": 0.01}, book)
    assert not followed


@pytest.mark.parametrize("artefact", [
    "code-signing certificate", "token signing key", "signing certificates", "private key", "secret key material",
    "root CA", "root keys", "SSL certificate", "certs", "valid signature", "secure boot key", "master key",
    "update mechanism", "update channels", "build servers", "build pipeline", "download server",
    "code-signing infrastructure", "signing server", "boot ROM keys", "Boot Guard keys", "bootloader key",
])
def test_the_word_prefilter_admits_every_artefact_the_patterns_name(artefact):
    # explicit_statement skips a sentence holding none of _ART_WORDS before its regular expressions run
    import re

    from supplywatch.classifiers.explicit import _ART, _ART_WORDS

    assert re.fullmatch(_ART, artefact, re.I)
    assert any(word in artefact.lower() for word in _ART_WORDS)
    assert explicit_statement(f"Attackers compromised Contoso's {artefact}.")
