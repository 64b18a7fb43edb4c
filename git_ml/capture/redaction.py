"""Replace secrets in text with typed placeholders before the text is stored.

    >>> redact("DB_PASSWORD=hunter22 AWS_ACCESS_KEY_ID=AKIAJ6KQ2DL5ZFMW3B4T")[0]
    'DB_PASSWORD=[REDACTED:password] AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]'
    >>> redact('token: "ghp_R8sK2mPq7xV4nB9cD1fG3hJ5kL6zW0yT2uE4"')[1]
    {'github-token': 1}

Used on commit messages and AI-assistant transcripts, often from git hooks, so it must
start fast (imports only ``re``) and run fast on multi-MB text:

* ``_TABLE`` is the one table of rules. Each rule has literals, one of which every match
  contains. A rule's pattern runs only when one of them occurs in the text (``str in`` is
  a C memory scan), so text without candidates costs about one scan per rule. (On large
  text a rule with several literals runs its pattern at once: one scan instead of several.)
* Every pattern starts with a literal, never with a look-behind or a character class:
  then ``re`` jumps from one occurrence of the literal to the next instead of trying each
  position (about 100x faster on large text; one alternation of all literals is slower
  than the separate scans). Boundary checks that would need a look-behind are done in
  Python by each rule's check, on the few hits.
* A check also rejects placeholders and look-alikes (``xxxx``, ``0000``, ``EXAMPLE``,
  ``${VAR}``, ``get_password()``, ...) and decides the kind and the span to replace.
* Rules run in table order, each on the output of the previous one, so specific rules come
  first: a GitHub token in ``token = "..."`` is counted once, as github-token. Placeholders
  never match a rule, and after a replacement the earlier rules run once more, which makes
  ``redact`` idempotent.
"""

import re

__all__ = ["KINDS", "redact"]

KINDS: tuple[str, ...] = (
    "private-key",
    "jwt",
    "anthropic-key",
    "openai-key",
    "github-token",
    "slack-webhook",
    "slack-token",
    "stripe-key",
    "aws-access-key",
    "aws-bedrock-key",
    "google-api-key",
    "url-credentials",
    "aws-secret-key",
    "password",
    "generic-secret",
)

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_TOKEN = _ALNUM | frozenset("_-")  # characters that continue an API-key-like token
_B64 = _ALNUM | frozenset("+/")
_NAME = _TOKEN | frozenset(".")  # characters of a setting name: db.password, DB_PASSWORD

_DIGIT = re.compile(r"\d")
_LOWER = re.compile(r"[a-z]")
_UPPER = re.compile(r"[A-Z]")
_LETTER = re.compile(r"[A-Za-z]")
_SYMBOL = re.compile(r"[^A-Za-z0-9]")
_REPEAT6 = re.compile(r"([A-Za-z0-9])\1{5}")  # 000000, aaaaaa (not the /// of AWS tokens)


def _placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- look-alikes ---------------------------------------------------------------------------

# Substrings of documentation values, not of credentials.
_FAKE_WORDS = ("example", "xxxx", "****", "your", "placeholder", "redacted", "changeme", "dummy")


def _ascending_share(s: str) -> float:
    """Share of characters inside ascending runs of 4+ (abcd, 1234): hand-typed fillers."""
    s = s.lower()
    covered, run = 0, 1
    for i in range(1, len(s) + 1):
        if i < len(s) and ord(s[i]) == ord(s[i - 1]) + 1:
            run += 1
            continue
        if run >= 4:
            covered += run
        run = 1
    return covered / len(s) if s else 0.0


