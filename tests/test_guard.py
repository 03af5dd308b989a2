"""The headline guard: a flag needs a sentence stating a compromise of a legitimate party's signing artefact."""

import pytest

from supplywatch.classifiers.guard import cap_headline, headline_guard, names_artefact, sentence_verdict

STATED = [
    "Attackers stole the code-signing certificate of a driver maker and used it to sign a rootkit.",
    "The vendor said its private signing key had been exposed in a public code repository for three weeks.",
    "A token-signing key leaked from the identity provider, letting intruders mint SAML assertions.",
    "The certificate authority revoked 300 certificates after attackers compromised a reseller portal.",
    "A trojanised update was pushed through the vendor's automatic update channel for five days.",
    "Intruders broke into the build servers and inserted a backdoor before the release was signed.",
    "The company accidentally published its private code-signing keys inside a firmware package.",
    "We cannot rule out that the signing credentials were misused, so we treat the certificate as compromised.",
    "It is possible that the attackers may have accessed the private key of the site's TLS certificate.",
    "Researchers found a fake certificate for the messaging service issued by the breached authority.",
    "Certs stolen from the game maker were used to sign the loader.",
    # a compromise participle before an artefact, or before another noun's artefact, still counts
    "Attackers used compromised update servers to push a signed backdoor.",
    "The adware compromised the laptop's encryption certificates to inject ads.",
    "A compromised registration account was used to issue certificates for customer domains.",
    # a result, not a purpose
    "The intruders modified build scripts so that a backdoor was compiled into the signed update agent.",
    # a stated theft stays stated inside a sentence about what it could enable
    "The breach could allow attackers to abuse the stolen certificate.",
    # theft told with its actors and a plain verb
    "Thieves made off with the signing certificate.",
    "Researchers believe the private key was lifted from the vendor in a 2023 network incident.",
    # a theft word on the artefact itself still counts beside a precaution
    "Qorvath revoked the stolen certificate as a precaution.",
    "As a precaution, Qorvath revoked its code-signing certificate, which was stolen in the breach.",
]
NOT_STATED = [
    ("The leaked source code contained no signing keys, the company said.", "negated"),
    ("No certificate authority or signing key was compromised in the incident.", "negated"),
    ("We found no evidence that the certificate was misused.", "negated"),
    ("None of the stolen material could be used to tamper with its software updates.", "negated"),
    ("Nobody had to steal a signing key to pull this off.", "negated"),
    ("The malware crew bought its own code-signing certificate through a shell company.", "near-miss"),
    ("Purchased certificates are now more common in criminal campaigns than stolen ones.", "near-miss"),
    ("An expired certificate knocked the bank's app offline; nothing was stolen.", "near-miss"),
    ("Phishing pages now use free TLS certificates from Let's Encrypt.", "near-miss"),
    ("A flaw in the library let forged certificates pass validation.", "flaw"),
    ("The browser is vulnerable to man-in-the-middle attacks through certificate forgery.", "flaw"),
    ("An attacker who steals the token-signing certificate can mint tokens for any user.", "hypothetical"),
    ("Certificate transparency logs are leaking internal hostnames, a researcher warns.", "no-artefact"),
    ("The vendor rotated its certificate as part of routine maintenance.", "no-compromise"),
    ("A malicious package stole secrets from developers' build servers.", "no-compromise"),
    # indicators of compromise are no compromise: a 20,000-article backfill of real headlines flagged 40% of its
    # articles on sentences like the first
    ("CERT-In published indicators of compromise and detection rules for defenders in energy.", "no-artefact"),
    ("The signing certificate's indicators of compromise were shared with customers.", "no-compromise"),
    # the participle's noun was compromised, not the certificate or key the clause also names
    ("The loader plants a root certificate on compromised machines to intercept traffic.", "no-compromise"),
    ("With one compromised server, crooks grab SSH private keys from a user's PC.", "no-compromise"),
    # "hackers" names who could act, not that anything was taken: flaw stories say it of every certificate
    ("A critical flaw allows hackers to impersonate any trusted SSL certificate.", "no-compromise"),
    ("The hackers replied with a message signed with the same PGP key used in the earlier dumps.", "no-compromise"),
    ("The camera's update mechanism could send your Wi-Fi password to hackers in clear text.", "no-compromise"),
    ("Features include automatic updates and a host intrusion prevention system.", "no-compromise"),
    # what a measure is for, and a statement that nothing suggests a theft
    ("Keep signing apart from building, so that a compromised build server cannot sign arbitrary files.", "hypothetical"),
    ("There is no suggestion that any of the mail provider's certificates or private keys were stolen.", "negated"),
    # a certificate faked in transit or in someone's name is interception or impersonation, not a stolen key
    ("Attackers run a man-in-the-middle attack to fake the certificate of the download site.", "near-miss"),
    # what an attack could be used to do is no theft
    ("This attack may be used by one virtual machine to steal private keys from another.", "hypothetical"),
    ("The flaw could allow attackers to steal the signing key.", "hypothetical"),
    # a ransomware's decryption key signs nothing
    ("The private key leaked by the ransomware's author lets victims decrypt their files for free.", "near-miss"),
    # keys rotated or certificates revoked as a precaution after a breach: acting on the breach, not saying the
    # artefact was taken (later breach news says it of every key and certificate a victim replaces)
    ("The company is rotating its signing keys out of an abundance of caution after the breach.", "near-miss"),
    ("As a precaution after the intrusion, the vendor revoked and reissued its code-signing certificate.", "near-miss"),
    ("Qorvath rotated its signing keys as a precaution after attackers stole source code.", "near-miss"),
]


