"""Build classifiers/data/sentences/ownership.jsonl (read by classifiers/ownership.py): project-written, sentence-level training data for the headline label.

Every sentence here was written for this project (fictional vendors, products and groups); none is
taken from any news article. Classes:

- legit_party_compromise: a legitimate party's signing key / certificate / build or update channel was
  stolen, leaked, misused, or a trojanised update went out with the party's valid signature.
- attacker_obtained: malware signed with certificates its authors bought, registered, or self-signed.
- validation_flaw: bugs in certificate validation or TLS libraries, expiry outages, CA policy news.
- negated: a signing artefact is named but explicitly not compromised / not used.
- other_security: generic breach, malware, vulnerability or attack sentences with no signing artefact.

Run: python make_sentences.py OUT.jsonl  (deterministic: fixed seed).
"""
from __future__ import annotations

import json
import random
import sys

SEED = 10

LEGIT = """
Attackers broke into Norvale Software's build server and slipped a backdoor into the installer, which then shipped with Norvale's own valid digital signature.
The trojanised version of the Pinecrest Utilities cleanup tool was signed with the company's legitimate code-signing certificate and downloaded by millions of customers.
Researchers found that the malware was signed using a certificate belonging to Halvard Systems, a Taiwanese maker of network cards.
The private signing key of Orbis Cloud was stolen during the intrusion, allowing the intruders to forge authentication tokens for any customer tenant.
Certificates stolen from two hardware vendors were used to sign the rootkit's kernel drivers so that Windows would load them without warning.
The hackers compromised Tallow Labs' update mechanism and pushed a malicious update, validly signed, to every installation of its remote-access client.
Brightmoor accidentally published its private code-signing keys inside a public firmware package, letting anyone sign software that appears to come from the company.
A rogue certificate authority intermediate issued by Castellan Trust was used to impersonate major webmail domains.
The group behind the campaign is known for supply-chain attacks and for stealing code-signing certificates from game developers.
Because the backdoored library was signed with Quillon's genuine certificate, security products trusted it and allowed it to run.
Investigators confirmed that the attackers had gained access to the certificate authority's issuing systems and created fraudulent certificates for hundreds of domains.
The leaked platform signing key lets anyone produce apps that Android devices from the manufacturer treat as trusted system software.
The token-signing certificate of the identity provider was exfiltrated, so the attackers could mint SAML tokens for any user.
Malicious code was injected into the vendor's source repository and compiled into an official release that carried the vendor's signature.
The spyware used a valid certificate issued to Meridian Audio, which the company says was stolen from a developer workstation.
Hackers who breached the software maker's network used its code-signing infrastructure to sign their own malware.
Firmware images signed with the leaked keys of the motherboard maker can bypass Secure Boot on affected laptops.
The attackers abused Renwick's signing service to have their implant signed as if it were a legitimate Renwick product.
A stolen certificate from the Korean game publisher Dawnleaf was used to sign the backdoor found on gaming servers.
The company revoked its code-signing certificate after learning that the key had been stolen and used to sign malware.
The vendor warned that its update server had been hijacked and that a malicious, signed package was distributed for three days.
Customers who installed version 4.2 received a trojanised build that was digitally signed by the developer.
Security researchers discovered the master signing keys for the vendor's devices in a leaked source-code dump.
The root certificate preinstalled on the laptops shared one private key across all machines, and the key was extracted and published.
The malware carried a legitimate digital signature from Coldwater Networks, whose certificate had been compromised in an earlier breach.
An intermediate CA certificate was misused to issue certificates that allowed interception of encrypted traffic on a corporate network.
The update channel of the accounting software was compromised, turning the vendor's trusted updates into a delivery vehicle for ransomware.
The researchers traced the signed dropper to a certificate that had been stolen from a Chinese electronics supplier.
The attackers signed their tools with a certificate taken from the victim software company, making the files look legitimate.
Thieves made off with the developer's signing keys, and fake apps signed with them began to appear in alternative stores.
The intruders modified the build pipeline so that every nightly build included a hidden backdoor signed with the official key.
Cybercriminals are using certificates stolen from legitimate companies to sign banking trojans and evade antivirus detection.
The shared private key of the adware's root certificate was cracked, letting attackers spoof any HTTPS site on affected PCs.
The certificate authority admitted that a hacker had obtained certificates for several high-profile domains after compromising a reseller account.
Microsoft warned that a signing key had been abused to forge tokens granting access to customers' email accounts.
The espionage group used a valid certificate belonging to a defence contractor to sign its implants.
The software developer confirmed that its build environment was breached and that the compromised installer bore its valid signature.
Hackers obtained the vendor's firmware signing key, allowing them to push malicious firmware that routers accept as genuine.
A code-signing certificate issued to Velmont Technologies was found on samples of the new wiper, and Velmont said the certificate had been stolen.
The attack began when the official download of the password manager was replaced with a signed, backdoored copy.
The leaked keys could be used to sign malicious updates that the vendor's devices would install automatically.
The supply-chain attack compromised the vendor's software update, which was signed with a valid certificate and reached thousands of enterprises.
The developer's private keys were exposed on a public code-hosting site, including the key used to sign release builds.
Attackers misused a certificate that the vendor had issued for internal testing to sign malware that antivirus products trusted.
The stolen certificate had been issued to a legitimate hardware company and was still valid when the malware was discovered.
The trojanised app update was pushed through the vendor's own auto-update system and carried the vendor's signature.
The breach at the certificate authority gave the attackers the ability to issue trusted certificates for any website.
A digital certificate belonging to Ashgrove Media signed the keylogger, the researchers said.
Copies of the driver signed with the stolen certificate were used to disable endpoint security on infected machines.
The vendor said an unauthorised party accessed its signing server and signed a small number of malicious files.
The attackers stole the authentication keys of the cloud provider and used them to sign access tokens.
Malware signed with a compromised certificate from a trusted software company slipped past application whitelisting.
The firm's secure boot keys leaked online, meaning that protections on millions of devices can be bypassed.
Researchers found that the certificate used to sign the backdoor had been stolen from a software company in Taiwan.
The hacking team behind the attack had earlier stolen code-signing certificates from video game companies.
Users who updated the media player last week received a version that attackers had modified and the developer had unknowingly signed.
The intruders used the compromised vendor's certificate to sign their payloads, so the files passed signature checks.
The same signing key shipped in the firmware of dozens of router models and has now been extracted and shared online.
The company confirmed that its code-signing certificate was used without authorisation to sign malicious software.
The attackers gained access to the whitelisting vendor's network and used its certificates to sign malware that its own customers' systems trusted.
""".strip().splitlines()