def _looks_fake(s: str) -> bool:
    """Low-entropy or placeholder look-alike of a credential: AKIAXXXX..., sk_test_abcd1234..."""
    if len(set(s)) < min(6, len(s) // 2):
        return True
    low = s.lower()
    if any(w in low for w in _FAKE_WORDS) or _REPEAT6.search(s):
        return True
    return _ascending_share(s) >= 0.6


def _complex(v: str) -> bool:
    """A digit, both cases, or a symbol: what generated credentials look like."""
    return bool(
        _DIGIT.search(v) or _SYMBOL.search(v) or (_LOWER.search(v) and _UPPER.search(v))
    )


def _token_start(text: str, i: int, chars=_ALNUM) -> bool:
    """True when position i starts a token: the previous character cannot continue it."""
    return i == 0 or text[i - 1] not in chars


def _token_end(text: str, j: int, chars=_ALNUM) -> bool:
    return j >= len(text) or text[j] not in chars


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
    if not jwt or not _token_start(text, m.start(), _TOKEN):
        return None
    return m.start(), m.start() + jwt.end(), "jwt"


_ANTHROPIC = re.compile(r"sk-ant-([a-z]+)\d\d-([A-Za-z0-9_-]+)")
_ANTHROPIC_API = re.compile(r"[A-Za-z0-9_-]{93}AA")
_OPENAI_TYPE = re.compile(r"(?:proj|svcacct|admin|None)-")
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")


def _check_sk(m, text):
    """sk-...: Anthropic (sk-ant-api03-...AA) or OpenAI style (sk-, sk-proj-, sk-svcacct-...)."""
    start, end = m.span()
    if not _token_start(text, start, _TOKEN) or not _token_end(text, end, _TOKEN):
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
        if len(body) < 20 or not _DIGIT.search(body) or not _LETTER.search(body):
            return None
        if len(body) < 32 and not (_LOWER.search(body) and _UPPER.search(body)):
            return None  # short single-case bodies are names, not keys
        if _KEBAB.fullmatch(body):
            return None  # sk-some-package-name-2
    if _looks_fake(body):
        return None
    return start, end, kind


def _check_github(m, text):
    start, end = m.span()
    if not _token_start(text, start) or not _token_end(text, end, _TOKEN):
        return None
    token = m.group()
    if _looks_fake(token[11:] if token.startswith("github_pat_") else token[4:]):
        return None
    return start, end, "github-token"


def _check_slack_webhook(m, text):
    if _looks_fake(m.group("path")):
        return None
    return m.start("path"), m.end(), "slack-webhook"


def _check_slack_token(m, text):
    start, end = m.span()
    if not _token_start(text, start) or not _token_end(text, end):
        return None
    token = m.group()
    last = token.rsplit("-", 1)[-1]  # the random part; earlier parts are numeric ids
    if not _DIGIT.search(token[5:]) or not _LETTER.search(last) or _looks_fake(last):
        return None  # xoxa-faketoken, xoxp-0000...
    return start, end, "slack-token"


def _check_stripe(m, text):
    start, end = m.start() - 1, m.end()  # the match starts at "k_", the key at "sk_"/"rk_"
    if start < 0 or text[start] not in "sr" or not _token_start(text, start, _TOKEN):
        return None  # task_test_...
    if not _token_end(text, end) or _looks_fake(m.group("body")):
        return None
    return start, end, "stripe-key"


def _check_cloud_id(m, text):
    """AWS access key ids, Google API keys and Amazon Bedrock API keys (all start with A)."""
    start, end = m.span()
    if m.group("aws"):
        kind, chars = "aws-access-key", _ALNUM
    elif m.group("google"):
        kind, chars = "google-api-key", _TOKEN
    else:
        kind, chars = "aws-bedrock-key", _B64
    if not _token_start(text, start, chars) or not _token_end(text, end, chars):
        return None  # inside a longer token, or a longer token that only starts like a key
    if _looks_fake(m.group()[4:]):
        return None  # AKIAXXXXXXXXXXXXXXXX, AKIAIOSFODNN7EXAMPLE
    return start, end, kind


# Passwords that are documentation: postgres://user:password@localhost.
_URL_PLACEHOLDERS = frozenset("password passwd pass pwd pw secret token changeme".split())


def _check_url(m, text):
    i = m.start()  # the match starts at "://"; a scheme must precede it
    while i > 0 and (text[i - 1] in _ALNUM or text[i - 1] in "+.-"):
        i -= 1
    if i == m.start() or not text[i].isalpha():
        return None
    pw = m.group("pw")
    low = pw.lower()
    if pw[0] in "$%{<*[" or low in _URL_PLACEHOLDERS or len(set(pw)) == 1:
        return None  # ${DB_PASS}, <password>, ****
    if any(w in low for w in _FAKE_WORDS):
        return None
    return m.start("pw"), m.end("pw"), "url-credentials"


# --- name = value: password = "...", API_KEY=..., "client_secret": "..." ---------------------

# Values that are words, types or keywords, not secrets: token = None, password: str.
_NOT_SECRETS = frozenset(
    """none null nil true false yes no on off undefined empty required optional string str
    bytes text int integer number bool boolean object any unknown char varchar hidden secret
    secrets password passwd pass pwd token key apikey api_key value val default example sample
    test dummy changeme change_me changeit placeholder redacted masked todo tbd fixme self this
    env environ await new lambda function not return yield async def var let const""".split()
)
# Last word before the keyword that makes a name public or not a credential.
_NOT_SECRET_NAMES = frozenset(
    "csrf xsrf public pub hashed hash next prev page continuation cursor sync".split()
)
# A value naming its own purpose is a reference or a filler: password=db_password.
_SELF_WORDS = ("pass", "pwd", "secret", "token", "apikey")

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")  # GITHUB_TOKEN: names an env var
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")  # self.password, os.environ
_LINE_END = re.compile(r"[ \t]*(?:$|#|[\r\n,;}\])\"'`]|\\[nr\"'])", re.M)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")  # db_password -> db; nextPage -> page
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names: lower, camelCase or PascalCase words, or parts joined by _ . - (not random text).
_NAME_LIKE = re.compile(
    r"[a-z]+(?:[A-Z][a-z]+)*\d*|(?:[A-Z][a-z]+)+\d*|[A-Za-z0-9]+(?:[_.-][A-Za-z0-9]+)+"
)
_FORMATTED = re.compile(r"[ \t]*(?:%[ \t]*[(\w]|\.format\()")  # '%s:%s' % (user, pw)
_QUERY_NEXT = re.compile(r"&[A-Za-z_][\w.-]*=")
# Templates and references, not values. Careful: generated secrets contain $ % * ( too.
_TEMPLATE = re.compile(
    r"^\$\w+$|\$\{[^}]*\}"  # $DB_PASSWORD ${DB_PASSWORD}
    r"|\{\{.*\}\}|#\{[^}]*\}|^\{\w*\}$"  # {{ vault_pw }} #{pw} {password}
    r"|%\(\w+\)[sdr]|^%[sdr]$|^%\w+%$"  # %(pw)s %s %PASSWORD%
    r"|^<.*>$|^\*{3}"  # <your-password> ***
)


def _is_reference(v: str) -> bool:
    """GITHUB_TOKEN, db_password, accessToken, api-key, bandpass: a name, not a secret."""
    if _ENV_NAME.fullmatch(v):
        return True
    if not _NAME_LIKE.fullmatch(v):
        return False  # symbols: a generated value, which may contain "pwd" by chance
    for word in _WORDS.findall(v):
        word = word.lower()
        if word in ("key", "api") or word.startswith(_SELF_WORDS) or word.endswith(_SELF_WORDS):
            return True
    return False


def _value_ok(value: str, secret: bool, quoted: bool, env_style: bool) -> bool:
    low = value.lower()
    if low in _NOT_SECRETS or _TEMPLATE.search(value):
        return False  # ${PASSWORD}, $DB_PASS, %(pw)s, {token}, <your-password>, ****
    if not quoted and value[0] in "#!&":
        return False  # a comment, a YAML tag (!Ref, !!binary) or anchor
    if len(set(value)) == 1:
        return False  # xxxxxxxx
    if any(w in low for w in _FAKE_WORDS) or "REDACTED" in value:
        return False
    if _is_reference(value) or (not quoted and _DOTTED.fullmatch(value)):
        return False  # password=db_password, token=GITHUB_TOKEN, secret=settings.secret
    if not (quoted or env_style) and _IDENT.fullmatch(value):
        if ("_" in value or not _DIGIT.search(value)) and (
            len(value) < 16 or _NAME_LIKE.fullmatch(value)
        ):
            return False  # a variable: token = Punctuation, secret_key = s3_connection
    if secret:  # tokens and keys are long and machine-made
        if len(value) < 8 or _looks_fake(value):
            return False
        return env_style or _complex(value)
    if len(value) < 3:
        return False
    # Quoted and KEY=value literals are values; a bare word after "password =" in code is
    # usually a variable, so it must at least look like a password.
    return quoted or env_style or (len(value) >= 6 and _complex(value))


def _check_assignment(m, text, stem: str):
    """The keyword match may start mid-word (``ass`` of password); ``stem`` is the part before."""
    kw_start = m.start("kw") - len(stem)
    if kw_start < 0 or text[kw_start : m.start("kw")].lower() != stem:
        return None
    quoted = m.group("qv") is not None
    group = "qv" if quoted else "bv"
    value = m.group(group)
    if len(value) < 3:
        return None  # token = t, pw = x: cheapest reason first, this runs on every hit
    start, end = m.span(group)
    op = m.group("op").strip()
    if quoted:
        if _FORMATTED.match(text, m.end()):
            return None  # a format string: user_pass = '%s:%s' % (user, pw)
    else:
        query = _QUERY_NEXT.search(value)
        if query:  # ?password=abc&user=me: the value ends before the next parameter
            value, end = value[: query.start()], start + query.start()
            if len(value) < 3:
                return None
        if end < len(text) and text[end] in "([":
            return None  # password = get_password(), secret_key=os.environ[...]
        if op == ":" and not _LINE_END.match(text, end):
            return None  # prose: "password: the one in the vault"

    kw = text[kw_start : m.end("kw")]
    prev = text[kw_start - 1] if kw_start else " "
    if prev in _ALNUM and kw.lower() in ("pass", "pwd"):
        if not (kw[0].isupper() and not prev.isupper()):  # dbPass is a name
            return None  # bypass, compass, OLDPWD
    if kw.lower() == "pwd" and value[0] in "/~":
        return None  # PWD=/home/me is the working directory
    name_start = kw_start
    while name_start > 0 and text[name_start - 1] in _NAME:
        name_start -= 1
    name = text[name_start : m.end("kw")]
    words = [w.lower() for w in _WORDS.findall(text[name_start:kw_start])]
    if words and (words[-1] in _NOT_SECRET_NAMES or "public" in words):
        return None  # csrf_token, next_page_token, hashed_secret, publicKeyToken

    if kw.lower().startswith(("pass", "pwd")):
        kind = "password"
    elif ("aws" in name.lower() or "access" in kw.lower()) and _AWS_SECRET.fullmatch(value):
        # The exact shape of an AWS secret key in AWS context: only fillers are no key.
        return None if _looks_fake(value) else (start, end, "aws-secret-key")
    else:
        kind = "generic-secret"
    # KEY=value of .env files and shells (no spaces around =) or YAML KEY: value. Not a
    # constant in code: PASS = ignore.
    env_style = name.lstrip("-$").isupper() and (m.group("op") == "=" or op == ":")
    if not _value_ok(value, kind != "password", quoted, env_style):
        return None
    return start, end, kind


def _check_bearer(m, text):
    kw = m.start() - 1  # the match starts at "earer"
    if kw < 0 or text[kw] not in "Bb" or not _token_start(text, kw):
        return None
    value = m.group("value")
    if _looks_fake(value) or not _complex(value) or _is_reference(value):
        return None
    return m.start("value"), m.end("value"), "generic-secret"


# After a secret-bearing name: the end of the name, the closing quote of a quoted key
# ("password": ), an operator (= : := =>), then the value, quoted (closed by the same
# quote, which may be backslash-escaped inside JSON) or bare.
_END_OF_NAME = r"(?![A-Za-z0-9_.-])"  # the keyword ends the name: not password_file, tokens
_VALUE = (
    r"(?:(?P<q>\\{0,3}[\"'`])(?P<qv>[^\s\"'`\\]{1,400})(?P=q)"
    r"|(?P<bv>[^\s\"'`\\,;|()\[\]{}<>]{1,400}))"
)
_ASSIGN = (
    _END_OF_NAME
    + r"(?:\\{0,3}[\"'`])?(?P<op>[ \t]{0,4}(?::=|=>|=(?!=)|:(?![:/]))[ \t]{0,8})"
    + _VALUE
)
# Command-line options with the value after a space: --password hunter22, --db-token ...
# (--password=... is a name = value row).
_CLI_OPTION = (
    r"--(?:[A-Za-z0-9]+-){0,3}(?P<kw>password|passwd|pass|token|secret|api-key|apikey)"
    + _END_OF_NAME
    + r"(?P<op>[ \t]+)"
    + _VALUE
)


def _assignment(literal: str, stem: str, keyword: str):
    """A table row for names ending in stem + keyword; the pattern starts at literal."""
    return (
        f"{stem.upper() if literal.isupper() else stem}{literal} = value",
        (literal,),
        f"(?P<kw>{keyword})" + _ASSIGN,
        lambda m, text: _check_assignment(m, text, stem),
    )


_PEM = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"

# fmt: off
_TABLE = (
    # (name, literals: one occurs in every match, pattern: starts with a literal, check)

    # Whole block from header to footer; a truncated block: header and base64 lines after it.
    # The body never spans another BEGIN, so that many lone headers cost linear time.
    ("private key", ("-----BEGIN",),
     _PEM + r"(?P<body>(?:(?!-----BEGIN)[\s\S]){0,32768}?(?=" + _PEM_END + r")"
     r"|(?:(?:\\{1,3}[rn]|[\r\n])+[ \t]*[A-Za-z0-9+/=]{16,})+)(?:" + _PEM_END + ")?",
     _check_private_key),
    # A JWT, header.payload.signature (see _JWT): the pattern takes the whole run.
    ("jwt", ("eyJ",), r"eyJ[A-Za-z0-9_=-]*(?:\.[A-Za-z0-9_=-]*)*", _check_jwt),
    ("anthropic or openai key", ("sk-",), r"sk-[A-Za-z0-9_-]{20,400}", _check_sk),
    ("github token", ("gh", "github_pat_"),
     r"g(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{22,255})", _check_github),
    ("slack webhook", ("hooks.slack.com",),
     r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<path>[A-Za-z0-9+/]{20,128})",
     _check_slack_webhook),
    # bot and user; legacy bot; legacy xoxo/xoxs; legacy workspace; config access and
    # refresh tokens; app-level tokens.
    ("slack token", ("xox", "xapp-"),
     r"x(?:ox(?:[bpe]-\d{8,14}-\d{8,14}(?:-\d{8,14})?-[A-Za-z0-9]{18,64}"
     r"|b-\d{8,14}-[A-Za-z0-9]{18,26}"
     r"|[os]-\d{1,20}-\d{1,20}-\d{1,20}-[A-Fa-f0-9]{1,128}"
     r"|[ar]-(?:\d-)?[A-Za-z0-9]{8,48}(?:-[A-Za-z0-9]{1,64}){0,8}"
     r"|e\.xox[bp]-\d-[A-Za-z0-9]{100,200}"
     r"|e-\d-[A-Za-z0-9]{100,200})"
     r"|app-\d-[A-Z0-9]{1,32}-\d{1,20}-[A-Za-z0-9]{1,128})",
     _check_slack_token),
    # sk_live_, rk_test_, sk_prod_...; the pattern starts at "k_" so that re can skip ahead.
    ("stripe key", ("k_live_", "k_test_", "k_prod_"),
     r"k_(?:live|test|prod)_(?P<body>[A-Za-z0-9]{16,247})", _check_stripe),
    # AKIA/ASIA/... key ids, AIza... Google keys, ABSK... Bedrock keys: one scan for the three.
    ("aws key id, google or bedrock key",
     ("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AIza", "ABSK"),
     r"A(?:(?P<aws>(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z2-7]{16})"
     r"|(?P<google>Iza[A-Za-z0-9_-]{35})"
     r"|(?P<bedrock>BSK[A-Za-z0-9+/]{109,269}={0,2}))",
     _check_cloud_id),
    # scheme://user:password@host: only the password goes, scheme, user and host stay.
    # The password may hold an unescaped @ (p@ss@host): the last @ before the host ends it.
    ("url credentials", ("://",),
     r"://(?P<user>[^\s:/@'\"<>\\\[\]]{0,128}):(?P<pw>[^\s/'\"<>\\]{1,256})@(?=[A-Za-z0-9\[])",
     _check_url),
    ("bearer token", ("earer",),
     r"earer[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,400}={0,2})", _check_bearer),
    # Names ending in a keyword. Each pattern starts at a rare part of the keyword ("ass" of
    # password) so that one lower-case and one upper-case scan cover every spelling.
    _assignment("ass", "p", r"ass(?:word|wd|phrase)?"),
    _assignment("ASS", "p", r"ASS(?:WORD|WD|PHRASE)?"),
    _assignment("pwd", "", r"pwd"),
    _assignment("PWD", "", r"PWD"),
    _assignment("ecret", "s", r"ecret(?:[_-]?(?:access[_-]?)?key|(?:Access)?Key)?"),
    _assignment("ECRET", "s", r"ECRET(?:_?(?:ACCESS_?)?KEY)?"),
    _assignment("oken", "t", r"oken"),
    _assignment("OKEN", "t", r"OKEN"),
    _assignment("pi", "a", r"pi[_-]?[kK]ey"),
    _assignment("PI", "a", r"PI[_-]?(?:KEY|Key)"),
    ("--password value", ("--",), _CLI_OPTION, lambda m, text: _check_assignment(m, text, "")),
)
# fmt: on


