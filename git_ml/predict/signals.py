"""Names, labels and constants of the ranking signals, shared by the numpy model and the quick path (no imports)."""

K1 = 1.2
B = 0.75
HEAT_TAU = 50.0  # commits: time scale of the "burst" signal
VOTE_K = 30
VOTE_POSTINGS = 2000  # similar-commit search reads the most recent postings of a word (a pruned index)
MAX_QUERY_TERMS = 10  # a long task keeps its most specific words
RECENT_CANDIDATES = 20
AUTHOR_COMMITS = 30
AUTHOR_DECAY = 0.9
CANDIDATES_PER_SIGNAL = 60
TOP_COCHANGE = 3
COCHANGE_HISTORY = 200
RECENT_TAU = 10.0
RECENT_SLOW_TAU = 200.0
SESSION_SECONDS = 4 * 3600.0  # time scale of "the author's work session"

FEATURES = (
    "text",
    "vote",
    "path",
    "name",
    "recent",
    "recent_slow",
    "frequency",
    "author",
    "text_rank",
    "vote_rank",
    "burst",
    "cochange_top",
    "session",
    "cochange",
)
NF = len(FEATURES)
# Before anything is learnt (tiny histories): the hand-set fusion of the reference model, spread over our features.
DEFAULT_WEIGHTS = (1.0, 0.5, 0.3, 0.3, 0.4, 0.4, 0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
COCHANGE = FEATURES.index("cochange")

LABELS = {
    "text": "past messages of this file match the task",
    "vote": "similar past commits changed it",
    "path": "task words in its path",
    "name": "task words in its file name",
    "recent": "changed recently",
    "recent_slow": "changed in the last few hundred commits",
    "frequency": "changes often",
    "author": "the author changed it recently",
    "text_rank": "ranks high on message match",
    "vote_rank": "ranks high among similar commits' files",
    "burst": "changed many times lately",
    "cochange_top": "changes together with the best text matches",
    "session": "the author changed it in the last hours",
    "cochange": "changes together with the seed files",
}