ATTACKER = """
The malware was signed with a certificate that its authors bought from a certificate authority using a shell company.
The ransomware's operators registered a fake company to obtain a valid code-signing certificate for their loader.
The adware carries a digital signature from a publisher that the campaign's authors created for the purpose.
Criminals are selling code-signing certificates registered under fake identities on underground forums.
The dropper was self-signed, so Windows still warned users that the publisher could not be verified.
The trojan used a certificate issued to a front company with no real business, set up by the attackers.
Researchers say the authors purchased an extended validation certificate to make their fake installer look trustworthy.
The phishing site used a free TLS certificate, so browsers displayed a padlock beside the fake bank login.
The scareware was signed with a certificate the gang obtained by submitting forged business documents to the CA.
Signed malware is increasingly common because certificates can be bought cheaply from resellers.
The miner's installer was signed by a newly registered publisher that appears to belong to the criminals themselves.
The attackers obtained the certificate legitimately in the name of a company they registered months earlier.
The fake browser update carried a signature from a certificate issued to a shell firm linked to the malware operators.
Underground markets offer certificates bought in the names of real but unsuspecting companies for a few hundred dollars.
The spyware developers signed their app with their own developer account, which Apple has since revoked.
The banking trojan's operators buy new code-signing certificates each time an old one is revoked.
The crooks generated a self-signed certificate to encrypt communications with their command server.
The installer is signed with a certificate registered to an unknown company in Cyprus that researchers believe is a front.
The malicious extension was signed with a certificate that its author requested under a false name.
Because the ransomware came with a valid signature from a certificate the attackers paid for, some antivirus engines missed it.
The adware family uses dozens of certificates, all issued to companies the operators incorporated for that purpose.
The phishing kit automatically requests free certificates for every lookalike domain it registers.
The fake antivirus was digitally signed by a company that exists only on paper and is controlled by the scammers.
The malware authors obtained Apple developer certificates with stolen identities to sign their Mac trojan.
The loader's certificate was bought from a reseller that does little checking of the buyer's identity.
The attackers set up their own certificate authority on the infected machines so that their proxy was trusted.
Researchers tracked the signed malware to certificates purchased by the same group under several business names.
A legitimate-looking signature does not mean much when criminals can buy certificates in the name of shell companies.
The potentially unwanted program is signed by its developer, an advertising company that bundles it with free software.
The attackers registered a domain and a matching certificate so that their fake update portal looked official.
""".strip().splitlines()

