"""Rules for credentials with a fixed, documented shape (``SCANNED`` run inside the provider-token scanner): private keys, JWTs, OpenAI and Anthropic keys,
GitHub, Slack and Stripe tokens, AWS key ids, Google API keys, Amazon Bedrock keys."""

import re

from git_ml.capture.redaction.looks import (
    ALNUM,
    B64,
    DIGIT,
    LETTER,
    LOWER,
    TOKEN,
    UPPER,
    looks_fake,
    token_end,
    token_start,
)

# --- checks of fixed-format tokens -----------------------------------------------------------
# A check gets the match and the whole text and returns (start, end, kind) or None.

_ESCAPES = re.compile(r"\\+[nrt]")
_B64_RUN = re.compile(r"[A-Za-z0-9+/=]+")


def _check_private_key(m, text):
    runs = _B64_RUN.findall(_ESCAPES.sub(" ", m.group("body")))  # \n: pasted in a JSON string
    # "-----BEGIN PRIVATE KEY-----\n...\n-----END ..." in docs, or code building a PEM: no key.
    if sum(map(len, runs)) < 40 or max(map(len, runs), default=0) < 32:
        return None
    return m.start(), m.end(), "private-key"


# header.payload.signature; both JSON parts start with {" = eyJ, the header's first key
# with a, t, k, e, c, x, j or z (alg, typ, kid, enc, cty, x5t, jku, zip). Signature may be
# empty (alg none).
_JWT = re.compile(
    r"eyJ[h0rlj4q6][A-Za-z0-9_-]{6,}={0,2}\.eyJ[A-Za-z0-9_-]{2,}={0,2}"
    r"(?:\.(?:[A-Za-z0-9_-]+={0,2})?)?"
)


def _check_jwt(m, text):
    # The pattern took the whole dotted run from eyJ on, so that a run without a JWT (base64
    # of JSON has eyJ every few lines) is read once, not once per eyJ; the JWT is its start.
    jwt = _JWT.match(m.group())
    if not jwt or not token_start(text, m.start(), TOKEN):
        return None
    return m.start(), m.start() + jwt.end(), "jwt"


_ANTHROPIC = re.compile(r"sk-ant-([a-z]+)\d\d-([A-Za-z0-9_-]+)")
_ANTHROPIC_API = re.compile(r"[A-Za-z0-9_-]{93}AA")
_OPENAI_TYPE = re.compile(r"(?:proj|svcacct|admin|None)-")
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")


def _check_sk(m, text):
    """sk-...: Anthropic (sk-ant-api03-...AA) or OpenAI style (sk-, sk-proj-, sk-svcacct-...)."""
    start, end = m.span()
    if not token_start(text, start, TOKEN) or not token_end(text, end, TOKEN):
        return None  # part of a longer word: task-..., disk-...
    token = m.group()
    if token.startswith("sk-ant-"):
        shape = _ANTHROPIC.fullmatch(token)
        if not shape:
            return None
        kind, body = "anthropic-key", shape.group(2)
        if shape.group(1) in ("api", "admin") and not _ANTHROPIC_API.fullmatch(body):
            return None  # API and admin keys are 93 characters then AA
        if len(body) < 32:
            return None
    else:
        kind = "openai-key"
        body = token[3:]
        typed = _OPENAI_TYPE.match(body)
        if typed:
            body = body[typed.end() :]
        if len(body) < 20 or not DIGIT.search(body) or not LETTER.search(body):
            return None
        if len(body) < 32 and not (LOWER.search(body) and UPPER.search(body)):
            return None  # short single-case bodies are names, not keys
        if _KEBAB.fullmatch(body):
            return None  # sk-some-package-name-2
    return start, end, kind, end - len(body)


def _check_github(m, text):
    start, end = m.span()
    if not token_start(text, start) or not token_end(text, end, TOKEN):
        return None
    return start, end, "github-token", start + (11 if m.group().startswith("github_pat_") else 4)


def _check_slack_webhook(m, text):
    if looks_fake(m.group("path")):
        return None
    return m.start("path"), m.end(), "slack-webhook"


def _check_slack_token(m, text):
    start, end = m.span()
    if not token_start(text, start) or not token_end(text, end):
        return None
    token = m.group()
    last = token.rsplit("-", 1)[-1]  # the random part; earlier parts are numeric ids
    if not DIGIT.search(token[5:]) or not LETTER.search(last):
        return None  # xoxa-faketoken, xoxp-0000...
    return start, end, "slack-token", end - len(last)


