"""Which later incidents' leads the explicit patterns read (benchmarks/QUALITY.md): one sentence each, written
for this probe in our own words from public accounts of incidents after dev.jsonl's years (2019-2023), then near
misses. A positive the patterns miss is flagged only if the head scores it over its threshold; a near miss they read
would flag at any score. Prints each sentence with EXPL (read) or ---- and the counts.
Usage: python benchmarks/detection_research/modern_leads.py"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from supplywatch.classifiers.explicit import explicit_evidence  # noqa: E402

POSITIVES = [
 "Chinese hackers used a stolen Microsoft consumer signing key to forge authentication tokens and read government email.",
 "The attackers obtained an inactive Microsoft account signing key and used it to mint tokens for Outlook Web Access.",
 "A trojanized build of the 3CX desktop app, signed with 3CX's own certificate, was pushed to customers through the normal update.",
 "Ransomware gang leaks MSI's private firmware signing keys, putting Intel Boot Guard on affected laptops at risk.",
 "Malware signed with Nvidia's stolen code-signing certificates has been spotted in the wild after the Lapsus$ breach.",
 "Samsung, LG and MediaTek platform certificates were abused to sign malicious Android apps.",
 "Hackers compromised the build system of SolarWinds and slipped a backdoor into digitally signed Orion updates.",
 "Attackers hijacked ASUS's Live Update servers to push a backdoor signed with legitimate ASUS certificates.",
 "GitHub revokes code-signing certificates for GitHub Desktop and Atom after they were stolen in a breach.",
 "Mimecast says a certificate used to authenticate its products to Microsoft 365 was compromised by a sophisticated threat actor.",
 "Threat actors stole a private key that JumpCloud used to sign software updates.",
 "The attackers gained access to the company's code-signing infrastructure and signed their malware with its key.",
 "HashiCorp rotates its GPG signing key after the Codecov breach exposed it.",
 "Microsoft revoked the certificates after attackers abused its Windows Hardware Developer Program to sign malicious drivers.",
]
NEAR_MISSES = [
 "The leaked source code contained no signing keys, the company said.",
 "Researchers found malware signed with a certificate the criminals bought from a reseller.",
 "F5 rotated its signing certificates as a precaution, and said there is no evidence they were misused.",
 "A flaw in Windows certificate validation lets attackers spoof code signatures.",
 "F5 is rotating its signing keys out of an abundance of caution after the breach.",
]
# Headlines of the same incidents, in headline grammar (no auxiliaries, present tense), and near-miss headlines.
TITLES = [
 "Stolen Nvidia certificates used to sign malware",
 "Hackers breach 3CX, push trojanized desktop app to customers",
 "MSI confirms breach as ransomware gang leaks firmware signing keys",
 "Microsoft: Chinese hackers stole signing key to breach government email",
 "Samsung, LG platform certificates abused to sign Android malware",
 "GitHub says hackers stole code-signing certificates for Desktop and Atom",
 "Mimecast certificate compromised by hackers, customers told to re-add connection",
 "Codecov hackers breached hundreds of networks via modified Bash Uploader",
 "ASUS pushed backdoored updates to 1 million PCs, researchers say",
 "SolarWinds hackers compromised Orion build server to insert Sunburst backdoor",
 "Lapsus$ leaks Samsung source code including bootloader signing keys",
 "Intel Boot Guard keys leaked in MSI ransomware breach",  # session 28
 "PS5 boot ROM keys leak online, opening the door to custom firmware",  # session 28
]
NEAR_MISS_TITLES = [
 "Okta says hackers stole customer support files, not signing keys",
 "Ransomware gang abuses Microsoft Trusted Signing to sign malware",
 "New Windows flaw lets attackers bypass driver signature checks",
 "F5 rotates signing keys as a precaution after nation-state breach",
 "Let's Encrypt to revoke 3 million certificates over bug",
 "Malware authors buy code-signing certificates from shady resellers",
 "JumpCloud resets API keys after breach by state-backed hackers",
 "Apple developer certificates abused by malware authors",
]
counts = {}
for kind, sentences in (("positives", POSITIVES), ("near misses", NEAR_MISSES), ("positive titles", TITLES),
                        ("near-miss titles", NEAR_MISS_TITLES)):
    read = 0
    for s in sentences:
        hit = explicit_evidence([s]) >= 0
        read += hit
        print("EXPL" if hit else "----", "|", s)
    counts[kind] = f"{read} of {len(sentences)}"
print("read as explicit statements:", counts)
