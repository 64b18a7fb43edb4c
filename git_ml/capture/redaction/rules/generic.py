"""Rules for secrets recognised by their context: credentials in URLs, Bearer tokens, values assigned to
credential-like names (password = ..., API_KEY=..., "clientSecret": "...") and options such as --password."""

import re

from git_ml.capture.redaction.looks import (
    ALNUM,
    DIGIT,
    FAKE_WORDS,
    LETTER,
    NAME,
    ascending_share,
    is_complex,
    is_random,
    looks_fake,
    token_start,
)

# Passwords that are documentation: postgres://user:password@localhost.
_URL_PLACEHOLDERS = frozenset("password passwd pass pwd pw secret token changeme".split())


def _check_url(m, text):
    i = m.start()  # the match starts at "://"; a scheme must precede it
    while i > 0 and (text[i - 1] in ALNUM or text[i - 1] in "+.-"):
        i -= 1
    while i < m.start() and not text[i].isalpha():
        i += 1  # "+mysql://..." on an added diff line, "-DATABASE_URL=..." on a removed one
    if i == m.start():
        return None
    pw = m.group("pw")
    low = pw.lower()
    if pw[0] in "$%{<*[" or low in _URL_PLACEHOLDERS or len(set(pw)) == 1:
        return None  # ${DB_PASS}, <password>, ****
    if any(w in low for w in FAKE_WORDS):
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
_DESCRIPTIVE_TAILS = frozenset(
    """id ids name names type types file files path paths dir size count counts len length url uri field column
    prefix suffix format version ttl expiry expires timeout hash hashes env var header param label ref""".split()
)
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
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
    if any(w in low for w in FAKE_WORDS) or "REDACTED" in value:
        return False
    if _is_reference(value) or (not quoted and _DOTTED.fullmatch(value)):
        return False  # password=db_password, token=GITHUB_TOKEN, secret=settings.secret
    if not (quoted or env_style) and _IDENT.fullmatch(value):
        if ("_" in value or not DIGIT.search(value)) and (
            len(value) < 16 or _NAME_LIKE.fullmatch(value)
        ):
            return False  # a variable: token = Punctuation, secret_key = s3_connection
    if secret:  # tokens and keys are long and machine-made
        if len(value) < 8 or looks_fake(value):
            return False
        return env_style or is_complex(value)
    if len(value) < 3:
        return False
    # Quoted and KEY=value literals are values; a bare word after "password =" in code is
    # usually a variable, so it must at least look like a password.
    return quoted or env_style or (len(value) >= 6 and is_complex(value))


def _high_entropy(value: str) -> bool:
    """A generated credential, not a word, hash or id: long, letters and digits, changing class often."""
    if len(value) < 16 or not DIGIT.search(value) or not LETTER.search(value) or not is_random(value, 0.3):
        return False
    if ascending_share(value):
        return False  # a hand-typed filler: 1234, abcd
    return not (_HEX.fullmatch(value) or _UUID.fullmatch(value))  # digests, commit hashes, ids


def _check_assignment(m, text, stem: str, strict: bool = False):
    """The keyword match may start mid-word (``ass`` of password); ``stem`` is the part before.

    ``strict``: for names that hold keys and ids alike (``sort_key``, ``APP_KEY``), only high-entropy values.
    """
    kw_start = m.start("kw") - len(stem)
    if kw_start < 0 or text[kw_start : m.start("kw")].lower() != stem:
        return None
    tail = m.group("tail") if "tail" in m.re.groupindex else ""
    if tail:
        # The keyword inside the name (VERY_SECRET_TOO, key_2): high-entropy values only, and not when the name
        # ends in what describes a credential rather than holds it (foreign_key_id, secret_name, tokenCount).
        words = _WORDS.findall(tail)
        if words and words[-1].lower() in _DESCRIPTIVE_TAILS:
            return None
        strict = True
    quoted = m.group("qv") is not None
    braced = m.group("cv") is not None  # ODBC: PWD={pass;word}
    if braced and not (m.group("op") == "=" and m.group("kw").lower().endswith(("ass", "word", "wd"))):
        return None
    group = "qv" if quoted else "cv" if braced else "bv"
    quoted = quoted or braced
    value = m.group(group)
    if len(value) < 3 or (strict and len(value) < 16) or value.startswith("[REDACTED:"):
        return None  # token = t, pw = x, a placeholder: cheapest reasons first, this runs on every hit
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

    # key: <digest>, session_key: <uuid>: what _high_entropy rejects last, rejected first (cheap, and ids are common);
    # not at 40 characters, where the AWS secret key rule below decides.
    if strict and len(value) != 40 and (_HEX.fullmatch(value) or _UUID.fullmatch(value)):
        return None
    kw = text[kw_start : m.end("kw")]
    prev = text[kw_start - 1] if kw_start else " "
    if prev in ALNUM and kw.lower() in ("pass", "pwd"):
        if not (kw[0].isupper() and not prev.isupper()):  # dbPass is a name
            return None  # bypass, compass, OLDPWD
    if kw.lower() == "pwd" and value[0] in "/~":
        return None  # PWD=/home/me is the working directory
    name_start = kw_start
    while name_start > 0 and text[name_start - 1] in NAME:
        name_start -= 1
    name = text[name_start : m.end("tail") if tail else m.end("kw")]
    words = [w.lower() for w in _WORDS.findall(text[name_start:kw_start])]
    if words and (words[-1] in _NOT_SECRET_NAMES or "public" in words):
        return None  # csrf_token, next_page_token, hashed_secret, publicKeyToken

    if kw.lower().startswith(("pass", "pwd")):
        kind = "password"
    elif ("aws" in name.lower() or "access" in kw.lower()) and _AWS_SECRET.fullmatch(value):
        # The exact shape of an AWS secret key in AWS context: only fillers are no key.
        return None if looks_fake(value) else (start, end, "aws-secret-key")
    else:
        kind = "generic-secret"
    # KEY=value of .env files and shells (no spaces around =) or YAML KEY: value. Not a
    # constant in code: PASS = ignore.
    env_style = name.lstrip("-$").isupper() and (m.group("op") == "=" or op == ":")
    # Connection strings and query strings: user=sa;password=...; or ?user=me&password=...&
    env_style = env_style or (m.group("op") == "=" and end < len(text) and text[end] in ";&")
    if not _value_ok(value, kind != "password", quoted, env_style):
        return None
    if strict and not _high_entropy(value):
        return None
    return start, end, kind