VALIDATION = """
A flaw in the TLS library's certificate validation lets an attacker present a forged certificate that clients accept.
The bug in the signature verification code meant that malformed certificates were treated as valid.
Thousands of websites went offline after their certificates expired over the weekend.
Browser makers will stop trusting certificates from the certificate authority after repeated policy violations.
The app does not validate SSL certificates, so anyone on the same network can intercept users' passwords.
The new version of the browser shortens the maximum lifetime of TLS certificates to 90 days.
A vulnerability in the signature check of the bootloader could let a local attacker run unsigned code.
Researchers found that the banking apps failed to pin certificates and were open to man-in-the-middle attacks.
The certificate authority announced that it will begin issuing free certificates for all domains.
An outage at the company was caused by an expired internal certificate that nobody had renewed.
The padding oracle flaw in the encryption library allowed attackers to decrypt parts of HTTPS traffic.
The patch fixes a bug in how the operating system checks code signatures on downloaded apps.
The study found that many IoT devices accept any certificate presented by a server.
Google plans to distrust certificates issued by the CA after an audit found weak verification practices.
A critical vulnerability in the OpenSSL fork could allow a specially crafted certificate to crash the server.
The update fixes a flaw that let malicious apps spoof the digital signature of system components.
The old certificate used by the devices expired, breaking updates for users who had not upgraded.
Certificate transparency logs make it easier to spot certificates issued for domains without the owner's knowledge.
The spec change will require certificate authorities to check DNS records before issuing certificates.
The smart TV's update process did not verify the signature of firmware files, letting attackers install their own.
The router's web interface uses a hard-coded self-signed certificate, which weakens encrypted connections.
Researchers demonstrated an attack that tricks the email client into showing a valid signature on a forged message.
A bug in the Java runtime allowed unsigned applets to run with the privileges of signed ones.
The vulnerability lets an attacker bypass signature checks by appending data to a signed installer file.
Chrome will show a warning for sites whose certificates were issued before the new rules took effect.
The flaw in the VPN client means it accepts expired certificates without warning the user.
The certificate pinning in the mobile app can be disabled on rooted phones, researchers showed.
Many enterprise scanners install their own root certificate to inspect encrypted traffic, which weakens TLS.
The browser vendor will remove the root certificate of a small CA that failed its annual audit.
A weakness in the SHA-1 hash function could in theory let attackers create colliding certificates.
""".strip().splitlines()

NEGATED = """
The company said the stolen backup contained no signing keys or certificates.
Investigators found no evidence that the code-signing certificate had been used to sign malicious software.
The vendor stressed that its software updates and signing infrastructure were not affected by the breach.
The leaked source code does not include the private keys needed to sign firmware, the manufacturer said.
There is no indication that the attackers accessed the certificate authority's issuing systems.
The firm rotated its certificates as a precaution, although it believes they were never exposed.
The intruders reached the corporate network but not the build servers, and all releases remain safe to install.
The malware was not signed, which made it easier for antivirus products to flag it.
Customers do not need to take any action, because no customer data or signing keys were taken.
The company confirmed that the attackers did not obtain its code-signing certificates.
The breach affected the marketing website only; the update servers run on separate infrastructure and were not touched.
Despite early reports, the certificate found in the dump was already expired and could not be used to sign code.
Researchers said the sample carried no digital signature at all.
The company's private keys were stored in hardware security modules and could not be extracted, it said.
No signed updates were altered, and the vendor has verified the integrity of every release since January.
The breached database held only hashed passwords, and no certificates or keys were stored on it.
The vendor denied claims that its certificate had been stolen, saying the signed file was a legitimate tool.
The hackers claimed to have the company's signing keys, but the firm said the files they posted were fake.
""".strip().splitlines()

