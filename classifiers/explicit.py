"""Explicit statements: a sentence that says *whose* signing artefact was stolen, leaked or abused.

Issue 10's first failure shape: articles whose best sentence plainly says "the malware was signed with a stolen
certificate from a Taiwanese company" or "D-Link published its private code-signing keys" score far below the
threshold, because the head reads resemblance (and near misses resemble these closely). A statement that names
the artefact's legitimate owner (a possessive, "of/from/belonging to" a named party, "stolen ... certificate",
"signed with a stolen ...", "used X's certificate to sign") and that the guard reads as a compromise
(:func:`.guard.clause_verdict`) is strong enough to flag a document the head scored at least
``EXPLICIT_FLOOR`` x its threshold (:mod:`.labelling`).

Written against the project's own labelled sentences (``data/sentences/ownership.jsonl``, fictional vendors, no
text of the dev set): it finds 99 of the 120 statements of a legitimate party's compromise and none of the 183
others (attacker-obtained certificates, validation flaws, negated statements, other security news);
``tests/test_explicit.py`` pins both. Regular expressions only, no model.
"""

from __future__ import annotations

import re

from .guard import _CLAUSE, TAKEN_PARTICIPLE, clause_verdict, quotable

# The artefacts whose owner a statement can name.
_ART = (r"(?:(?:code|driver|firmware|token|saml|package|update|release)[- ]?signing (?:keys?|certificates?)|"
        r"signing (?:keys?|certificates?)|private (?:signing |code[- ]signing )?keys?|"
        r"(?:secret |signing |private )?key material|root (?:ca|certificates?|keys?)|"
        r"(?:digital |ssl |tls |authenticode |developer |code[- ]signing )?certificates?|certs?\b|"
        r"(?:digital |valid |legitimate )?signatures?|(?:platform|secure boot|master|secret|backdoor|firmware) keys?|"
        r"(?:boot ?)?rom keys?|(?:boot guard|bootloader) keys?|"
        r"update (?:mechanism|servers?|channels?|infrastructure)|build (?:servers?|systems?|environments?|pipelines?)|"
        r"download servers?|(?:code[- ])?signing (?:infrastructure|servers?|systems?))")
# "Opera", "Tessaro Networks", "3CX" (a name may start with digits before its capital)
_CAP = r"(?-i:\d*[A-Z])"
_NAME = r"(?P<name>" + _CAP + r"[\w.&-]*(?:\s" + _CAP + r"[\w.&-]*)*)"
_NAME_OR_DOMAIN = r"(?P<name>" + _CAP + r"[\w.&-]*(?:\s" + _CAP + r"[\w.&-]*)*|[\w-]+\.(?:com|net|org)\b)"
_PRONOUN = r"(?:its|their|the (?:company|vendor|firm|developer|manufacturer|maker)(?:['’]s|s['’]))"  # possessive
_OWNER = r"(?:\b" + _NAME + r"(?:'s|’s)|\b" + _PRONOUN + ")"
# "Opera's certificate", "its private code-signing keys"
OWNER_BEFORE = re.compile(_OWNER + r" (?:own |legitimate |valid |official |trusted |genuine )?(?:[\w-]+ ){0,2}" + _ART,
                          re.I)
# "a certificate from a Taiwanese company", "the private key of the php.net SSL certificate"
OWNER_AFTER = re.compile(
    _ART + r" (?:[\w-]+ ){0,2}?(?:of|for|from|belonging to|belongs to|owned by|issued to|registered to|used by) "
    r"(?:a |an |the |two |several |other |legitimate )?(?:[\w-]+ )??"
    r"(?:" + _NAME_OR_DOMAIN + r"|(?:legitimate|trusted|hardware|software|third[- ]part)\w*)", re.I)
# "a stolen digital certificate", "stealing code-signing certificates"
STOLEN_ART = re.compile(r"\b(?:stolen|stole|steal(?:s|ing)?|leak(?:s|ed|ing)|compromised|hijacked|abused|misused|exfiltrated) "
                        r"(?:[\w-]+ ){0,3}" + _ART, re.I)
# "the certificate used to sign the backdoor had been stolen from ...", "its signing key was stolen"; a particular
# artefact, not "a certificate, or one whose private key has been stolen" in general
ART_STOLEN = re.compile(r"(?:\b(?:the|its|their|this|that)|['’]s) (?:[\w-]+ ){0,2}?" + _ART +
                        r" (?:[\w'’-]+ ){0,8}?(?:(?:stolen|taken|exfiltrated|obtained|leaked) from|"
                        r"(?:was|were|been|is|are) (?:stolen|exfiltrated|leaked|abused|misused|compromised|extracted|"
                        r"cracked))\b", re.I)
