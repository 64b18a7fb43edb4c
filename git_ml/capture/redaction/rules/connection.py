"""Rules for passwords in connection strings that the other rules do not reach: ODBC passwords in braces
(``PWD={...}``, which may hold ``;``). ``Password=...;`` and URLs with ``user:password@`` are rules of ``generic``; Azure
``AccountKey=``/``SharedAccessKey=``, SAS ``sig=`` and client secrets are found with the provider tokens."""

from git_ml.capture.redaction.looks import NAME, looks_fake

_PASSWORD_NAMES = ("pwd", "password", "passwd")


def _check_braced_password(m, text):
    i = m.start()
    while i > 0 and text[i - 1] in NAME:
        i -= 1
    if text[i : m.start()].lower() not in _PASSWORD_NAMES:
        return None
    value = m.group("v")
    if len(value) < 3 or looks_fake(value) or value.startswith(("$", "{")):
        return None
    return m.start("v"), m.end("v"), "password"


# fmt: off
ROWS = (
    # ODBC: PWD={...} (braces let the value hold ; and =).
    ("odbc password", ("={",), r"=\{(?P<v>[^}\r\n]{1,200})\}", _check_braced_password),
)
# fmt: on
