"""Incidents (issue 10): the compromised party, follow-ups that inherit the label, the flood guards, and analysts'
answers through the CLI changing what the next classify does. Real SQLite files; the head is a stand-in giving
each document the score written in it (no model to load); the labelling, the incident book and the store are real."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from supplywatch.classifiers.incidents import IncidentBook, artefact_of, candidate_names
from supplywatch.classifiers.labelling import classify_archive, seeded_book, with_prototypes
from supplywatch.classifiers.suppliers import match_archive
from supplywatch.cli import cli
from supplywatch.reports.digest import build_digest
from supplywatch.reports.render import render_digest
from supplywatch.reports.timeline import build_timeline, timeline_text
from supplywatch.store import Document, Store

from .test_labelling_guard import HEADLINE, StandInClassifier, headline_of, store_with

MIMECAST = {"id": 1, "title": "Mimecast says hackers stole a certificate", "published": "2021-01-12",
            "text": "Mimecast said a certificate it issues to customers to connect its products to Microsoft 365 "
                    "was compromised by a sophisticated threat actor. About ten percent of Mimecast customers use "
                    "the connection. Mimecast asked them to delete the connection and add a new certificate."}


def follow(doc_id: int, title: str, text: str, published: str = "2021-02-01") -> dict:
    return {"id": doc_id, "title": title, "text": text, "published": published, "score": 0.01}


def test_the_party_is_the_named_organisation_not_a_common_capitalised_word():
    assert candidate_names(MIMECAST, [MIMECAST["title"], MIMECAST["text"]])[0] == "Mimecast"
    flood = {"title": "Retailer Suffers Breach As Keys Leak",
             "text": "The retailer suffers its second breach this year. Keys to the database leaked, it said."}
    assert candidate_names(flood, [flood["title"]]) == []
    assert artefact_of("attackers stole the private key used to sign code") == "code-signing key"
    assert artefact_of("a malicious update was pushed through the build system") == "build system"


def test_the_artefact_is_named_by_what_it_signs_and_a_bare_signing_key_is_not_guessed_to_sign_code():
    # A real 2025 case in the news corpus: a departed employee's use of a signing key for login tokens was recorded
    # as a "code-signing key compromise" before.
    assert artefact_of("The attacker extracted customer information by exploiting authentication tokens and a "
                       "signing key.") == "token-signing key"
    assert artefact_of("The group used an acquired consumer signing key to forge access tokens.") == "token-signing key"
    assert artefact_of("Attackers stole the SAML token-signing certificate.") == "token-signing key"
    assert artefact_of("The vendor published its private signing keys online.") == "signing key"
    # Tokens in another clause or sentence do not make the key a token-signing one.
    assert artefact_of("The signing key was stolen; the company also reset tokens for all users.") == "signing key"
    assert artefact_of("Attackers stole the driver code-signing key of Examplesoft.") == "code-signing key"


def test_a_follow_up_names_the_party_within_a_window_each_member_renews():
    book = IncidentBook(window_days=30)
    assert headline_of(MIMECAST, book)[1]
    lab, flagged = headline_of(follow(2, "Sanctions over the Mimecast attack", "The Treasury named the group."), book)
    assert flagged and lab.reason == "follow-up of: Mimecast certificate compromise, first reported 2021-01-12"
    # 40 days after the first report but 24 after the last member: still inside the renewed window
    assert headline_of(follow(3, "How Mimecast's attackers stayed hidden", "A report on the group.", "2021-02-25"),
                       book)[1]
    assert not headline_of(follow(4, "Mimecast reports quarterly results", "Revenue rose.", "2021-06-01"), book)[1]
    assert not headline_of(follow(5, "Sanctions over a bank attack", "The Treasury named the group."), book)[1]
    assert [len(i.members) for i in book.incidents] == [3]


def test_a_lead_that_lists_the_party_among_others_hit_is_another_partys_story():
    book = IncidentBook(window_days=30)
    assert headline_of(MIMECAST, book)[1]
    # the party as one example among others: context for another company's news, not a follow-up
    for i, (title, text) in enumerate([
            ("Qorvath reports a breach of merchant records", "Qorvath reported a breach on Tuesday. It follows "
             "recent leaks at firms such as Mimecast, Halvard and Brisco."),
            ("Insurers see demand after major leaks", "Incidents at major companies such as Halvard and Mimecast "
             "renewed scrutiny of breach insurance.")], 2):
        assert not headline_of(follow(i, title, text), book)[1], title
    # named in the lead as what the article is about, or in the title even beside an example list: a follow-up
    assert headline_of(follow(4, "Retail giant's CEO quits", "The attack on Mimecast affected most customers."),
                       book)[1]
    assert headline_of(follow(5, "Mimecast faces fines", "Regulators cited firms such as Mimecast and Halvard."),
                       book)[1]


def test_a_party_whose_name_starts_with_digits_is_named_and_followed():
    book = IncidentBook(window_days=30)
    first = follow(1, "Desktop app maker hit in supply-chain attack",
                   "A trojanized build of the 7Lattice desktop app, signed with 7Lattice's own certificate, was pushed "
                   "to users. The company is investigating.", "2023-03-30")
    assert headline_of(first, book)[1] and book.incidents[0].party == "7Lattice"
    lab, flagged = headline_of(follow(2, "7Lattice attackers also hit two energy firms", "Researchers linked them.",
                                      "2023-04-10"), book)
    assert flagged and lab.reason.startswith("follow-up of: 7Lattice")
    assert not headline_of(follow(3, "Top 7lattice tips", "A lower-case word is no name.", "2023-04-11"), book)[1]


def test_a_big_platform_or_a_common_word_does_not_pull_in_everything():
    book = IncidentBook()
    ms = {"id": 1, "title": "Microsoft says attackers stole a token-signing key", "published": "2023-07-12",
          "text": "Microsoft said the group stole a consumer signing key and forged tokens to read mail. "
                  "Microsoft has revoked the key."}
    assert headline_of(ms, book)[1] and book.incidents[0].party == "Microsoft"
    for i, title in enumerate(["Microsoft patches Windows flaw exploited in attacks", "Google and Microsoft earnings",
                               "Suffers: the word of the week", "New Keys for old doors"], 2):
        assert not headline_of(follow(i, title, "Microsoft said more on Tuesday.", "2023-07-20"), book)[1], title
    # a follow-up of a platform's incident must name the artefact as well as the platform
    assert headline_of(follow(9, "Microsoft explains how its signing key was stolen", "Microsoft published a report.",
                              "2023-07-20"), book)[1]


def docs(rows: list[dict]) -> list[Document]:
    return [Document(source="feedonly", guid=str(r["id"]), title=r["title"], text=r["text"],
                     url=f"https://feedonly.example/{r['id']}", published=r["published"] + "T00:00:00Z") for r in rows]


class Scored(StandInClassifier):
    """The stand-in reading each document's score from its title ("(low)" scores 0.01)."""

    def label(self, batch, memory=None):
        return super().label([{**d, "score": 0.01 if "(low)" in d["title"] else 0.99} for d in batch], memory)


