"""Messages for bulk-mail tests (R-OUT-8).

- `campaign(i)`: one marketing letter, personalised per recipient the way
  real campaigns are: greeting, name, numbers, a voucher code, a tracking
  link, reflowed lines.
- `varied(n)`: genuinely different texts, written by many people over many
  years: the docstrings of Python's standard library (at least 40 words
  each). Docstrings that copy one another (os.spawnl/os.spawnv, remove and
  unlink, the shared dir_fd paragraphs) are not different texts, so a
  docstring is kept only if less than 30% of its word 3-shingles are
  shared with any kept one (exact Jaccard, computed here, independently of
  the server's fingerprint). Each gets the same greeting, closing and
  signature block, as mail from one company would.
"""

import importlib
import inspect
import random
import re

NAMES = ["Anna", "Bob Smith", "Dr. Chen", "María José", "Olu", "Ms Kowalski", "Jean-Luc", "Priya", "Tom",
         "Fatima", "Lars", "Yuki", "Sven", "Grace", "Ahmed"]

LETTER = """We are delighted to announce our winter collection. Every coat, scarf and pair of boots in
the catalogue is now available in all our shops and online, with free delivery on orders above the
usual amount. Members of the loyalty club receive an additional discount until the end of the month,
and the first hundred orders include a hand-made gift from our workshop in the mountains."""


def campaign(i, rng=None):
    """The i-th personalised copy: (subject, body)."""
    rng = rng or random.Random(i)
    name = NAMES[i % len(NAMES)]
    greeting = rng.choice(["Dear", "Hello", "Hi", "Good morning"])
    words = LETTER.split()
    # Reflow: a different line length for every copy.
    width = rng.randint(50, 90)
    lines, line = [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(24))
    body = (f"{greeting} {name},\r\n\r\n" + "\r\n".join(lines) +
            f"\r\n\r\nYour member number is {rng.randint(10000, 99999)} and your balance is "
            f"{rng.randint(1, 999)}.{rng.randint(10, 99)} points.\r\n"
            f"Voucher: WINTER-{rng.randint(100, 999)}-{token[:6].upper()}\r\n"
            f"See the collection: https://shop.example/winter?r={token}\r\n\r\n-- \r\n"
            f"The Shop team\r\nUnsubscribe: https://shop.example/u/{token}\r\n")
    return f"Winter collection: {rng.randint(10, 40)}% off for {name}", body


MODULES = """os re json collections itertools functools string textwrap pathlib subprocess socket ssl
email.message http.client urllib.parse asyncio logging argparse datetime decimal fractions statistics
random threading zipfile tarfile shutil tempfile csv sqlite3 unittest typing dataclasses enum contextlib
heapq bisect struct codecs locale gettext calendar sched queue selectors mmap pickle copy pprint
difflib html.parser xml.dom.minidom xml.etree.ElementTree imaplib smtplib poplib ftplib mailbox
mimetypes base64 hashlib hmac secrets uuid ipaddress io glob fnmatch filecmp configparser zlib gzip
bz2 lzma traceback warnings inspect ast tokenize operator numbers platform shlex optparse
concurrent.futures multiprocessing.pool wave colorsys zipapp pdb timeit trace tracemalloc cProfile
pstats doctest graphlib fileinput netrc plistlib quopri telnetlib xmlrpc.client socketserver
http.server http.cookiejar urllib.request wsgiref.simple_server""".split()


def docstrings():
    seen, out = set(), []
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        objs = [mod] + [o for _, o in inspect.getmembers(mod) if inspect.isclass(o) or inspect.isroutine(o)]
        for cls in [o for o in objs if inspect.isclass(o)]:
            objs += [o for _, o in inspect.getmembers(cls) if inspect.isroutine(o)]
        for o in objs:
            doc = inspect.getdoc(o)
            if not doc or len(doc.split()) < 40:
                continue
            key = re.sub(r"\W+", " ", doc.lower())[:60]
            if key in seen:
                continue
            seen.add(key)
            out.append(doc)
    return out


def shingles(text):
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i:i + 3]) for i in range(max(1, len(w) - 2))}


def distinct(docs, n, max_jaccard=0.3):
    kept, sets = [], []
    for d in docs:
        s = shingles(d)
        if all(len(s & k) / len(s | k) < max_jaccard for k in sets):
            kept.append(d)
            sets.append(s)
            if len(kept) == n:
                break
    return kept


def varied(n):
    """n different messages: (subject, body)."""
    docs = distinct(docstrings(), n)
    assert len(docs) >= n, f"only {len(docs)} different docstrings"
    out = []
    for i, doc in enumerate(docs):
        subject = " ".join(doc.split()[:6])
        body = ("Hello,\r\n\r\n" + doc.replace("\n", "\r\n") +
                "\r\n\r\nBest regards,\r\nAlex\r\n\r\n-- \r\nExample Corp, 1 Main Street, Springfield\r\n"
                "This message is confidential. If you received it in error, please tell the sender and "
                "delete it.\r\n")
        out.append((subject, body))
    return out
