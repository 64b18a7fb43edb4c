"""Provider tokens, connection strings and credential-like names (issue 16), and the guards that keep look-alikes.

Every token here is generated at random from the formats in git_ml.capture.redaction.rules.providers
(secret_corpus.fake), so none is a real credential and every provider row is exercised.
"""

import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from secret_corpus import NAMES, contexts, fake, provider_tokens

import git_ml
from git_ml.capture.redaction import KINDS, redact
from git_ml.capture.redaction.rules.providers import TOKEN_ROWS

ALNUM = string.ascii_letters + string.digits
_rng = random.Random(1616)


def rand(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def _secret_part(kind: str, token: str) -> str:
    """What must go: the value after AccountKey= / sig= / AstraCS:, else the whole token."""
    for prefix in ("AccountKey=", "SharedAccessKey=", "accountkey=", "sig=", "AstraCS:"):
        if token.startswith(prefix):
            return token[len(prefix) :]
    return token


@pytest.mark.parametrize("kind,prefixes,body", TOKEN_ROWS, ids=[f"{r[0]}:{r[1].split()[0]}" for r in TOKEN_ROWS])
def test_every_provider_format_is_redacted_with_its_kind(kind, prefixes, body):
    assert kind in KINDS
    for prefix in prefixes.split():
        for _ in range(20):
            token = prefix + fake(body, _rng)
            secret = _secret_part(kind, token)
            out, counts = redact(f"the key is {token} (rotated)")
            assert out == f"the key is {token[: len(token) - len(secret)]}[REDACTED:{kind}] (rotated)", token
            assert counts == {kind: 1}


def test_provider_tokens_in_every_context():
    # prose, assignments in every casing, JSON, YAML, headers, URLs, +/- diff lines, Markdown code blocks
    for kind, token in provider_tokens(_rng):
        secret = _secret_part(kind, token)
        for text in contexts(token, _rng.choice(NAMES)):
            out, counts = redact(text)
            assert secret not in out, (kind, text)
            assert redact(out) == (out, {}), text  # idempotent


# <<...>> marks the secret; the kind it is counted as follows the text.
@pytest.mark.parametrize(
    "template,kind",
    [
        # the issue's examples: tokens by their own prefix, inside sentences
        ("publish with //registry.npmjs.org/:_authToken=<<npm_{an36}>> please", "npm-token"),
        ("my gitlab token is <<glpat-{w20}>>, why 401?", "gitlab-token"),
        ("huggingface-cli login --token <<hf_{l34}>>", "huggingface-token"),
        ("SendGrid key <<SG.{w22}.{w43}>> in the mailer", "sendgrid-key"),
        ("upload with <<pypi-AgEIcHlwaS5vcmc{w60}>>", "pypi-token"),
        ("shopify admin <<shpat_{hex32}>> works", "shopify-token"),
        ("doctl auth init -t <<dop_v1_{hex64}>>", "digitalocean-token"),
        ("databricks host token <<dapi{hex32}>>", "databricks-token"),
        ("VAULT_TOKEN is <<hvs.{w95}>> now", "vault-token"),
        ("mailgun <<key-{hex32}>> for the domain", "mailgun-key"),
        # Azure connection strings and SAS
        ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=<<{b64_86}==>>;EndpointSuffix=core.windows.net",
         "azure-key"),
        ("https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=<<{an40}%2B{an3}%3D>>", "azure-sas-signature"),
        ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=<<{an43}=>>",
         "azure-key"),
        ("tenant secret <<abc8Q~{w34}>>", "azure-client-secret"),
        # JDBC, ODBC and URL credentials, also on +/- diff lines
        ("jdbc:mysql://db:3306/app?user=root&password=<<{an14}>>&ssl=true", "password"),
        ("jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=<<{an14}>>;", "password"),
        ("Driver={{ODBC Driver 18}};Server=db;Uid=sa;Pwd=<<{an14}>>;", "password"),
        ("Driver={{ODBC Driver 18}};Server=db;Uid=sa;PWD={{<<{an8};x>>}};", "password"),
        ("mongodb+srv://app:<<{an14}>>@cluster0.ab1cd.mongodb.net/db", "url-credentials"),
        ("+mysql://root:<<{an12}>>@host/app", "url-credentials"),
        ("-DATABASE_URL=postgres://u:<<{an12}>>@db/app", "url-credentials"),
        # credential-like names in any casing
        ("authToken: <<{an32}>>", "generic-secret"),
        ('"clientSecret": "<<{an32}>>"', "generic-secret"),
        ("X-Api-Key: <<{an32}>>", "generic-secret"),
        ('apiKey: "<<{an32}>>"', "generic-secret"),
        ("APP_KEY=<<{an32}>>", "generic-secret"),
        ("privateKey = '<<{an32}>>'", "generic-secret"),
    ],
)
def test_issue_examples(template, kind):
    values = {"an36": rand(ALNUM, 36), "w20": rand(ALNUM + "_-", 20), "l34": rand(string.ascii_letters, 34),
              "w22": rand(ALNUM + "_-", 22), "w43": rand(ALNUM + "_-", 43), "hex32": rand("0123456789abcdef", 32),
              "hex64": rand("0123456789abcdef", 64), "w95": rand(ALNUM + "_-", 95), "b64_86": rand(ALNUM + "+/", 86),
              "an40": rand(ALNUM, 40), "an3": rand(ALNUM, 3), "an43": rand(ALNUM, 43), "an14": rand(ALNUM, 14),
              "an12": rand(ALNUM, 12), "an8": rand(ALNUM, 8), "an32": rand(ALNUM, 32), "w34": rand(ALNUM + "_-", 34),
              "w60": rand(ALNUM + "_-", 60)}
    marked = template.format(**values)
    before, rest = marked.split("<<")
    secret, after = rest.split(">>")
    assert redact(before + secret + after) == (f"{before}[REDACTED:{kind}]{after}", {kind: 1})