SIGNED_STOLEN = re.compile(r"\bsigned (?:with|by|using) (?:an? |the )?(?:stolen|leaked|compromised|legitimate|valid|"
                           r"genuine|trusted)\b", re.I)
# "attackers used Acme's Authenticode certificate to sign the spyware": misuse even without a theft verb. What is
# signed must be malicious ("Microsoft used its own certificate to sign the update" is a vendor at work); minting or
# forging with another's key always is.
_MALICIOUS = (r"(?:malware|malicious|spyware|trojan|backdoor|keylogger|rootkit|ransomware|implant|payload|loader|"
              r"virus|worm|dropper|stealer|fake|rogue|forged|bogus|counterfeit|tampered|trojani[sz]ed|booby)")
USED_TO_SIGN = re.compile(r"\b(?:used|abused|misused|using) (?:a |an |the )?(?:[\w.&-]+ ){0,3}?(?:" + _NAME +
                          r"(?:'s|’s|s'|’)|" + _PRONOUN + r") (?:[\w-]+ ){0,3}?" + _ART +
                          r" to (?:(?:mint|forge)\b|(?:sign|issue) (?:[\w-]+ ){0,3}?" + _MALICIOUS + ")", re.I)
# The kinds of artefact that are always their owner's own (below: _SIGNING_KEY, _SIGNING_ART).
# A console's or board's boot ROM, Boot Guard and bootloader keys are its maker's platform keys: leaked, they let
# anyone run firmware as the maker's ("PlayStation 5 ROM keys leak online", the MSI / Intel Boot Guard leak).
_SIGNING_KIND = (r"(?:(?:code|driver|firmware|token|saml|package|update|release)[- ]?signing |signing |platform |"
                 r"firmware |secure boot |(?:boot ?)?rom |boot guard |bootloader )")
# "The attackers obtained an inactive Microsoft account signing key and used it to mint tokens": a named party's key
# in others' hands, told by what they did with it. Keys only: "obtained a Comodo code-signing certificate and used it
# to sign malware" is a certificate the crooks bought from a CA, the label's near miss.
_SIGNING_KEY = r"(?:" + _SIGNING_KIND + r"|private )keys?"
OBTAINED_TO_SIGN = re.compile(r"\b(?:obtained|acquired|got hold of|gained access to|took) (?:an? |the )?(?:[\w-]+ ){0,2}?"
                              r"(?:" + _NAME + r"(?:'s|’s)?|" + _PRONOUN + r") (?:[\w-]+ )?" + _SIGNING_KEY +
                              r" (?:[\w-]+ ){0,4}?(?:and )?used (?:it|them) to (?:(?:mint|forge)\b|(?:sign|issue) "
                              r"(?:[\w-]+ ){0,3}?" + _MALICIOUS + ")", re.I)
# "signed the keylogger with the company's own signing key": the same misuse, told from the signature.
SIGNED_WITH_OWNERS = re.compile(r"\bsigned (?:[\w-]+ ){0,3}?" + _MALICIOUS + r"\w* (?:[\w-]+ ){0,2}?(?:with|using) (?:" +
                                _NAME + r"(?:'s|’s|s'|’)|" + _PRONOUN + r") (?:[\w-]+ ){0,3}?" + _ART, re.I)
# "MediaTek platform certificates were abused", "Nvidia code-signing certificates were stolen": a named party's
# signing keys or certificates, the name as a modifier. Only artefacts that are always their owner's own (signing,
# platform, firmware keys): "Apple developer certificates were abused" (enrolled under fake names) and "Comodo
# certificates were abused" (issued to phishers) are near misses, and the determiners of a general statement
# ("Some signing keys were leaked") are no name.
_SIGNING_ART = _SIGNING_KIND + r"(?:keys?|certificates?)"
# Headlines drop the auxiliary ("Samsung platform certificates abused to sign malware"). A plain certificate of a
# named party counts when it was taken, not merely abused ("Mimecast certificate compromised by hackers").
_NOT_A_NAME = r"(?!(?-i:(?:Some|Several|Many|Other|These|Those|Such|Most|All|No|Any|Two|Three|Both|Their|Its|The|A|An)\b))"
_BEEN = r"(?:(?:was|were|had been|have been|has been) )?"
NAMED_ART_STOLEN = re.compile(
    r"\b" + _NOT_A_NAME + _NAME + r" (?:[\w-]+ )?(?:" + _SIGNING_ART + r" (?:[\w'’-]+ ){0,6}?(?:" + _BEEN +
    TAKEN_PARTICIPLE + r"|leaks? online)|(?:digital |ssl |tls )?certificates? " + _BEEN +
    r"(?:stolen|exfiltrated|leaked|compromised))\b", re.I)