def _check_authorization(m, text):
    kw = m.start() - 1  # the match starts at "uthorization"
    if kw < 0 or text[kw] not in "Aa" or not token_start(text, kw):
        return None
    value = m.group("value")
    if _TEMPLATE.search(value) or looks_fake(value) or not is_complex(value) or _is_reference(value):
        return None  # Authorization: ${TOKEN}, a word, a name
    if _DOTTED.fullmatch(value) or (m.end() < len(text) and text[m.end()] in "(["):
        return None  # code: headers.get(...)
    return m.start("value"), m.end("value"), "generic-secret"


def _check_bearer(m, text):
    kw = m.start() - 1  # the match starts at "earer"
    if kw < 0 or text[kw] not in "Bb" or not token_start(text, kw):
        return None
    value = m.group("value")
    if looks_fake(value) or not is_complex(value) or _is_reference(value):
        return None
    return m.start("value"), m.end("value"), "generic-secret"


# After a secret-bearing name: the end of the name, the closing quote of a quoted key
# ("password": ), an operator (= : := =>), then the value, quoted (closed by the same
# quote, which may be backslash-escaped inside JSON) or bare.
_END_OF_NAME = r"(?![A-Za-z0-9_.-])"  # the keyword ends the name: not password_file, tokens
# A placeholder is no value (in re, not in the check: on secret-dense text most quoted values are placeholders by
# the time these rules run).
_VALUE = (
    r"(?:(?P<q>\\{0,3}[\"'`])(?!\[REDACTED:)(?P<qv>[^\s\"'`\\]{1,400})(?P=q)"
    r"|\{(?P<cv>[^}\r\n]{1,200})\}"
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


def _assignment(literal: str, stem: str, keyword: str, strict: bool = False):
    """A table row for names ending in stem + keyword; the pattern starts at literal."""
    return (
        f"{stem.upper() if literal.isupper() else stem}{literal} = value",
        (literal,),
        # the keyword ends a word of the name: more name may follow after a separator, a capital or a digit
        # (password_file, tokenCount, key2), not after a small letter (assert, keyword, tokenizer)
        f"(?P<kw>{keyword})(?P<tail>(?:[_.-]|[A-Z0-9])[A-Za-z0-9_.-]{{0,19}}+)?" + _ASSIGN,
        lambda m, text: _check_assignment(m, text, stem, strict),
    )



# fmt: off
ROWS = (
    # scheme://user:password@host: only the password goes, scheme, user and host stay.
    # The password may hold an unescaped @ (p@ss@host): the last @ before the host ends it. A placeholder is no
    # password (in re: on text redacted once, every such URL would reach the check).
    ("url credentials", ("://",),
     r"://(?P<user>[^\s:/@'\"<>\\\[\]]{0,128}):(?!\[REDACTED:)(?P<pw>[^\s/'\"<>\\]{1,256})@(?=[A-Za-z0-9\[])",
     _check_url),
    # Authorization: <scheme> <credentials> (Bearer has its own rule) or the credentials alone, as in curl -H.
    ("authorization header", ("uthorization",),
     r"uthorization[\"']?[ \t]*:[ \t]*[\"']?"
     r"(?:(?:Basic|Token|token|Digest|Bot|Key|ApiKey|SSWS|Negotiate|AWS4-HMAC-SHA256)[ \t]+)?"
     r"(?P<value>[A-Za-z0-9._~+/:=-]{8,400})",
     _check_authorization),
    ("bearer token", ("earer",),
     r"earer[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,400}={0,2})", _check_bearer),
    # Names ending in a keyword. Each pattern starts at a rare part of the keyword ("ass" of
    # password) so that one lower-case and one upper-case scan cover every spelling.
    _assignment("ass", "p", r"ass(?:word|wd|phrase)?"),
    _assignment("ASS", "p", r"ASS(?:WORD|WD|PHRASE)?"),
    _assignment("wd", "p", r"wd"),  # pwd, Pwd
    _assignment("PWD", "", r"PWD"),
    _assignment("ecret", "s", r"ecret(?:[_-]?(?:access[_-]?)?key|(?:Access)?Key)?"),
    _assignment("ECRET", "s", r"ECRET(?:_?(?:ACCESS_?)?KEY)?"),
    _assignment("oken", "t", r"oken"),
    _assignment("OKEN", "t", r"OKEN"),
    _assignment("pi", "a", r"pi[_-]?[kK]ey"),
    _assignment("PI", "a", r"PI[_-]?(?:KEY|Key)"),
    # Any other name ending in key (APP_KEY, privateKey, access-key): high-entropy values only.
    _assignment("ey", "k", r"ey", strict=True),
    _assignment("EY", "k", r"EY", strict=True),
    ("--password value", ("--",), _CLI_OPTION, lambda m, text: _check_assignment(m, text, "")),
)
# fmt: on