LOOK_ALIKES = [
    "commit 3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c",
    "cache_key: 3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "id: 5c0375b4-2f2a-4c1e-9a55-0e1f3a9b7c10",
    "session_key = '5c0375b4-2f2a-4c1e-9a55-0e1f3a9b7c10'",
    "compute_session_token_length = 4",
    "token = compute_session_token_length(x)",
    "def get_api_key_from_environment_variable_or_config(): ...",
    "monkey = 'banana'",
    "sort_key = lambda x: x",
    "primary_key = models.AutoField(primary_key=True)",
    "HF_HOME=/data/hf_cache_directory_for_models",
    "npm_config_cache_directory_for_ci_builds",
    "BSA_V2_CONFIGURATION_SETTINGS_FOR_TESTS",
    "key-value-store-implementation-details-here",
    "sk_" + "e" * 48,
    "ghp_" + "x" * 36,
    "glpat-" + "X" * 20,
    "xoxb-123456789012-1234567890123-" + "abcdefghijklmnopqrstuvwx",
    "data: aGVsbG8gd29ybGQgdGhpcyBpcyBqdXN0IHRlc3QgZGF0YQ==",
    "AccountKey=your-storage-account-key",
    "https://example.org/search?q=signature&sig=abc",
    "Endpoint=https://x.azconfig.io;Id=abc;Secret=${APP_CONFIG_SECRET}",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_kept(text):
    assert redact(text) == (text, {})


def test_random_hashes_and_uuids_are_kept():
    for _ in range(500):
        sha = rand("0123456789abcdef", 40)
        uuid = "-".join(rand("0123456789abcdef", n) for n in (8, 4, 4, 4, 12))
        text = f"commit {sha}\nkey: {sha}\nid={uuid}\nsession_key: {uuid}\n+{sha}\n-{uuid}"
        assert redact(text) == (text, {}), text


def test_source_code_is_kept():
    # git-ml's own code (but the redaction package, whose docs show secrets) and some of the standard library:
    # many names with key, token, secret, password, and no secret.
    root = Path(git_ml.__file__).parent
    stdlib = Path(string.__file__).parent
    paths = [p for p in sorted(root.rglob("*.py")) if "redaction" not in p.parts]
    paths += sorted((stdlib / "email").glob("*.py")) + sorted((stdlib / "http").glob("*.py"))
    paths += [stdlib / name for name in ("secrets.py", "hashlib.py", "hmac.py", "base64.py", "uuid.py", "ssl.py")]
    for path in paths:
        text = path.read_text()
        out, counts = redact(text)
        assert counts == {}, (path, counts)


def test_generic_key_names_need_high_entropy():
    value = rand(ALNUM, 32)
    assert redact(f"APP_KEY={value}")[0] == "APP_KEY=[REDACTED:generic-secret]"
    assert redact("APP_KEY=development_only_setting")[1] == {}
    assert redact(f"sort_key = '{rand(string.ascii_lowercase, 20)}'")[1] == {}


def test_short_texts_build_nothing_of_the_token_scan():
    # Hooks redact one commit message in a fresh process: without a run of 16 token characters the provider-token
    # scan compiles none of its 240 patterns; with one, only the patterns of the prefixes it meets.
    code = ("from git_ml.capture.redaction import redact\n"
            "from git_ml.capture.redaction.engine import RULES\n"
            "scan = next(r for r in RULES if r.name == 'provider tokens')\n"
            "redact('Fix typo in README (#12)')\n"
            "print(scan._built, len(scan._compiled))\n"
            "redact('This reverts commit 3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c, see ghp_' + 'A1b2' * 9)\n"
            "print(scan._built, len(scan._compiled))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False 0"
    built, compiled = out[1].split()
    assert built == "True" and 1 <= int(compiled) <= 3


def test_checks_of_all_candidates_at_once_agree_with_one_by_one():
    # The provider-token scan checks its candidates' random parts all at once (looks.machine_made_all and
    # looks_fake_all): they must decide each exactly as the one-by-one checks, fillers, placeholder words, short
    # and non-ASCII strings included.
    from git_ml.capture.redaction.looks import looks_fake, looks_fake_all, machine_made, machine_made_all

    rng = random.Random(7)
    alphabets = [ALNUM, "0123456789abcdef", string.ascii_lowercase, "ab01", "_-", "abcdefgh0123",
                 string.ascii_uppercase + "234567", "aaaaaaab", "xyzXYZ-_", "0123456789abcdefABCDEF"]
    inserts = ["example", "xxxx", "your", "dummy", "abcd", "1234", "aaaaaa", "AAAAAa", "é", "\x00"]
    for _ in range(300):
        strings = []
        for _ in range(rng.randrange(1, 60)):
            s = "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randrange(0, 70)))
            if rng.random() < 0.2:
                i = rng.randrange(len(s) + 1)
                s = s[:i] + rng.choice(inserts) + s[i:]
            strings.append(s)
        assert machine_made_all(strings) == [machine_made(s) for s in strings], strings
        assert looks_fake_all(strings) == [looks_fake(s) for s in strings], strings