def _check_stripe(m, text):
    start, end = m.span()
    if not token_start(text, start, TOKEN):
        return None  # task_test_...
    if not token_end(text, end):
        return None
    return start, end, "stripe-key", m.start("body")


def _check_cloud_id(m, text):
    """AWS access key ids, Google API keys and Amazon Bedrock API keys (all start with A)."""
    start, end = m.span()
    if m.group("aws"):
        kind, chars = "aws-access-key", ALNUM
    elif m.group("google"):
        kind, chars = "google-api-key", TOKEN
    else:
        kind, chars = "aws-bedrock-key", B64
    if not token_start(text, start, chars) or not token_end(text, end, chars):
        return None  # inside a longer token, or a longer token that only starts like a key
    return start, end, kind, start + 4  # AKIAXXXXXXXXXXXXXXXX, AKIAIOSFODNN7EXAMPLE: the scanner's look-alike check


_PEM = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"

# fmt: off
BLOCK_ROWS = (
    # (name, literals: one occurs in every match, pattern: starts with a literal, check)

    # Whole block from header to footer; a truncated block: header and base64 lines after it.
    # The body never spans another BEGIN, so that many lone headers cost linear time.
    ("private key", ("-----BEGIN",),
     _PEM + r"(?P<body>(?:(?!-----BEGIN)[\s\S]){0,32768}?(?=" + _PEM_END + r")"
     r"|(?:(?:\\{1,3}[rn]|[\r\n])+[ \t]*[A-Za-z0-9+/=]{16,})+)(?:" + _PEM_END + ")?",
     _check_private_key),
    # A JWT, header.payload.signature (see _JWT): the pattern takes the whole run.
    ("jwt", ("eyJ",), r"eyJ[A-Za-z0-9_=-]*(?:\.[A-Za-z0-9_=-]*)*", _check_jwt),
)
ROWS = (
    ("slack webhook", ("hooks.slack.com",),
     r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<path>[A-Za-z0-9+/]{20,128})",
     _check_slack_webhook),
)

# Tokens found by the provider-token scanner (tokens.py) at runs that start with one of the prefixes:
# (prefixes, pattern from the prefix on, check). A check returns (start, end, kind, start of the random part) or
# None; the scanner then rejects a random part that looks like a placeholder (looks.looks_fake), for all candidates
# of a text at once.
SCANNED = (
    ("sk-", r"sk-[A-Za-z0-9_-]{20,400}", _check_sk),
    ("ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
     r"g(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{22,255})", _check_github),
    # bot and user; legacy bot; legacy xoxo/xoxs; legacy workspace; config access and
    # refresh tokens; app-level tokens.
    ("xoxb- xoxp- xoxe- xoxo- xoxs- xoxa- xoxr- xoxe. xapp-",
     r"x(?:ox(?:[bpe]-\d{8,14}-\d{8,14}(?:-\d{8,14})?-[A-Za-z0-9]{18,64}"
     r"|b-\d{8,14}-[A-Za-z0-9]{18,26}"
     r"|[os]-\d{1,20}-\d{1,20}-\d{1,20}-[A-Fa-f0-9]{1,128}"
     r"|[ar]-(?:\d-)?[A-Za-z0-9]{8,48}(?:-[A-Za-z0-9]{1,64}){0,8}"
     r"|e\.xox[bp]-\d-[A-Za-z0-9]{100,200}"
     r"|e-\d-[A-Za-z0-9]{100,200})"
     r"|app-\d-[A-Z0-9]{1,32}-\d{1,20}-[A-Za-z0-9]{1,128})",
     _check_slack_token),
    ("sk_live_ sk_test_ sk_prod_ rk_live_ rk_test_ rk_prod_",
     r"[sr]k_(?:live|test|prod)_(?P<body>[A-Za-z0-9]{16,247})", _check_stripe),
    # AKIA/ASIA/... key ids, AIza... Google keys, ABSK... Bedrock keys.
    ("AKIA ASIA ABIA ACCA A3T AIza ABSK",
     r"A(?:(?P<aws>(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z2-7]{16})"
     r"|(?P<google>Iza[A-Za-z0-9_-]{35})"
     r"|(?P<bedrock>BSK[A-Za-z0-9+/]{109,269}={0,2}))",
     _check_cloud_id),
)
# fmt: on