@pytest.mark.parametrize("sentence", STATED)
def test_stated_compromises_pass(sentence):
    assert sentence_verdict(sentence) == "yes"
    assert headline_guard(["A title", sentence]).passes


@pytest.mark.parametrize("sentence,why", NOT_STATED)
def test_near_misses_do_not(sentence, why):
    assert sentence_verdict(sentence) == why
    assert not headline_guard(["Some title", sentence]).passes


def test_one_stated_sentence_among_negations_is_enough_and_is_the_evidence():
    units = ["Vendor rotates signing key", "The key was not used to sign anything, it said.",
             "The private signing key was stolen from a build machine in March.", "Customers should update."]
    result = headline_guard(units)
    assert result.passes and result.evidence == 2


def test_margins_choose_among_qualifying_body_sentences_and_the_title_only_when_alone():
    units = ["Signing key stolen at Acme", "Attackers stole the signing key in May.",
             "The stolen signing key was used to sign malware in June."]
    assert headline_guard(units, [0.9, 0.1, 0.3]).evidence == 2
    assert headline_guard(units[:1]).evidence == 0


def test_the_reason_says_why_a_document_is_vetoed():
    assert "negated" in headline_guard(["Code leak", "The leak contained no signing keys."]).reason
    assert "bought" in headline_guard(["Crew bought a code-signing certificate"]).reason
    assert "names" in headline_guard(["Record DDoS hits a bank", "Traffic peaked at 5 Tbps."]).reason


def test_cap_keeps_documents_without_any_artefact_below_the_threshold():
    assert cap_headline(0.94, ["Teen hackers talk at a conference", "Panel on youth crime."], 0.309) < 0.309
    assert cap_headline(0.94, ["Console boot ROM keys leaked online"], 0.309) == 0.94
    assert cap_headline(0.1, ["Nothing here at all"], 0.309) == 0.1
    assert names_artefact("platform keys for Secure Boot") and not names_artefact("a record DDoS attack")


def test_malware_carrying_a_named_companys_certificate_is_misuse_but_a_bought_one_is_not():
    assert sentence_verdict("The worm infects mail servers and carries the certificate of Acme Audio Inc.") == "yes"
    assert sentence_verdict("The trojan uses a certificate the crew bought from a reseller.") == "near-miss"
    assert sentence_verdict("Microsoft pulls certs for fake Teams installers dropping ransomware") != "yes"
    assert sentence_verdict("According to him, users’ private keys have been compromised.") == "near-miss"


def test_a_console_platform_key_leak_passes_so_a_better_model_may_flag_it():
    assert headline_guard(["Console ROM keys leak online, opening the door to custom firmware"]).passes