# "a certificate used to authenticate its products to Microsoft 365 was compromised": an artefact named by the
# legitimate use a party put it to.
USED_FOR_OWNER = re.compile(_ART + r" (?:that (?:was|is) |which (?:was|is) )?used (?:to|for) (?:[\w-]+ )?(?:" + _NAME +
                            r"(?:'s|’s)|" + _PRONOUN + r") ", re.I)
# "Lapsus$ leaks Samsung source code including bootloader signing keys": a named party's keys inside what was taken
# ("leaked Acme source code containing no signing keys" is negated, which the guard's verdict rules out).
TAKEN_INCLUDING = re.compile(r"\b(?:stole|stolen|steal(?:s|ing)?|leak(?:s|ed|ing)?|exfiltrated|exposed|dumped) (?:[\w-]+ )?" +
                             _NOT_A_NAME + _NAME + r" (?:[\w-]+ ){0,3}?(?:including|with|containing|along with) "
                             r"(?:[\w-]+ ){0,2}?" + _SIGNING_ART, re.I)
_OWNED = (OWNER_BEFORE, OWNER_AFTER, STOLEN_ART, ART_STOLEN, SIGNED_STOLEN, NAMED_ART_STOLEN, USED_FOR_OWNER,
          TAKEN_INCLUDING)
# A key to a cloud account, a bucket or an API is a credential, not a signing artefact: "the firm's master key to
# its Amazon Web Services account", "an AWS secret access key left in a public repository". Common in modern
# breach news, and an explicit statement in a lead flags at any model score.
_CREDENTIAL = re.compile(r"\b(?:(?:aws|amazon web services|api|access|cloud|s3|azure|gcp|storage|database)\b"
                         r"(?: [\w-]+){0,2}? keys?|keys? (?:[\w-]+ ){0,2}?(?:to|for) (?:[\w.&'’-]+ ){0,4}?"
                         r"(?:accounts?|buckets?|consoles?|databases?|apis?|storage))\b", re.I)
_SIGNS = re.compile(r"\b(?:sign\w*|certificates?|certs?)\b", re.I)
_RULED_OUT = ("negated", "hypothetical", "near-miss", "flaw")


# Every artefact ``_ART`` names holds one of these: a substring test before the regular expressions, which cost
# ~0.1 ms a sentence and now run on every document's lead (labelling.EXPLICIT_LEAD).
_ART_WORDS = ("cert", "key", "sign", "root ca", "update", "build", "download server")


def explicit_statement(sentence: str) -> bool:
    """Whether some clause of ``sentence`` states a compromise of a signing artefact and names whose it was."""
    low = sentence.lower()
    if not any(word in low for word in _ART_WORDS):
        return False
    for clause in _CLAUSE.split(sentence):
        if not clause or not clause.strip() or (_CREDENTIAL.search(clause) and not _SIGNS.search(clause)):
            continue
        verdict = None
        if USED_TO_SIGN.search(clause) or SIGNED_WITH_OWNERS.search(clause) or OBTAINED_TO_SIGN.search(clause):
            verdict = clause_verdict(clause)
            if verdict not in _RULED_OUT:
                return True
        if any(p.search(clause) for p in _OWNED) and (verdict or clause_verdict(clause)) == "yes":
            return True
    return False


def explicit_evidence(sentences: list[str]) -> int:
    """The index of the sentence (title first, then body units) that states whose artefact was compromised: the
    first such body sentence fit to quote, else the title; -1 when there is none."""
    found = [i for i, s in enumerate(sentences) if explicit_statement(s)]
    return quotable(found, sentences)[0] if found else -1


# "a Taiwanese company", "Chinese electronics suppliers": an owner described, not named.
_DESCRIBED = re.compile(r"\s+(?:[a-z]+\s+)?(?:compan(?:y|ies)|firms?|vendors?|makers?|manufacturers?|suppliers?|developers?|"
                        r"providers?|contractors?|organi[sz]ations?|businesses)\b")


def explicit_owner(sentence: str) -> str:
    """The name of the party whose artefact an explicit statement says was compromised ("Opera" in "signed with
    Opera's certificate", "php.net" in "the private key of the php.net SSL certificate"); "" when the statement
    describes the owner without naming it ("a Taiwanese company", "its", "third-party certificates")."""
    for clause in _CLAUSE.split(sentence):
        if not clause or not clause.strip():
            continue
        for pattern in (USED_TO_SIGN, OBTAINED_TO_SIGN, OWNER_BEFORE, OWNER_AFTER, NAMED_ART_STOLEN, USED_FOR_OWNER,
                        TAKEN_INCLUDING):
            for m in pattern.finditer(clause):
                name = (m.group("name") or "").rstrip(".")
                if name and not _DESCRIBED.match(clause, m.end("name")) and explicit_statement(clause):
                    return name
    return ""
