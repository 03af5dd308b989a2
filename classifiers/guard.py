"""The digest's own guard for the headline label: no red flag without a sentence that says so.

The model scores how much a document *resembles* a supply-chain signing-key compromise; near
misses resemble one closely ("the leaked code contained no signing keys", "malware signed with a
certificate its authors bought", "a flaw let forged certificates pass validation"). A reader's
trust needs more than resemblance: a flagged document must hold one sentence (title or body) in
which a signing artefact of some party -- certificate, code-/token-/SAML-/firmware-signing key,
platform key, a build system or update channel -- is stolen, leaked, exposed, compromised,
misused or tampered with, and that statement is neither negated ("no ... was compromised"),
hypothetical ("an attacker who obtains the key could ...") nor a known near miss (bought or
self-signed certificates, validation flaws, expiry, free TLS certificates).

Pure functions over sentences (``classifiers.passages.document_units``); regular expressions
only, no model, nothing of a head's internals: per-sentence model margins, when given, only choose
among qualifying sentences, so a new head plugs in unchanged. Used by ``classifiers.labelling``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from supplywatch.store.text import evidence_ok

from .lexical import COMPROMISE_WORD

# A signing artefact: what, when stolen, lets someone act with a legitimate party's authority. An all-capitals
# "CERT" ("US-CERT", "CERT-In", "the computer emergency response team (CERT)") is a response team, not a cert.
# "certificate transparency" (public logs) is not one; bare "SAML tokens" are what a key mints.
SIGNING = re.compile(
    r"\b(?:(?:code|driver|firmware|token|saml|package|update|release)[- ]?signing|signing[- ](?:keys?|certificates?|"
    r"material|credentials?|infrastructure|server|service|system)|private[- ]keys?|root (?:ca|certificates?|keys?)|"
    r"certificate[- ]authorit(?:y|ies)|(?<![\w-])CAs?(?![\w-])|certificates?(?! transparency)|(?<![\w-])(?-i:[Cc]erts?)\b|"
    r"platform keys?|secure boot keys?|(?:boot ?)?rom keys?|(?:boot guard|bootloader) keys?|firmware keys?|"
    r"(?:master|golden|secret|backdoor) keys?|"
    r"(?:vendor'?s|own) keys?|(?:secret |signing |private )?key material|keys? used to sign|signed (?:with|by|using)|"
    r"(?:valid|legitimate|genuine|digital) signatures?|digitally signed|"
    r"signed (?:update|installer|driver|firmware|release|version|binar(?:y|ies))s?|"
    # a vendor's own application credential ("credentials its products use to connect to ...")
    r"credentials? (?:that |which )?(?:its|their|the (?:vendor|company)'?s?) (?:products?|apps?|applications?|"
    r"services?|software|integrations?) (?:use|uses|rely))\b",
    re.I,
)
# The delivery path: a compromise of these ships the attacker's code under the vendor's name.
CHANNEL = re.compile(
    r"\b(?:build (?:servers?|systems?|environments?|pipelines?|infrastructure|machines?)|(?:its|the) pipeline|"
    r"update (?:servers?|channels?|mechanisms?|infrastructure|systems?)|(?:software|automatic|signed|legitimate) updates?|"
    r"distribution servers?|download servers?)\b",
    re.I,
)
# Something happened to the artefact. "stole X from build servers" is theft *from* a channel, so
# channels take the intrusion/tampering verbs only. "hackers" is an actor, not an act: flaw stories say "the bug
# lets hackers impersonate any certificate", and a theft has its verb ("hackers stole", "was hacked"). An
# "intrusion prevention (or detection) system" is a product.
TAKEN = re.compile(
    r"\b(?:stole|stolen|steal(?:s|ing)?|theft|thie(?:f|ves)|lifted|made off with|leak(?:ed|s|ing)?|exposed?|exposure|"
    + COMPROMISE_WORD + "|"
    r"misused?|misusing|abus(?:e|ed|ing)|hijack(?:ed|ing)?|fraudulent(?:ly)?|rogue|counterfeit|taken|copied|exfiltrat\w*|"
    r"obtained by|fell into|in the wrong hands|turned up|(?:posted|published|committed|uploaded) (?:online|publicly|to)|"
    r"public(?:ly accessible)? (?:code )?repositor(?:y|ies)|forg(?:e|ed|ing|ery)|breach(?:ed|es)?|hacked|"
    r"intrusion(?! (?:prevention|detection))|intruders?|broke(?:n)? into|trojani[sz]ed|backdoor(?:ed|s)?|"
    r"tamper(?:s|ed|ing)?|cracked|accessed|"
    r"extract(?:ed|able)|fake|spoof(?:ed|ing)?|belonging to|gained access|"
    r"(?:accident\w*|mistakenly|inadvertently|unknowingly) (?:publish|post|upload|releas|leak|expos|disclos|ship)\w*|"
    r"publish(?:ed|es|ing)? (?:its|their|the) (?:private|secret|signing|code[- ]signing)|"
    r"malicious (?:updates?|code|versions?|builds?|images?|installers?|drivers?|releases?))\b",
    re.I,
)
INTRUSION = re.compile(
    r"\b(?:" + COMPROMISE_WORD + r"|breach(?:ed|es)?|hacked|"
    r"intrusion(?! (?:prevention|detection))|intruders?|broke(?:n)? into|"
    r"infiltrat\w*|gained access|inserted|injected|planted|tamper(?:s|ed|ing)?|trojani[sz]ed|backdoor(?:ed|s)?|hijack(?:ed)?|"
    r"malicious (?:updates?|code|versions?|builds?|images?|installers?|drivers?|releases?))\b",
    re.I,
)
# A compromise participle that modifies another noun is about that noun: "installs its own root certificate on
# compromised machines", "phishing pages on hacked websites". What was compromised is the machine, not the
# certificate the clause also names. ("compromised build servers" and "hijacked update channel" name an artefact
# next, so they still count; so does "a compromised account was used to issue certificates": an issuing account
# is the CA's capability.)
OTHER_OBJECT = re.compile(
    r"\s+(?:[a-z-]+\s+)?(?:machines?|computers?|systems?|networks?|hosts?|devices?|endpoints?|servers?|"
    r"websites?|sites?|web ?pages?|pages|routers?|PCs?|laptops?|phones?|"
    r"smartphones?|victims?|users?|environments?|infrastructure)\b(?!['’])", re.I)  # not "the computer's certificates"
PARTICIPLE = re.compile(r"(?:" + COMPROMISE_WORD + r"|hacked|breached|hijacked|infected|backdoored|trojani[sz]ed)$", re.I)
# "forged" or "fake certificates" are the product of a validation flaw as often as of a stolen key.
FORGE_ONLY = re.compile(r"\b(?:forg(?:e|ed|ing|ery)|fake|spoof(?:ed|ing)?)\b", re.I)
# A key rotated or a certificate revoked "as a precaution" after a breach: the party is acting on a breach, not saying
# the artefact was taken ("F5 rotated its signing certificates and keys as a precaution"). Common in later breach
# news, and an explicit statement in a lead flags at any score. Only a theft word on the artefact itself still
# counts ("revoked the stolen certificate as a precaution", "its signing keys were stolen").
PRECAUTION = re.compile(r"\b(?:as a precaution(?:ary (?:measure|step))?|precautionary|out of (?:an )?(?:abundance of )?"
                        r"caution|proactively|pre-?emptively)\b", re.I)
ROTATION = re.compile(r"\b(?:rotat|revok|replac|re-?issu|renew|reset)\w*", re.I)
# The participles that say an artefact itself was taken (also explicit.NAMED_ART_STOLEN's).
TAKEN_PARTICIPLE = r"(?:stolen|leaked|compromised|exfiltrated|abused|misused)"
_TAKEN_BEFORE = re.compile(r"\b" + TAKEN_PARTICIPLE + r"\s+(?:[\w-]+\s+){0,2}$", re.I)
_TAKEN_AFTER = re.compile(r",?\s+(?:[\w'’-]+\s+){0,3}?(?:was|were|had been|has been|have been)\s+" + TAKEN_PARTICIPLE + r"\b",
                          re.I)
# A certificate faked in the middle of a connection ("a man-in-the-middle attack to fake a certificate",
# "pretending to be signed by a trusted CA") is interception or impersonation, not an issuer's stolen key.
FORGED_IN_TRANSIT = re.compile(r"\b(?:man[- ]in[- ]the[- ]middle|MITM|interception|intercept(?:s|ed|ing)?|"
                               r"pretend(?:s|ed|ing)? to be|impersonat\w+|posing as|masquerad\w+)", re.I)
FLAW = re.compile(r"\b(?:flaws?|bugs?|vulnerabilit(?:y|ies)|vulnerable|"
                  r"CVE-\d{4}-\d+|validat(?:e|ed|es|ion|ing)|pass(?:ed)? checks?)\b",
                  re.I)
# Certificates with no legitimate victim, or trouble that is not theft.
NEAR_MISS = re.compile(
    r"\b(?:bought|buy(?:s|ing)?|purchas(?:e|ed|es|ing)|shell compan(?:y|ies)|front compan(?:y|ies)|self[- ]signed|"
    r"expir(?:e|ed|es|y|ing|ation)|let'?s encrypt|free (?:tls |ssl |https )?certificates?|"
    r"issued (?:directly )?to (?:the )?(?:malware|its|their|illicit|criminal|malicious) (?:authors?|operators?|parties|actors?)|"
    # the attackers' own ("the operators install their own root certificate", "hackers signed it with their own
    # certificate"): the attackers obtained it themselves, so no legitimate party's artefact was compromised
    r"(?:attackers?|hackers?|operators?|criminals?|crooks|gangs?|actors?|authors?)\b[^.;]{0,60}?\b(?:their|its) own "
    r"(?:[\w-]+ ){0,2}?(?:certificates?|keys?|signatures?|CAs?)|"
    r"illicit parties|pinning|heartbleed|padding oracle|"
    r"(?:certificate|signature|chain) validation|validation (?:flaws?|bugs?|checks?)|wallets?|seed phrases?|"
    r"(?:users?|customers?|holders?)['’]? (?:own )?private keys?|"
    # a ransomware's decryption key ("the private key lets victims decrypt their files") signs nothing
    r"decrypt(?:s|ed|ing)? (?:their |the |victims['’]? |your |encrypted |locked |all )*files)\b",
    re.I,
)
# Malware that steals its victims' certificates among their other data ("steals passwords, digital certificates,
# browser history and cookies") is an information stealer, not a compromise of a signing party. Capabilities are
# told in the present or the infinitive; a past "stole" narrates an incident and stays a compromise.
STEALER = re.compile(r"\b(?:steal|steals|stealing|collects?|collecting|harvests?|harvesting|grabs?|grabbing)\b", re.I)
VICTIM_DATA = re.compile(r"\b(?:passwords?|cookies|browser history|screenshots?|keystrokes|account details|audio|"
                         r"banking credentials)\b", re.I)
SIGNING_QUALIFIED = re.compile(r"\b(?:code|driver|firmware|token|saml|package|update|release)[- ]?signing\b|"
                               r"\bsigning (?:keys?|certificates?)\b", re.I)
# An artefact named as part of a flaw's name ("the Android Master Key vulnerability") is the flaw, not a key.
FLAW_NAME = re.compile(r"\W{0,2}\s*(?:vulnerabilit(?:y|ies)|flaws?|bugs?)\b", re.I)
# Negations that govern the rest of their clause ("none of the leaked material could be used to tamper ...").
STRONG_NEGATION = re.compile(r"\b(?:none|nothing|nobody|neither|no (?:evidence|indication|sign|suggestion)s?|"
                             r"den(?:y|ies|ied))\b", re.I)
NEGATION = re.compile(r"\b(?:no|not|never|none|nobody|nothing|neither|nor|without|cannot|can't|n't)\b|\w+n't\b", re.I)
# "cannot rule out that the key was misused" asserts the risk: not a negation.
DOUBLE_NEGATION = re.compile(r"\b(?:can ?not|can't|could ?not|couldn't|did not|didn't|unable to) (?:rule out|exclude)\b",
                             re.I)
HYPOTHETICAL = re.compile(r"\b(?:can|could|may|might|would|need(?:ed)? to|had to|how to|ways? to)\b", re.I)
# A clause about what anyone could do ("someone holding a certificate could sign a fake one") is not news of a theft.
# A purpose ("so that a compromised build server cannot sign") is what a measure is for, not what happened; a
# result ("modified build scripts so that a backdoor was compiled in") is what happened.
STRONG_HYPOTHETICAL = re.compile(r"\b(?:if|whoever|anyone|someone|an attacker who|attackers who|"
                                 r"so that(?=(?:\W+\w+){0,8}?\W+(?:can|cannot|can't|could|will|won't|would|may|might)\b))\b",
                                 re.I)
# "this attack may be used to steal private keys", "the key would have allowed hackers to compromise its servers":
# what something could let someone do, told as an infinitive ("to steal") anywhere after the modal in its clause.
ENABLING = re.compile(r"\b(?:can|could|may|might|would)(?: have)?(?: be used| allow(?:ed)?| let| enable(?:d)?| help(?:ed)?|"
                      r" make it (?:\w+ )?(?:easier|possible))\b", re.I)
_INFINITIVE = re.compile(r"\bto\s+$", re.I)
# "attackers may have accessed the key" reports a possible past compromise; "could sign malware" does not.
PAST_POSSIBLE = re.compile(r"\b(?:may|might|could|must) (?:well |also )?have\b", re.I)
_CLAUSE = re.compile(r";|:\s|\s[—–]\s|,\s+(?:but|yet|while|whereas|although|though)\s|\s+rather than\s|\s+but\s", re.I)
_WORD = re.compile(r"[\w'’-]+")
_PASSIVE_GAP = re.compile(r"\s+(?:(?:was|were|is|are|been|being|had|has|have)\s+)*", re.I)
MAX_GAP = 12  # words between an artefact and its compromise word
NEG_WINDOW = 6  # words before an artefact or compromise word in which a negation governs it
HYP_WINDOW = 4


@dataclass(frozen=True)
class GuardResult:
    passes: bool
    evidence: int  # index into the sentences; -1 when none qualifies
    reason: str


def _words_before(clause: str, pos: int, n: int) -> str:
    return " ".join(_WORD.findall(clause[:pos])[-n:])


def _governed(clause: str, pos: int, cue: re.Pattern[str], window: int) -> bool:
    """Whether ``cue`` occurs in the ``window`` words before ``pos``, or its strong form anywhere before it
    in the clause, and not as part of "cannot rule out"."""
    before = _words_before(clause, pos, window + 2)
    if DOUBLE_NEGATION.search(before):
        return False
    near = cue.search(" ".join(before.split()[-window:])) is not None
    strong = STRONG_NEGATION if cue is NEGATION else STRONG_HYPOTHETICAL
    # searched in the whole clause (a purpose's "so that" looks ahead for its modal), counted when it starts before pos
    return near or any(m.start() < pos for m in strong.finditer(clause))


# Malware carrying a named company's certificate ("the worm also carries the certificate of Acme Audio"):
# misuse of a legitimate party's certificate even when no theft verb is written.
NAMED_OWNER = re.compile(r"\b(?:certificates?|signatures?|signing keys?) (?:of|belonging to|stolen from) (?-i:[A-Z])", re.I)
MALWARE = re.compile(r"\b(?:malware|virus|worms?|trojans?|rootkits?|infected|infects|spyware|ransomware|backdoors?)\b", re.I)


def clause_verdict(clause: str) -> str:
    """"yes" when the clause states a compromise of a signing artefact or delivery channel, else why not:
    "no-artefact", "no-compromise", "negated", "hypothetical", "near-miss", "flaw"."""
    artefacts = [(m, TAKEN) for m in SIGNING.finditer(clause)] + [(m, INTRUSION) for m in CHANNEL.finditer(clause)]
    if not artefacts:
        return "no-artefact"
    if NEAR_MISS.search(clause):
        return "near-miss"
    if STEALER.search(clause) and VICTIM_DATA.search(clause) and not SIGNING_QUALIFIED.search(clause):
        return "near-miss"
    owner = NAMED_OWNER.search(clause)
    if owner and MALWARE.search(clause) and not _governed(clause, owner.start(), NEGATION, NEG_WINDOW):
        return "yes"
    if any(FLAW_NAME.match(clause, art.end()) for art, _ in artefacts):
        return "flaw"  # the clause is about the flaw its artefact names
    why = "no-compromise"
    precaution = bool(PRECAUTION.search(clause) and ROTATION.search(clause))
    for art, verbs in artefacts:
        if precaution and not (_TAKEN_BEFORE.search(clause[:art.start()]) or _TAKEN_AFTER.match(clause, art.end())):
            why = "near-miss"
            continue
        for hit in verbs.finditer(clause):
            if art.start() <= hit.start() < art.end():
                continue  # the artefact phrase itself ("signed update") is not its own compromise
            if PARTICIPLE.search(hit.group()) and (hit.end() <= art.start() or hit.start() >= art.end()):
                nxt = OTHER_OBJECT.match(clause, hit.end())
                if nxt and not any(a.start() < nxt.end() and hit.end() <= a.start() for a, _ in artefacts):
                    continue  # "compromised machines": the participle's noun is not the artefact
            gap = clause[min(art.end(), hit.end()):max(art.start(), hit.start())]
            if len(_WORD.findall(gap)) > MAX_GAP:
                continue  # too far apart to be about each other ("... signed app ... used to steal data")
            if FORGE_ONLY.fullmatch(hit.group()):
                if FLAW.search(clause):
                    why = "flaw"
                    continue
                if FORGED_IN_TRANSIT.search(clause):
                    why = "near-miss"
                    continue
                # The forgery must be the artefact's: "fake SSL certificate", "certificates were spoofed";
                # not "certs for fake Teams installers" (real certificates on fake software).
                if hit.start() < art.start():
                    if len(_WORD.findall(clause[hit.end():art.start()])) > 2:
                        continue
                elif not _PASSIVE_GAP.fullmatch(clause[art.end():hit.start()]):
                    continue
            if _governed(clause, art.start(), NEGATION, NEG_WINDOW) or _governed(clause, hit.start(), NEGATION,
                                                                                   NEG_WINDOW):
                why = "negated"
                continue
            if _governed(clause, hit.start(), HYPOTHETICAL, HYP_WINDOW) and not PAST_POSSIBLE.search(
                    _words_before(clause, hit.start(), HYP_WINDOW)):
                why = "hypothetical"
                continue
            if _INFINITIVE.search(clause[:hit.start()]) and ENABLING.search(clause[:hit.start()]):
                why = "hypothetical"
                continue
            return "yes"
    return why


def sentence_verdict(sentence: str) -> str:
    """The best verdict over the sentence's clauses ("yes" if any clause states a compromise)."""
    order = ("yes", "negated", "hypothetical", "near-miss", "flaw", "no-compromise", "no-artefact")
    verdicts = [clause_verdict(c) for c in _CLAUSE.split(sentence) if c and c.strip()]
    return min(verdicts or ["no-artefact"], key=order.index)


