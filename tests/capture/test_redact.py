"""Tests for git_ml.redact.

Self-contained fixtures always run. Tests on the shared scanner test data run when
/work/shared exists (Path(__file__).parents[2] / "shared") and skip otherwise. That data
(all secrets in it are fake) comes from gitleaks/gitleaks (MIT): string literals of the
rule test vectors and config/testdata, and from Yelp/detect-secrets (Apache-2.0):
test_data/; see shared/samples/README.md.
"""

import ast
import base64
import json
import random
import re
import string
from pathlib import Path

import pytest
from conftest import SHARED  # noqa: E402

import git_ml.capture.redaction as redact_module
from git_ml.capture.redaction import KINDS, redact

SECRETS = SHARED / "samples" / "secrets"
TRANSCRIPTS = SHARED / "samples" / "transcripts"

ALNUM = string.ascii_letters + string.digits
EXTENDED = ALNUM + "_-"
B64 = ALNUM + "+/"
BASE32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"

_rng = random.Random(20240611)


def rand(alphabet: str, n: int) -> str:
    """A random (so high-entropy) fake credential body."""
    return "".join(_rng.choice(alphabet) for _ in range(n))


def b64url(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def pem(label: str, lines: int = 6) -> str:
    body = "\n".join(rand(B64, 64) for _ in range(lines))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def jwt(payload=None) -> str:
    header = b64url({"alg": "HS256", "typ": "JWT"})
    payload = b64url(payload or {"sub": "1234567890", "iat": 1516239022})
    return f"{header}.{payload}.{rand(EXTENDED, 43)}"


# --- self-contained true positives: (text, kind, secret) -------------------------------------

OPENAI_LEGACY = "sk-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20)
OPENAI_PROJECT = "sk-proj-" + rand(EXTENDED, 74) + "T3BlbkFJ" + rand(EXTENDED, 74)
ANTHROPIC = "sk-ant-api03-" + rand(EXTENDED, 93) + "AA"
ANTHROPIC_OAUTH = "sk-ant-oat01-" + rand(EXTENDED, 95)
GITHUB = [p + rand(ALNUM, 36) for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")]
GITHUB_FINE = "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)
SLACK_BOT = f"xoxb-{rand('123456789', 12)}-{rand('123456789', 13)}-{rand(ALNUM, 24)}"
SLACK_USER = "xoxp-" + "-".join(rand("123456789", 12) for _ in range(3)) + "-" + rand(HEX, 32)
SLACK_APP = f"xapp-1-A{rand(BASE32, 10)}-{rand('0123456789', 13)}-{rand(HEX, 64)}"
SLACK_HOOK_PATH = f"T{rand(BASE32, 8)}/B{rand(BASE32, 8)}/{rand(ALNUM, 24)}"
STRIPE = ["sk_live_" + rand(ALNUM, 24), "rk_test_" + rand(ALNUM, 30), "sk_test_" + rand(ALNUM, 99)]
GOOGLE = "AIza" + rand(EXTENDED, 35)
AWS_IDS = [p + rand(BASE32, 16) for p in ("AKIA", "ASIA", "ABIA", "ACCA")]
AWS_SECRET = rand(B64, 40)
BEDROCK = "ABSK" + rand(B64, 132)
JWT = jwt()
PASSWORD = "Tr0ub4dor&3x"

TRUE_POSITIVES = [
    (f"export OPENAI_API_KEY={OPENAI_LEGACY}", "openai-key", OPENAI_LEGACY),
    (f'client = OpenAI(api_key="{OPENAI_PROJECT}")', "openai-key", OPENAI_PROJECT),
    (f"ANTHROPIC_API_KEY={ANTHROPIC}", "anthropic-key", ANTHROPIC),
    (f"oauth token {ANTHROPIC_OAUTH} expired", "anthropic-key", ANTHROPIC_OAUTH),
    *[(f"GH_TOKEN={t}", "github-token", t) for t in GITHUB],
    (f"git clone https://{GITHUB_FINE}@github.com/o/r", "github-token", GITHUB_FINE),
    (f'"bot_token": "{SLACK_BOT}"', "slack-token", SLACK_BOT),
    (f"user token {SLACK_USER}.", "slack-token", SLACK_USER),
    (f"SLACK_APP_TOKEN={SLACK_APP}", "slack-token", SLACK_APP),
    (f"curl -X POST https://hooks.slack.com/services/{SLACK_HOOK_PATH} -d @msg.json",
     "slack-webhook", SLACK_HOOK_PATH),
    *[(f"stripe.api_key = '{k}'", "stripe-key", k) for k in STRIPE],
    (f'<meta name="maps-key" content="{GOOGLE}">', "google-api-key", GOOGLE),
    *[(f"aws_access_key_id = {k}", "aws-access-key", k) for k in AWS_IDS],
    (f"aws_secret_access_key = {AWS_SECRET}", "aws-secret-key", AWS_SECRET),
    (f'"SecretAccessKey": "{AWS_SECRET}",', "aws-secret-key", AWS_SECRET),
    (f"AWS_BEARER_TOKEN_BEDROCK={BEDROCK}", "aws-bedrock-key", BEDROCK),
    (f"Authorization: Bearer {JWT}", "jwt", JWT),
    (f"https://app.example.com/cb?id_token={JWT}&state=x", "jwt", JWT),
    # passwords in every common notation
    (f'password = "{PASSWORD}"', "password", PASSWORD),
    (f"PASSWORD={PASSWORD}", "password", PASSWORD),
    (f"DB_PASSWORD='{PASSWORD}'", "password", PASSWORD),
    (f'  "password": "{PASSWORD}",', "password", PASSWORD),
    (f'{{\\"passwd\\": \\"{PASSWORD}\\"}}', "password", PASSWORD),  # JSON inside JSON
    (f"spring.datasource.password={PASSWORD}", "password", PASSWORD),
    (f"  password: {PASSWORD}\n  user: app", "password", PASSWORD),
    (f"Server=db;User Id=sa;Password={PASSWORD};", "password", PASSWORD),
    (f"docker login --password {PASSWORD} registry.example.org", "password", PASSWORD),
    ("deploy --api-token 8c1f4e2a9b7d6350 --env prod", "generic-secret", "8c1f4e2a9b7d6350"),
    (f"passphrase := `{PASSWORD}`", "password", PASSWORD),
    (f"$dbPass = '{PASSWORD}';", "password", PASSWORD),
    (f"SMTP_PWD={PASSWORD}", "password", PASSWORD),
    ("PASSWORD=correcthorse", "password", "correcthorse"),  # KEY=value env file: any value
    ("GET /login?user=me&password=S3cr3tPw1&next=/home", "password", "S3cr3tPw1"),
    # other secrets assigned to a telling name
    ("SECRET_KEY: 'k3#v9!qz_d8@w0x^2m'", "generic-secret", "k3#v9!qz_d8@w0x^2m"),
    ('"client_secret": "9fQ2vK7xLm3pR8sT1wZ4"', "generic-secret", "9fQ2vK7xLm3pR8sT1wZ4"),
    ("api_key=f3a9c1e07b5d42e8", "generic-secret", "f3a9c1e07b5d42e8"),
    ("X-API-Key: 7c2e9a41f0b34d8e", "generic-secret", "7c2e9a41f0b34d8e"),
    ("webhook_secret = 'whk_8Jq2Lm9Xv4'", "generic-secret", "whk_8Jq2Lm9Xv4"),
    ('NPM_TOKEN="d5c4e9f1-2a3b-4c5d-8e9f-0a1b2c3d4e5f"', "generic-secret",
     "d5c4e9f1-2a3b-4c5d-8e9f-0a1b2c3d4e5f"),  # a UUID assigned to a token is a token
    ("curl -H 'Authorization: Bearer 4f9aK2mQ8xZ1vL7pR3sT'", "generic-secret",
     "4f9aK2mQ8xZ1vL7pR3sT"),
    # URLs: only the password goes
    ("DATABASE_URL=postgres://app:Xk29vLq7@db.internal:5432/app", "url-credentials", "Xk29vLq7"),
    ("mysql://root:r00tPw!@127.0.0.1/shop", "url-credentials", "r00tPw!"),
    ("mongodb+srv://svc:m0ng0Pw@cluster0.ab1cd.mongodb.net/db", "url-credentials", "m0ng0Pw"),
    ("REDIS_URL=redis://:r3d1sPw@cache:6379/0", "url-credentials", "r3d1sPw"),
    ("amqp://guest:Gu3stPw@rabbit:5672/vhost", "url-credentials", "Gu3stPw"),
    ("https://deploy:a8Kq2xZ9@git.example.com/repo.git", "url-credentials", "a8Kq2xZ9"),
    ("postgres://app:p@ss!w0rd@db:5432/app", "url-credentials", "p@ss!w0rd"),  # unescaped @
    (pem("RSA PRIVATE KEY"), "private-key", None),
    (pem("OPENSSH PRIVATE KEY"), "private-key", None),
    (pem("ENCRYPTED PRIVATE KEY"), "private-key", None),
    (pem("PGP PRIVATE KEY BLOCK"), "private-key", None),
]


def _secret_of(text, secret):
    return secret if secret is not None else text


@pytest.mark.parametrize("text,kind,secret", TRUE_POSITIVES)
def test_true_positive(text, kind, secret):
    out, counts = redact(text)
    assert counts == {kind: 1}
    assert _secret_of(text, secret) not in out
    assert f"[REDACTED:{kind}]" in out


@pytest.mark.parametrize("text,kind,secret", TRUE_POSITIVES)
def test_idempotent(text, kind, secret):
    once, _ = redact(text)
    assert redact(once) == (once, {})


def test_kinds_cover_every_emitted_kind():
    # Provider-token and connection-string kinds are covered by test_redact_providers.py.
    emitted = {kind for _, kind, _ in TRUE_POSITIVES}
    assert emitted <= set(KINDS)
    assert len(KINDS) == len(set(KINDS))


# Shapes of generated credentials: every random instance must be redacted (guards against
# the look-alike checks rejecting real, random keys).
SHAPES = {
    "openai-key": lambda: "sk-proj-" + rand(EXTENDED, 74) + "T3BlbkFJ" + rand(EXTENDED, 74),
    "anthropic-key": lambda: "sk-ant-admin01-" + rand(EXTENDED, 93) + "AA",
    "github-token": lambda: _rng.choice(["ghp_", "gho_", "ghs_"]) + rand(ALNUM, 36),
    "slack-token": lambda: "-".join(
        ("xoxb", rand(string.digits, 11), rand(string.digits, 12), rand(ALNUM, 24))
    ),
    "stripe-key": lambda: "sk_live_" + rand(ALNUM, 99),
    "google-api-key": lambda: "AIza" + rand(EXTENDED, 35),
    "aws-access-key": lambda: "ASIA" + rand(BASE32, 16),
    "aws-bedrock-key": lambda: "ABSK" + rand(B64, 150),
    "jwt": lambda: jwt({"sub": rand(ALNUM, 12), "exp": 1700000000}),
}


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_random_keys_are_all_redacted(kind):
    for _ in range(300):
        key = SHAPES[kind]()
        assert redact(f'key: "{key}"\n') == (f'key: "[REDACTED:{kind}]"\n', {kind: 1}), key


@pytest.mark.parametrize("name", ["password", "api_key", "SECRET", "auth_token"])
def test_random_assigned_values_are_all_redacted(name):
    for _ in range(300):
        value = rand(ALNUM + "!#%+-.=@^_~", _rng.randrange(12, 40))
        out, counts = redact(f'{name} = "{value}"')
        assert value not in out and sum(counts.values()) == 1, value


def test_idempotent_on_random_mixtures():
    # Fragments of every rule glued together at random: whatever the first call replaced,
    # a second call finds nothing (a replacement may expose a match to an earlier rule).
    fragments = [
        "password", "PASSWORD", "pwd", "secret", "SECRET_KEY", "token", "Token", "api_key",
        "X-Api-Key", "Bearer ", "--password ", "=", ":", " = ", '"', "'", '\\"', "\\n", "\n",
        "&", "${X}", "://", "@", "postgres://u", "sk-", "sk-ant-api03-", "ghp_", "github_pat_",
        "xoxb-", "hooks.slack.com/services/", "sk_live_", "AKIA", "AIza", "ABSK", "eyJhbGciOi",
        ".", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "(", "[", ",",
    ]
    rng = random.Random(3)
    for _ in range(3000):
        parts = [
            rng.choice(fragments) if rng.random() < 0.5 else rand(ALNUM, rng.randrange(1, 50))
            for _ in range(rng.randrange(1, 25))
        ]
        once, counts = redact("".join(parts))
        assert set(counts) <= set(KINDS)
        assert redact(once) == (once, {}), parts


def test_large_text_settles_like_its_lines():
    # On large text with few replacements the rules run a second time only over the lines holding a placeholder
    # (engine.redact): the result must be what each line gives alone, and a second call must find nothing.
    fragments = [
        "password", "PASSWORD", "pwd", "secret", "token", "api_key", "Bearer ", "--password ", "=", ":", " = ",
        '"', "'", "&", "://", "@", "postgres://u", "sk-", "ghp_", "xoxb-", "sk_live_", "AKIA", "AIza", "glpat-",
        "npm_", "SG.", "AccountKey=", "sig=", ".", "(", "[", ",", "+", "-",
    ]
    rng = random.Random(16)
    filler = [f"def f{i}(x):\n    return x + {i}  # {rand(ALNUM, 12)}" for i in range(4000)]
    lines = [line for block in filler for line in block.split("\n")]
    for _ in range(60):
        parts = [rng.choice(fragments) if rng.random() < 0.5 else rand(ALNUM, rng.randrange(1, 50))
                 for _ in range(rng.randrange(1, 25))]
        lines.insert(rng.randrange(len(lines)), "".join(parts))
    text = "\n".join(lines)
    assert len(text) > 1 << 16
    once, counts = redact(text)
    assert counts
    assert once == "\n".join(redact(line)[0] for line in lines)
    assert redact(once) == (once, {})


def test_only_the_secret_is_replaced():
    text = "DATABASE_URL=postgres://app:Xk29vLq7@db.internal:5432/app"
    assert redact(text)[0] == (
        "DATABASE_URL=postgres://app:[REDACTED:url-credentials]@db.internal:5432/app"
    )
    text = f"https://hooks.slack.com/services/{SLACK_HOOK_PATH}"
    assert redact(text)[0] == "https://hooks.slack.com/services/[REDACTED:slack-webhook]"
    text = f'  "password": "{PASSWORD}",  # ok'
    assert redact(text)[0] == '  "password": "[REDACTED:password]",  # ok'


def test_private_key_block_goes_whole():
    key = pem("PRIVATE KEY")
    out, counts = redact(f"before\n{key}\nafter")
    assert (out, counts) == ("before\n[REDACTED:private-key]\nafter", {"private-key": 1})


def test_private_key_inside_json_string():
    key = pem("EC PRIVATE KEY")
    line = json.dumps({"private_key": key, "client_email": "svc@proj.iam.gserviceaccount.com"})
    out, counts = redact(line)
    assert counts == {"private-key": 1}
    assert json.loads(out)["private_key"] == "[REDACTED:private-key]"


def test_truncated_private_key():
    header = "$ head -3 id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----"
    text = f"{header}\n{rand(B64, 70)}\n{rand(B64, 70)}\nso that is the key"
    out, counts = redact(text)
    assert counts == {"private-key": 1}
    assert out == "$ head -3 id_ed25519\n[REDACTED:private-key]\nso that is the key"


def test_transcript_line_stays_valid_json():
    content = f'Run with PGPASSWORD={PASSWORD} and token = "{GITHUB[0]}"\n{pem("PRIVATE KEY")}'
    line = json.dumps({"type": "user", "message": {"role": "user", "content": content}})
    out, counts = redact(line)
    assert counts == {"password": 1, "github-token": 1, "private-key": 1}
    assert json.loads(out)["message"]["content"] == (
        'Run with PGPASSWORD=[REDACTED:password] and token = "[REDACTED:github-token]"\n'
        "[REDACTED:private-key]"
    )


def test_counts_every_occurrence_once():
    text = f"{GITHUB[0]} {GITHUB[1]}\ntoken = '{GITHUB[2]}'\nAKIA in {AWS_IDS[0]}"
    out, counts = redact(text)
    assert counts == {"github-token": 3, "aws-access-key": 1}
    assert out == (
        "[REDACTED:github-token] [REDACTED:github-token]\n"
        "token = '[REDACTED:github-token]'\nAKIA in [REDACTED:aws-access-key]"
    )


def test_empty_and_plain_text():
    assert redact("") == ("", {})
    assert redact("Fix typo in README") == ("Fix typo in README", {})


# --- self-contained false positives: text that must come back unchanged ----------------------

FALSE_POSITIVES = [
    # hashes and ids that fill commit messages and transcripts
    "commit d8541c11a795e1d763f588b265b2344421c5b75a",
    "Merge 9fceb02 into 3f2c9a1; reverts 9b963cc58ea44ecd5b868ec5ff527e03af2a080a",
    '{"uuid":"cc657742-8c2f-6d6b-c64e-5a22fac180d6",'
    '"parentUuid":"b2e6e1b4-65e5-5130-5fd2-d2490ca4c616"}',
    '"sessionId": "e8c4bf14-4d33-3495-5d46-af783b52901a", '
    '"requestId": "req_01PabX54bac5ZkFM9CZx7b2e"',
    "sha256:79793a67c9e2ed829af48d9d59ce6ca6b0b9658d7dbc036095e68de96039211d",
    '"usage": {"input_tokens": 1234, "cache_read_input_tokens": 0, "output_tokens": 56}',
    "max_tokens: 4096\ntoken_count = 12345",
    # ordinary code
    "password = get_password()",
    "token = None",
    "def login(username: str, password: str) -> bool:",
    "password: string;",
    'secret_key=os.environ["SECRET_KEY"]',
    'api_key = os.getenv("OPENAI_API_KEY")',
    "client = OpenAI(api_key=api_key)",
    "self.password = password",
    "conn = connect(user=user, password=password)",
    "password = request.form['password']",
    "token = tokenizer.encode(text)",
    "token = Punctuation",
    "name, passwd = credential_tuple",
    'if password == "":',
    "password_hash = bcrypt.hashpw(pw, salt)",
    'headers = {"Authorization": f"Bearer {token}"}',
    "except TokenExpired: token = refresh(token)",
    "class PasswordField(Field): pass",
    "bypass = True\ncompass: north",
    "PASS = ignore\nTOKEN = default_token",  # constants in code, not KEY=value settings
    '<input type="password" name="pw"> echo $PASSWORD | docker login --password-stdin',
    '"password": {"type": "string", "format": "password"}',
    # placeholders and templates
    'password = "${PASSWORD}"',
    "password: <your-password>",
    'password = "xxxxxxxx"',
    'password = "********"',
    "password = changeme",
    'DB_PASSWORD="{{ vault_db_password }}"',
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "Authorization: Bearer $TOKEN",
    "api_key: YOUR_API_KEY_HERE",
    'password="%(password)s"',
    "export GITHUB_TOKEN=$(gh auth token)",
    "postgres://user:password@localhost:5432/db",
    "postgres://app:${DB_PASS}@db/app",
    "mysql://root:<password>@localhost/shop",
    # documentation example credentials and look-alikes
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "key = AKIAXXXXXXXXXXXXXXXX",
    "GH_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
    "OPENAI_API_KEY=sk-...",
    "secret: YWFhYWFhYWFhYWFhYWFhYWFhYWFh",  # base64 of aaaa...
    "token = 'abcdefghijklmnop'",
    # words and prose
    "The passwords are stored hashed; rotate secrets and tokens yearly.",
    "password: the one from the team vault",
    "Reset your password at https://example.com/reset",
    "task-management-service sk-learn desk-lamp-2024-model risk-assessment-framework",
    "Slovak (sk-SK) locale",
    # settings that are not secrets
    "PWD=/home/me/project\nOLDPWD=/home/me",
    'csrf_token = "2VqUz19CY0RnOjJsrBw38SvZagt5xOLh"',
    'next_page_token = "CAEQaDNPpQK1kGbA"',
    "publicKeyToken=\"1fc8b3b9a1e18e3b\"",
    '"hashed_secret": "1ad69534f07c37e255eb8a1c095409993fd21b5a"',
    "secret_name = 'prod-db-credentials'",
    '"token_type": "bearer"',
    "password_file=/run/secrets/db\ntoken_url=https://auth.example.com/token",
    # URLs without a password
    "git@github.com:org/repo.git",
    "ssh://git@github.com:22/org/repo.git",
    "https://user@example.com/path",
    "http://localhost:8080/api?x=1",
    # near misses of token shapes
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
    "-----END PUBLIC KEY-----",
    '"-----BEGIN PRIVATE KEY-----\\n" + b64 + "\\n-----END PRIVATE KEY-----"',
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "task_test_" + rand(ALNUM, 30),
    "xoxb-your-bot-token",
    "eyJhbGciOi",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_false_positive(text):
    assert redact(text) == (text, {})


def test_commit_messages_without_secrets():
    messages = [
        "Bump version to 1.2.3",
        "Fix token refresh when the session expires (#1234)",
        "Add password strength meter\n\nUses zxcvbn; no passwords are logged.",
        "Revert \"Add API key rotation\"\n\n"
        "This reverts commit 9b963cc58ea44ecd5b868ec5ff527e03af2a080a.",
        "chore(deps): update dependency @types/node to v20.11.5",
        "Merge pull request #42 from org/feature/secret-scanning",
        "Signed-off-by: Jane Doe <jane@example.com>\n"
        "Co-authored-by: bot <41898282+bot@users.noreply.github.com>",
    ]
    for message in messages:
        assert redact(message) == (message, {})


def test_imports_only_re():
    # Hooks import the engine: it must start fast, so its modules import only re, each other and what re itself
    # loads (itertools, operator).
    package = Path(redact_module.__file__).parent
    for path in sorted(package.rglob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
        assert {m for m in imported if not m.startswith("git_ml.capture.redaction")} <= {"re", "itertools", "operator"}, path


# --- shared scanner test data ----------------------------------------------------------------


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


# Which kinds count as a hit for a gitleaks rule family.
FAMILY_KINDS = {
    "anthropic": {"anthropic-key"},
    "aws": {"aws-access-key", "aws-bedrock-key", "aws-secret-key"},
    "gcp": {"google-api-key"},
    "generic": {"password", "generic-secret", "aws-secret-key"},
    "github": {"github-token"},
    "jwt": {"jwt"},
    "openai": {"openai-key"},
    "privatekey": {"private-key"},
    "slack": {"slack-token", "slack-webhook"},
    "stripe": {"stripe-key"},
}

# Positives deliberately not redacted, with the reason.
OUT_OF_SCOPE = {
    '"type": "service_account"': "marks a GCP service-account file, is no secret itself; "
    "the file's private_key is redacted by the private-key rule",
}
# gitleaks negatives that redact() replaces on purpose, recognised by a predicate.
BY_DESIGN = {
    # gitleaks lists each well-formed Anthropic key as a negative of the *other* Anthropic
    # rule (api03 must not match the admin rule); per family both are Anthropic keys.
    "anthropic": lambda s: re.fullmatch(r"sk-ant-(?:api|admin)\d\d-[\w-]{93}AA", s),
    # Firebase SDK sample keys: well-formed, gitleaks allowlists them by exact value.
    "gcp": lambda s: re.fullmatch(r"AIza[\w-]{35}", s) and len(set(s)) > 20,
    # nonMatchingToken := "task_test_<30 random>": no Stripe key, but a random value
    # assigned to a name ending in Token, which the assignment rule redacts.
    "stripe": lambda s: redact(s)[1] == {"generic-secret": 1},
}


def _is_documentation(s: str) -> bool:
    return "EXAMPLE" in s  # AWS documentation keys: we treat them as placeholders


def _is_lone_prefix(s: str) -> bool:
    return len(s) < 40 and not re.search(r"\s", s) and s.endswith(("-", "_", "/"))


def load_vectors():
    """Per family (positives, negatives) from gitleaks-vectors.json.

    The file holds *every* string literal of gitleaks' rule files, so it needs sorting:
    * literals in both lists are negatives (the extraction put some negatives into the
      positives too);
    * generator arguments are no vectors: a prefix followed by a length literal
      ("sk-ant-api03-", "93", "AA") becomes one generated vector, prefix + random body of
      that length + the short suffix; names, lengths and lone prefixes are dropped.
    """
    data = json.loads(_need(SECRETS / "gitleaks-vectors.json").read_text())
    rng = random.Random(7)
    families = {}
    for family, lists in sorted(data.items()):
        tps, fps = lists["true_positives"], lists["false_positives"]
        out = {"positives": [], "negatives": []}
        for side, literals in (("positives", tps), ("negatives", fps)):
            for i, s in enumerate(literals):
                following = literals[i + 1] if i + 1 < len(literals) else ""
                if following.isdigit():  # generator: prefix, length, optional suffix
                    after = literals[i + 2] if i + 2 < len(literals) else ""
                    suffix = after if len(after) <= 2 and not after.isdigit() else ""
                    body = "".join(rng.choice(ALNUM) for _ in range(int(following)))
                    target = "negatives" if (s in fps and side == "positives") else side
                    out[target].append(("generated", s + body + suffix))
                    continue
                if len(s) <= 2 or s.isdigit() or s.isalpha() and s.islower() or _is_lone_prefix(s):
                    continue  # a suffix, a length, a name or a lone prefix
                if side == "positives" and s in fps:
                    continue  # counted among the negatives
                out[side].append(("literal", s))
        families[family] = {k: list(dict.fromkeys(v)) for k, v in out.items()}
    return families


def vector_report():
    """{family: {"tp": (hit, in_scope), "fp": (hit, n), "fp_by_design": k, "misses": [...]}}."""
    report = {}
    for family, vectors in load_vectors().items():
        kinds = FAMILY_KINDS[family]
        hit = scope = 0
        misses = []
        for origin, s in vectors["positives"]:
            if s in OUT_OF_SCOPE:
                continue
            scope += 1
            _, counts = redact(s)
            if set(counts) & kinds:
                hit += 1
            else:
                misses.append((origin, s))
        fp_hits, by_design, false_hits = 0, 0, []
        for origin, s in vectors["negatives"]:
            _, counts = redact(s)
            if counts:
                fp_hits += 1
                if family in BY_DESIGN and BY_DESIGN[family](s):
                    by_design += 1
                else:
                    false_hits.append((origin, s))
        report[family] = {
            "tp": (hit, scope),
            "fp": (fp_hits, len(vectors["negatives"])),
            "fp_by_design": by_design,
            "misses": misses,
            "false_hits": false_hits,
        }
    return report


def test_gitleaks_vectors():
    report = vector_report()
    lines = []
    for family, r in report.items():
        (hit, scope), (fp, neg) = r["tp"], r["fp"]
        lines.append(f"{family:11} recall {hit}/{scope}  false positives {fp}/{neg}"
                     f" ({r['fp_by_design']} by design)")
    print("\n" + "\n".join(lines))
    for family, r in report.items():
        # The only positives missed are AWS documentation keys (EXAMPLE), by choice.
        assert all(_is_documentation(s) for _, s in r["misses"]), (family, r["misses"])
        assert not r["false_hits"], (family, r["false_hits"])
    assert sum(r["tp"][1] for r in report.values()) >= 25
    assert sum(r["fp"][1] for r in report.values()) >= 80


def test_gitleaks_vectors_are_sorted_sensibly():
    families = load_vectors()
    anthropic = [s for _, s in families["anthropic"]["positives"]]
    assert any(s.startswith("sk-ant-api03-") and len(s) == 108 for s in anthropic)
    slack = [s for _, s in families["slack"]["positives"]]
    assert all("hooks.slack.com" in s for s in slack) and len(slack) >= 10
    stripe = [s for _, s in families["stripe"]["negatives"]]
    assert stripe and all("task_test_" in s for s in stripe)


def _lines_changed(original: str, redacted: str) -> list[str]:
    return [a for a, b in zip(original.splitlines(), redacted.splitlines()) if a != b]


def test_detect_secrets_config_ini():
    text = _need(SECRETS / "detect-secrets" / "config.ini").read_text()
    out, counts = redact(text)
    # Passwords go whatever they look like (the pragma is for scanners, not for us);
    # aws_secret_key = 23456789a1 stays: a key must look machine-made, this is a counting run.
    # real_secret_which_isnt_an_i_d: a secret-bearing name (keyword inside it) with a high-entropy value.
    assert _lines_changed(text, out) == [
        "password = 123456789a1234",
        "password = 12345678901234  # pragma: allowlist secret",
        "real_secret_which_isnt_an_i_d = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG",
    ]
    assert counts == {"password": 2, "generic-secret": 1}
    assert "foreign_key_id = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG" in out


def test_detect_secrets_config_yaml():
    text = _need(SECRETS / "detect-secrets" / "config.yaml").read_text()
    out, counts = redact(text)
    assert _lines_changed(text, out) == [
        "test_agent::allowlisted_api_key: 'ToCynx5Se4e2PtoZxEhW7lUJcOX15c54'"
        "  # pragma: allowlist secret",
    ]
    assert counts == {"generic-secret": 1}
    assert "allowlisted_id: 'ToCynx5Se4e2PtoZxEhW7lUJcOX15c54'" in out
    assert "value: AKIATESTTESTTESTTEST" in out  # a placeholder, not a key


def test_detect_secrets_each_secret_py():
    text = _need(SECRETS / "detect-secrets" / "each_secret.py").read_text()
    out, counts = redact(text)
    assert counts == {"url-credentials": 1, "generic-secret": 2}
    assert "basic_auth = 'http://username:[REDACTED:url-credentials]@example.com'" in out
    assert "base64_secret = '[REDACTED:generic-secret]'" in out
    assert "hex_secret = '[REDACTED:generic-secret]'" in out
    # AWS's documentation example keys stay: they are published placeholders.
    assert "AKIAIOSFODNN7EXAMPLE" in out and "EXAMPLEKEY" in out


def test_detect_secrets_private_key_file():
    text = _need(SECRETS / "detect-secrets" / "files_private_key").read_text()
    assert redact(text) == ("[REDACTED:private-key]\n", {"private-key": 1})


def test_detect_secrets_diff_has_no_secret():
    text = _need(SECRETS / "detect-secrets" / "sample.diff").read_text()
    assert redact(text) == (text, {})


def test_gitleaks_testdata():
    env = _need(SECRETS / "gitleaks" / "testdata_nogit_.env.prod").read_text()
    out, counts = redact(env)
    assert counts == {"password": 1}
    assert _lines_changed(env, out) == ["DB_PASSWORD=8ae31cacf141669ddfb5da"]
    go = _need(SECRETS / "gitleaks" / "testdata_nogit_api.go.txt").read_text()
    out, counts = redact(go)
    assert counts == {"aws-access-key": 1}
    assert 'awsToken := "[REDACTED:aws-access-key]"' in out


def test_gitleaks_config_has_only_the_sample_keys():
    # 222 rules full of regexes, keywords and example names: a stress test for look-alikes.
    # The only hits are the well-formed Firebase sample keys of the gcp allowlist.
    text = _need(SECRETS / "gitleaks" / "gitleaks.toml").read_text()
    out, counts = redact(text)
    changed = _lines_changed(text, out)
    assert counts == {"google-api-key": len(changed)}
    assert all(re.fullmatch(r"\s*'''AIza[\w-]{35}''',", line) for line in changed), changed


def test_sample_transcripts_have_no_secrets():
    paths = sorted(_need(TRANSCRIPTS).glob("*.*"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        out, counts = redact(text)
        assert counts == {}, (path.name, _lines_changed(text, out)[:3])