# On large text a rule with several literals skips the literal scans and runs its pattern
# at once: re's one scan for the pattern's leading literal (g, x, k_, A) costs less than
# several str scans; on short text the str scans are cheaper than calling re.
_LARGE = 1 << 16


class _Rule:
    __slots__ = ("name", "literals", "source", "_pattern", "check", "direct_on_large")

    def __init__(self, name, literals, pattern, check):
        self.name = name
        self.literals = literals
        self.source = pattern
        self._pattern = None
        self.check = check
        self.direct_on_large = len(literals) > 1

    @property
    def pattern(self) -> re.Pattern:
        # Compiled on first use: most texts (commit messages in a hook) never reach most rules, and compiling
        # them all would cost a hook's start-up more than the scans do.
        if self._pattern is None:
            self._pattern = re.compile(self.source)
        return self._pattern


_RULES = tuple(_Rule(*row) for row in _TABLE)


def _apply(rule: _Rule, text: str, counts: dict[str, int]) -> str:
    """Replace the matches of one rule; the text itself when there are none."""
    pieces, pos = [], 0
    for m in rule.pattern.finditer(text):
        found = rule.check(m, text)
        if found is None:
            continue
        start, end, kind = found
        if start < pos:  # overlaps the previous replacement
            continue
        pieces += (text[pos:start], _placeholder(kind))
        pos = end
        counts[kind] = counts.get(kind, 0) + 1
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return text with secrets replaced by typed placeholders like [REDACTED:aws-access-key], and counts per kind."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    large = len(text) > _LARGE
    # Rules run in order until every rule has run on the final text: a replacement can
    # (rarely) expose a match to an earlier rule, e.g. of two secrets glued together, so
    # after a change the rules before it run once more. Then redact(redact(x)[0]) is a no-op.
    n = len(_RULES)
    step, stop = 0, n
    while step < stop:
        rule = _RULES[step % n]
        step += 1
        if not (large and rule.direct_on_large):
            for lit in rule.literals:
                if lit in text:
                    break
            else:
                continue  # no candidate for this rule
        new = _apply(rule, text, counts)
        if new is not text:
            text = new
            stop = min(step + n, 4 * n)
    return text, counts