def names_artefact(sentence: str) -> bool:
    """Whether the sentence names a signing artefact or delivery channel at all (issue 16's cap)."""
    return bool(SIGNING.search(sentence) or CHANNEL.search(sentence))


def quotable(found: Sequence[int], sentences: Sequence[str]) -> list[int]:
    """Of the qualifying sentences ``found`` (indices, title first), those fit to quote as evidence: body sentences
    that are no heading or table row, else any body sentence, else the title (a reader has just read it)."""
    body = [i for i in found if i > 0]
    return [i for i in body if evidence_ok(sentences[i], sentences[0])] or body or list(found)


def headline_guard(sentences: Sequence[str], margins: Sequence[float] | None = None) -> GuardResult:
    """Whether a headline flag may stand on ``sentences`` (title first, then body units).

    Passes when some sentence states a compromise of a signing artefact (:func:`sentence_verdict`).
    The evidence is the qualifying body sentence with the best model margin (the first one without
    margins), headings and table rows passed over; the title only when it alone qualifies, since a
    reader has just read it. The reason says why a document was vetoed: the most telling verdict
    among its artefact sentences.
    """
    verdicts = [sentence_verdict(s) for s in sentences]
    good = [i for i, v in enumerate(verdicts) if v == "yes"]
    if good:
        body = quotable(good, sentences)
        best = max(body, key=lambda i: margins[i]) if margins is not None else body[0]
        return GuardResult(True, best, "states a compromise of a signing artefact")
    for why in ("near-miss", "flaw", "negated", "hypothetical", "no-compromise"):
        if why in verdicts:
            return GuardResult(False, -1, {
                "negated": "every statement of a compromise is negated",
                "near-miss": "a near miss (bought, self-signed or expired certificates, free TLS, validation, users' own keys)",
                "flaw": "forgery through a validation flaw, not a stolen key",
                "hypothetical": "a compromise only as a possibility",
                "no-compromise": "names a signing artefact but no compromise of it",
            }[why])
    return GuardResult(False, -1, "no sentence names a signing artefact")


def cap_headline(score: float, sentences: Sequence[str], threshold: float, *, factor: float = 0.9) -> float:
    """Issue 16: a document none of whose sentences names a signing artefact cannot be confident.

    Caps ``score`` at ``factor * threshold`` (below the flag) when no sentence names one; else unchanged.
    """
    if any(names_artefact(s) for s in sentences):
        return score
    return min(score, factor * threshold)
