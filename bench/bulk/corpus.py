#!/usr/bin/env python3
"""Writes a labelled corpus for `mailhost-bench fingerprint`:
  campaignK-N.eml  N personalised copies of campaign letter K (greeting, name,
                   numbers, voucher code, tracking link, line width differ);
  docI-0.eml       genuinely different messages (Python standard library
                   docstrings of 40+ words), one per group.
Usage: bench/bulk/corpus.py DIR [DOCS] [CAMPAIGNS] [COPIES]
"""
import os
import random
import sys
from email.message import EmailMessage
from email.policy import SMTP

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))
import corpus  # noqa: E402

LETTERS = [
    corpus.LETTER,
    """Our annual conference returns to the harbour district this spring, with three days of talks,
workshops and evening events for everyone who builds and runs online shops. Early registration
closes soon and includes the printed programme, lunch on every day and entry to the closing party.""",
    """Thank you for being a customer of the regional energy cooperative. From next quarter the
standing charge falls while the price per unit stays the same, and members who switch to paperless
billing receive a one-off credit on their account. Nothing changes in the way you pay.""",
]


def write(path, subject, body):
    m = EmailMessage(policy=SMTP)
    m["From"] = "news@corp.test"
    m["To"] = "someone@remote.test"
    m["Subject"] = subject
    m.set_content(body.replace("\r\n", "\n"))
    with open(path, "wb") as f:
        f.write(m.as_bytes())


def main():
    out = sys.argv[1]
    docs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    campaigns = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    copies = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    os.makedirs(out, exist_ok=True)
    for i, (subject, body) in enumerate(corpus.varied(docs)):
        write(os.path.join(out, f"doc{i}-0.eml"), subject, body)
    saved = corpus.LETTER
    for k in range(campaigns):
        corpus.LETTER = LETTERS[k % len(LETTERS)]
        for n in range(copies):
            subject, body = corpus.campaign(n, random.Random(k * 100000 + n))
            write(os.path.join(out, f"campaign{k}-{n}.eml"), subject, body)
    corpus.LETTER = saved


if __name__ == "__main__":
    main()