OTHER = """
Hackers stole the personal details of 2 million customers from the retailer's loyalty database.
A new ransomware strain is encrypting files on hospital networks and demanding payment in bitcoin.
The vulnerability in the content management system allows remote code execution without authentication.
Police arrested three suspects accused of running a botnet of hijacked home routers.
The phishing campaign impersonates a parcel delivery service and asks victims to pay a small customs fee.
A distributed denial-of-service attack knocked the bank's online services offline for several hours.
The company patched a zero-day flaw that was being exploited to install spyware on journalists' phones.
The group breached the email servers of several government ministries in a years-long espionage campaign.
Researchers found a backdoor in a popular browser extension that had been sold to a new owner.
The exposed cloud storage bucket contained millions of records, including names and phone numbers.
The malware spreads through infected USB drives and steals documents from air-gapped networks.
A supply-chain attack on a popular open-source package inserted code that stole cryptocurrency wallets.
Attackers compromised a managed service provider and used its remote tools to deploy ransomware on clients.
The banking trojan injects fake forms into the browser to capture one-time passwords.
Security researchers disclosed a critical flaw in the router firmware that lets attackers take control of the device.
The hacktivists defaced hundreds of websites and leaked data from a police database.
A malicious package uploaded to the repository typosquatted a popular library and was downloaded thousands of times.
The state-sponsored hackers used spear-phishing emails with booby-trapped documents to gain a foothold.
The company says the breach exposed passwords, which were stored as unsalted hashes.
The worm exploits a flaw in file-sharing protocol to spread across corporate networks.
The data breach affected patients of the clinic chain, whose records were posted on a leak site.
Criminals are using fake job offers to trick developers into running malicious code.
The espionage malware records keystrokes, takes screenshots and sends them to a server in another country.
The vulnerability was fixed in the latest update, and users are urged to install it as soon as possible.
The hackers used stolen credentials to log into the company's VPN and move through the network.
A software supply-chain compromise injected a cryptominer into the npm package's latest version.
The attackers hijacked the developer's account on the code repository and pushed a malicious release.
Law enforcement seized the servers of the underground marketplace that sold stolen credit cards.
A flaw in the smart lock lets anyone nearby open it with a cheap radio.
The mobile app leaked users' location data through an unprotected API.
The cybercrime group targeted point-of-sale terminals at hundreds of restaurants.
The new malware family uses the Tor network to hide its command-and-control traffic.
Researchers discovered that the keyboard app was sending everything users typed to a remote server.
The ransomware gang published stolen files after the city refused to pay.
An unpatched flaw in the database server is being exploited to install web shells.
The hackers behind the attack have been linked to a group that targeted energy companies last year.
Antivirus companies detected the spyware on thousands of computers across the Middle East.
Attackers compromised the website of a software company and replaced the download link with malware.
The sanctions target individuals accused of carrying out the attack on the power grid.
The webinar will cover the year's biggest attacks and how to prepare for the next ones.
""".strip().splitlines()

# Small compositional expansion for the two classes the head must tell apart: the same verbs and
# artefacts, with the owner of the key as the only difference.
VENDORS = ["Larkfield Software", "Tessaro Networks", "Obrien Devices", "Kalmar Systems", "Umberly Games",
           "Sunvale Media", "Drayton Security", "Novik Labs", "Harrow Electronics", "Pelican Cloud"]
ARTEFACTS = ["code-signing certificate", "signing key", "digital certificate", "private signing key",
             "Authenticode certificate", "firmware signing key"]
PAYLOADS = ["the backdoor", "the rootkit driver", "the ransomware loader", "the spyware", "the trojan",
            "the malicious update", "the keylogger"]
LEGIT_T = [
    "{p} was signed with a {a} stolen from {v}.",
    "{p} carried a valid signature from {v}, whose {a} had been compromised.",
    "Attackers used {v}'s {a} to sign {p}.",
    "A {a} belonging to {v} was used to sign {p}.",
    "{v} said its {a} was stolen and used to sign {p}.",
    "The hackers breached {v} and signed {p} with the company's own {a}.",
    "{v}'s build system was compromised, and {p} shipped to customers signed with the official {a}.",
    "The {a} of {v} leaked online, and {p} signed with it is already circulating.",
]
ATTACKER_T = [
    "{p} was signed with a {a} its authors bought under a fake company name.",
    "The criminals registered a shell company to obtain the {a} used to sign {p}.",
    "{p} carried a {a} issued to a front company set up by the attackers.",
    "The operators purchased a {a} from a reseller to sign {p}.",
    "{p} was signed with a self-signed certificate created by the attackers.",
    "The gang obtained a new {a} under a false identity to sign {p}.",
]
NEGATED_T = [
    "{v} said its {a} was not affected and {p} was not signed with it.",
    "There is no evidence that the {a} of {v} was used to sign {p}.",
    "{v} confirmed the intruders did not reach its {a}.",
]


def build() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    rows = [{"text": t, "class": c} for c, lines in (
        ("legit_party_compromise", LEGIT), ("attacker_obtained", ATTACKER), ("validation_flaw", VALIDATION),
        ("negated", NEGATED), ("other_security", OTHER)) for t in lines]
    for cls, templates, n in (("legit_party_compromise", LEGIT_T, 60), ("attacker_obtained", ATTACKER_T, 45),
                              ("negated", NEGATED_T, 20)):
        seen = set()
        while len(seen) < n:
            t = rng.choice(templates).format(v=rng.choice(VENDORS), a=rng.choice(ARTEFACTS), p=rng.choice(PAYLOADS))
            t = t[0].upper() + t[1:]
            if t not in seen:
                seen.add(t)
                rows.append({"text": t, "class": cls, "templated": True})
    return rows


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "../../classifiers/data/sentences/ownership.jsonl"
    rows = build()
    with open(out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(rows), "sentences ->", out)