def test_incidents_are_stored_and_an_analysts_no_stops_follow_ups_at_the_next_classify(tmp_path):
    db = str(tmp_path / "x.db")
    store_with(db, docs([MIMECAST]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        (incident,) = store.incidents()
        assert (incident["party"], incident["status"], incident["members"]) == ("Mimecast", "open", [1])
    store_with(db, docs([follow(2, "Sanctions over the Mimecast attack (low)", "The Treasury named the group.")]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        assert store.incidents()[0]["members"] == [1, 2]
        reason = "follow-up of: Mimecast certificate compromise, first reported 2021-01-12"
        assert [r["follow_up"] for r in store.search("Treasury")] == [reason]  # search shows it
        digest = build_digest(store, "2021-02-01")  # so do the digest ...
        assert digest.headline.items[0].follow_up == reason and reason in render_digest(digest).text
        store.import_suppliers([{"name": "Mimecast"}])
        match_archive(store)
        assert reason in timeline_text(build_timeline(store, "Mimecast"))  # ... and the supplier's timeline
    result = CliRunner().invoke(cli, ["--db", db, "label", "1", "--no", "--note", "not a theft"])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.output
    with Store.open(db) as store:  # the follow-up it lent the label loses it: digest and search stop showing it
        assert build_digest(store, "2021-02-01").headline.items == []
        assert [r["follow_up"] for r in store.search("Treasury")] == [None]
    store_with(db, docs([follow(3, "Mimecast attackers also accessed source code (low)", "More from the probe.",
                                "2021-02-03")]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        flagged = store.db.execute("select flagged from labels where document_id = 3 and label = ?", [HEADLINE])
        assert flagged.fetchone()[0] == 0
        assert store.incidents()[0]["status"] == "rejected"


def test_an_analysts_yes_confirms_and_makes_the_evidence_a_prototype(tmp_path):
    db = str(tmp_path / "x.db")
    store_with(db, docs([{**MIMECAST, "title": MIMECAST["title"] + " (low)"}]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        assert store.incidents() == []
    result = CliRunner().invoke(cli, ["--db", db, "label", "1", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Mimecast certificate compromise" in result.output and "confirmed" in result.output
    with Store.open(db) as store:
        book = seeded_book(store)
    assert [(s[:40], sign) for s, sign, _ in book.prototypes] == [("Mimecast said a certificate it issues to", 1)]

    class Encoder:
        def encode(self, texts):
            return np.ones((len(texts), 4), dtype=np.float32) / 2

    head = type("H", (), {"pos": np.zeros((2, 4), np.float32), "neg": np.zeros((3, 4), np.float32)})()
    import dataclasses

    head = dataclasses.make_dataclass("H", ["pos", "neg"])(head.pos, head.neg)
    grown = with_prototypes(head, book, type("F", (), {"encoder": Encoder()})())
    assert grown.pos.shape == (3, 4) and grown.neg.shape == (3, 4)
    missing = CliRunner().invoke(cli, ["--db", db, "label", "99", "--yes"])
    assert missing.exit_code == 2 and "no document with id 99" in missing.output


def test_another_outlets_account_clustered_into_a_members_story_joins_the_incident(tmp_path):
    """Stories and incidents are one grouping: a document the clustering put into a member's story follows the
    incident even when its title and lead never name the party."""
    db = str(tmp_path / "x.db")
    other = follow(2, "Email security vendor confirms certificate theft (low)", "The vendor's customers were told.",
                   "2021-01-13")
    store_with(db, docs([MIMECAST]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
    store_with(db, docs([other]))
    with Store.open(db) as store:
        (story,) = set(store.assign_stories([(1, None, 1.0, "first"), (2, "new:1", 0.9, "embedding")]))
        assert store.incidents()[0]["stories"] == [story]
        classify_archive(store, Scored())
        assert store.incidents()[0]["members"] == [1, 2]


def test_an_account_clustered_with_the_first_report_follows_it_in_the_same_classify(tmp_path):
    """`run` clusters before it classifies: the first report and another outlet's account of it arrive in one
    round, in one story, and the account follows the incident the first report opens in that same pass."""
    db = str(tmp_path / "x.db")
    other = follow(2, "Email security vendor confirms certificate theft (low)", "The vendor's customers were told.",
                   "2021-01-13")
    store_with(db, docs([MIMECAST, other]))
    with Store.open(db) as store:
        store.assign_stories([(1, None, 1.0, "first"), (2, "new:1", 0.9, "embedding")])
        classify_archive(store, Scored())
        assert store.incidents()[0]["members"] == [1, 2]


def test_a_story_mate_that_speaks_of_no_key_or_certificate_does_not_follow(tmp_path):
    """Templates cluster (weekly roundups, law-firm notices): a story-mate follows the incident only when it speaks
    of a certificate, key or update channel, or names the party."""
    db = str(tmp_path / "x.db")
    roundup = follow(2, "Weekly roundup: the week's most popular stories (low)", "Read them all here.", "2021-01-13")
    store_with(db, docs([MIMECAST, roundup]))
    with Store.open(db) as store:
        store.assign_stories([(1, None, 1.0, "first"), (2, "new:1", 0.9, "embedding")])
        classify_archive(store, Scored())
        assert store.incidents()[0]["members"] == [1]


def test_a_vendors_own_advisories_follow_its_incident_only_when_they_name_the_artefact():
    book = IncidentBook()
    first = {"id": 1, "title": "Revocation and rotation of firmware code-signing certificate", "vendor": "Acme Networks",
             "published": "2021-01-13", "text": "An intruder stole the firmware code-signing certificate from the "
                                                "build server. Customers should update."}
    assert headline_of(first, book)[1] and book.incidents[0].party == "Acme Networks"
    advisory = {**follow(2, "EdgeRouter IPv6 packet processing denial of service",
                         "Acme Networks fixed a denial of service in EdgeRouter."), "vendor": "Acme Networks"}
    assert not headline_of(advisory, book)[1]
    assert headline_of(follow(3, "Acme Networks shares fall", "Investors sold the stock."), book)[1]


def test_a_scale_job_carries_only_the_incidents_its_documents_can_meet():
    """`seed_for` cuts the book seed a classify job carries to the incidents its batch can touch, and the batch
    meets the same incidents, in the same order, as with every incident of the archive."""
    from datetime import date, timedelta

    from supplywatch.classifiers.labelling import book_from_seed, seed_for

    start = date(2020, 1, 1)
    records = [{"id": i, "party": f"Vendor{i:02d}", "artefact": "code-signing certificate", "first_document_id": 1000 + i,
                "first_published": (start + timedelta(days=15 * i)).isoformat(),
                "last_published": (start + timedelta(days=15 * i + 3)).isoformat(), "title": "", "evidence": "",
                "status": "open", "members": [1000 + i, 2000 + i], "stories": [500 + i]} for i in range(40)]
    seed = {"incidents": records, "register": [], "answered": [["a sentence", True]]}
    docs = [{"id": 1, "title": "Vendor20 says more customers were hit", "published": "2020-10-30"},  # in the window
            {"id": 2, "title": "Vendor02 follow-up, months later", "published": "2020-10-31"},  # long out of it
            {"id": 3, "title": "Another outlet on the certificate theft", "published": "2020-11-01", "story_id": 503},
            {"id": 2005, "title": "Vendor05 relabelled", "published": "2020-11-02"},  # a member, relabelled
            {"id": 4, "title": "Vendor21 news", "published": "2020-11-16"},
            {"id": 5, "title": "Vendor22 news", "published": "2020-12-01"}]

    def meets(book):
        out = []
        for doc in docs:
            inc = book.follow_up_of(doc)
            out.append(inc.party if inc else None)
            if inc:
                book.join(inc, doc)
        return out

    part = seed_for(seed, docs)
    assert meets(book_from_seed(part)) == meets(book_from_seed(seed)) == [
        "Vendor20", None, "Vendor03", "Vendor05", "Vendor21", "Vendor22"]
    assert sorted(r["id"] for r in part["incidents"]) == [3, 5, *range(14, 23)]  # 9 in the 90-day window, of 40
    assert part["answered"] == seed["answered"]
    # a document without a day could meet any incident: the seed stays whole
    assert seed_for(seed, [*docs, {"id": 6, "title": "x", "published": None}]) is seed


def test_the_digest_tells_a_days_follow_ups_of_one_incident_once(tmp_path):
    """A much-covered incident brings many follow-ups a day, each naming the party: the digest's headline section
    shows one item for them, listing the others by title and link, and a story of another incident apart."""
    db = str(tmp_path / "x.db")
    qorvath = {"id": 9, "title": "Qorvath says its code-signing certificate was stolen", "published": "2021-01-20",
               "text": "Attackers stole Qorvath's code-signing certificate and signed malware with it. Qorvath has "
                       "revoked it."}
    store_with(db, docs([MIMECAST, qorvath]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        assert [i["party"] for i in store.incidents()] == ["Mimecast", "Qorvath"]
    day = "2021-02-01"
    store_with(db, docs([follow(2, "Mimecast CEO resigns over the breach (low)", "The board accepted it."),
                         follow(3, "Police raid Mimecast offices (low)", "Officers seized laptops."),
                         follow(4, "Mimecast faces class actions (low)", "Customers sued on Monday."),
                         follow(5, "Qorvath shares fall after the theft (low)", "Investors sold on Monday."),
                         follow(6, "Mimecast shares fall (low)", "Investors sold.", "2021-01-12")]))
    with Store.open(db) as store:
        classify_archive(store, Scored())
        digest = build_digest(store, day)
        items = digest.headline.items
        assert len(items) == 2 and digest.headline.total == 2
        (mimecast,) = [i for i in items if "Mimecast" in i.follow_up]
        (qorvath_item,) = [i for i in items if "Qorvath" in i.follow_up]
        assert sorted([mimecast.title, *(f.title for f in mimecast.same_incident)]) == [
            "Mimecast CEO resigns over the breach (low)", "Mimecast faces class actions (low)",
            "Police raid Mimecast offices (low)"]
        assert all(f.url.startswith("https://feedonly.example/") for f in mimecast.same_incident)
        assert qorvath_item.same_incident == []
        rendered = render_digest(digest)
        assert "2 more stories of this incident today:" in rendered.text
        assert "2 more stories of this incident today:" in rendered.html
        for f in mimecast.same_incident:
            assert f.title in rendered.text and f'href="{f.url}"' in rendered.html
        # the first report's day: a follow-up published the same day is listed under the first report
        (first,) = build_digest(store, "2021-01-12").headline.items
        assert first.title == MIMECAST["title"] and [f.title for f in first.same_incident] == [
            "Mimecast shares fall (low)"]
    from supplywatch.reports.message import story_count

    assert story_count(digest) == 4  # the subject still counts every story
