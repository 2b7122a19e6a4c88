"""Complaint themes: group complaints by the words they share, and say which words.

The method (chosen by measuring on tests/data/complaints_labelled.csv, see docs/complaint-themes.md
and bench/complaint_themes.py) is plain and reproducible, with scikit-learn only, offline:

1. Words: lower case, English stop words and words every complaint uses ("order", "please") left
   out, a light suffix stemmer so "charged", "charges" and "charge" count as one word; single
   words and pairs of neighbouring words.
2. TF-IDF with sublinear term frequency, over words found in at least two complaints and in at most
   half of them.
3. LSA: the TF-IDF vectors projected on their 15 strongest directions and scaled to length one, so
   "refund" and "money back" can meet through the complaints that use both.
4. k-means (fixed seed, ``N_INIT`` starts). ``k`` is given, or the ``k`` in 2..20 (at most one
   theme per 10 complaints) whose grouping has the best silhouette.
5. A theme's keywords are the heaviest words of its TF-IDF centroid (the average of its complaints'
   vectors); its label is its first three distinct keywords. A complaint's explanation is the words
   it shares with its theme's centroid, heaviest first.

Complaints with fewer than two known words go to "Other" rather than pulling a theme off course.
The texts are put in a canonical order before fitting, so the same complaints in any order give
the same themes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans  # type: ignore[import-untyped]
from sklearn.decomposition import TruncatedSVD  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.metrics import silhouette_score  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

OTHER_LABEL = "Other"
LSA_DIMS = 10  # 8, 10, 12 and 15 measured on the labelled set: 10 grouped best
K_MAX = 20
DOCS_PER_THEME = 10  # the automatic k never gives fewer than this many complaints per theme on average
N_INIT = 10
MIN_WORDS = 2  # fewer known words than this: the complaint goes to Other
KEYWORDS = 8
SILHOUETTE_SAMPLE = 3000  # silhouette is quadratic in the number of complaints: a fixed sample keeps it quick
SEARCH_SAMPLE = 3000  # complaints the automatic k is chosen on
# Words every complaint to a shop uses, whatever it is about: they would only blur the themes.
DOMAIN_STOP_WORDS = frozenset(
    """order ordered orders please pls thanks thank hi hello dear just like would really regards got get
    customer team sir madam kind best sincerely faithfully cheers also now one two three know want need
    said say says tell told make made way thing things lot bit ok okay yes let won can don didn isn wasn
    doesn haven wouldn couldn shouldn aren weren hasn""".split()  # noqa: SIM905 - a word list reads better
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | DOMAIN_STOP_WORDS
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Theme:
    index: int  # position in ThemeModel.themes: biggest theme first, Other last
    label: str
    keywords: tuple[str, ...]
    size: int
    is_other: bool = False


@dataclass(frozen=True)
class Assignment:
    theme: int  # index into ThemeModel.themes
    keywords: tuple[str, ...]  # the words it shares with its theme, heaviest first: why it is there
    score: float  # cosine similarity to the theme's centroid (0 for Other): how typical it is


@dataclass(frozen=True)
class ThemeModel:
    themes: tuple[Theme, ...]
    assignments: tuple[Assignment, ...]  # one per input text, in input order
    k: int  # themes found, not counting Other
    chosen_by: str  # "given", "silhouette", or "too few" (under 2 groupable complaints: one theme)
    silhouette: float | None

    def members(self, theme: int) -> list[int]:
        """Input positions of a theme's complaints, most typical first."""
        found = [i for i, a in enumerate(self.assignments) if a.theme == theme]
        return sorted(found, key=lambda i: (-self.assignments[i].score, i))


def stem(word: str) -> str:
    """Strip common English endings ("charged" -> "charg", "parcels" -> "parcel"); short words stay."""
    if len(word) <= 4:
        return word
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # "shipped" -> "ship"
            return base[:-1] if base.endswith("e") and len(base) > 4 else base
    if word.endswith("sses") or word.endswith(("ches", "shes")) or (word.endswith("es") and word[-3] in "xz"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def terms(text: str) -> list[tuple[str, str]]:
    """(term, the words as written) for each word and pair of neighbouring words worth counting."""
    words: list[tuple[str, str]] = []
    for found in WORD.findall(text.lower()):
        word = found.split("'")[0]  # "they're" -> "they", a stop word
        if len(word) < 3 or word in STOP_WORDS:
            continue
        stemmed = stem(word)
        if stemmed not in STOP_WORDS:
            words.append((stemmed, word))
    pairs = [(f"{a} {b}", f"{wa} {wb}") for (a, wa), (b, wb) in pairwise(words)]
    return words + pairs


def find_themes(texts: Sequence[str], *, k: int | None = None, seed: int = 0) -> ThemeModel:
    """Group ``texts`` into themes (``k`` of them, or a number chosen from the data when None)."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    # A canonical order: the same complaints in any order are the same input to the clustering.
    order = sorted(range(len(texts)), key=lambda i: (texts[i] or "", i))
    analysed = [terms(texts[i] or "") for i in order]
    surface = _surface_forms(analysed)
    vectors, vocabulary = _tfidf([[term for term, _ in found] for found in analysed])
    known = np.asarray((vectors[:, _unigram_columns(vocabulary)] > 0).sum(axis=1)).ravel()
    usable = np.flatnonzero(known >= MIN_WORDS)
    labels, chosen_by, silhouette = _cluster(vectors[usable], k, seed)
    groups = [usable[labels == c] for c in range(int(labels.max()) + 1)] if len(usable) else []
    themes, assignments = _describe(vectors, groups, vocabulary, surface, len(order))
    k_found = len(groups)
    # Back from the canonical order to the caller's.
    in_input_order: dict[int, Assignment] = dict(zip(order, assignments, strict=True))
    return ThemeModel(
        tuple(themes), tuple(in_input_order[i] for i in range(len(texts))), k_found, chosen_by, silhouette
    )


def _surface_forms(analysed: list[list[tuple[str, str]]]) -> dict[str, str]:
    """Each term shown as its most common spelling ("charg twic" -> "charged twice")."""
    seen: dict[str, Counter[str]] = {}
    for found in analysed:
        for term, written in found:
            seen.setdefault(term, Counter())[written] += 1
    return {term: min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] for term, counts in seen.items()}


def _tfidf(documents: list[list[str]]) -> tuple[sparse.csr_matrix, np.ndarray]:
    many = len(documents) >= 20  # on a handful of complaints every word counts
    vectorizer = TfidfVectorizer(
        analyzer=lambda found: found, sublinear_tf=True, min_df=2 if many else 1, max_df=0.5 if many else 1.0
    )
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # no word left at all (empty or stop-word-only texts)
        return sparse.csr_matrix((len(documents), 0)), np.array([], dtype=object)
    return sparse.csr_matrix(matrix), vectorizer.get_feature_names_out()


def _unigram_columns(vocabulary: np.ndarray) -> np.ndarray:
    return np.array([i for i, term in enumerate(vocabulary) if " " not in term], dtype=int)


def _cluster(vectors: sparse.csr_matrix, k: int | None, seed: int) -> tuple[np.ndarray, str, float | None]:
    """Cluster labels 0..k-1 for the usable complaints, how k was chosen, and the silhouette."""
    n = vectors.shape[0]
    if n < 2:
        return np.zeros(n, dtype=int), "too few", None
    dims = min(LSA_DIMS, vectors.shape[1] - 1, n - 1)
    if dims >= 2:
        points = normalize(TruncatedSVD(dims, random_state=seed).fit_transform(vectors))
    else:
        points = normalize(vectors.toarray())
    distinct = len(np.unique(points.round(9), axis=0))
    if k is not None:
        labels = _kmeans(points, min(k, distinct), seed)
        score = _silhouette(points, labels, seed)
        return labels, "given", None if score is None else round(score, 4)
    top = min(K_MAX, max(2, n // DOCS_PER_THEME), distinct, n - 1)
    if top < 2:
        return np.zeros(n, dtype=int), "too few", None
    # k is chosen on an evenly spaced sample (the order is canonical, so the sample is too): twenty
    # k-means runs over 20,000 complaints would take a minute; over 3,000 they take seconds.
    sample = np.unique(np.linspace(0, n - 1, min(n, SEARCH_SAMPLE)).astype(int))
    best: tuple[float, int, np.ndarray] | None = None
    for candidate in range(2, top + 1):
        labels = _kmeans(points[sample], candidate, seed)
        score = _silhouette(points[sample], labels, seed)
        if score is not None and (best is None or score > best[0] + 1e-9):  # ties: the smaller k
            best = (score, candidate, labels)
    if best is None:
        return _kmeans(points, 2, seed), "silhouette", None
    labels = best[2] if len(sample) == n else _kmeans(points, best[1], seed)
    return labels, "silhouette", round(best[0], 4)


def _kmeans(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    if k <= 1:
        return np.zeros(points.shape[0], dtype=int)
    labels: np.ndarray = KMeans(k, n_init=N_INIT, random_state=seed).fit_predict(points)
    # Renumber by first appearance, so empty or reordered cluster ids never leave gaps.
    _, first = np.unique(labels, return_index=True)
    mapping = {old: new for new, old in enumerate(labels[np.sort(first)])}
    return np.array([mapping[label] for label in labels], dtype=int)


def _silhouette(points: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    if len(set(labels.tolist())) < 2 or len(set(labels.tolist())) >= len(labels):
        return None
    sample = min(len(labels), SILHOUETTE_SAMPLE)
    return float(silhouette_score(points, labels, sample_size=sample, random_state=seed))


def _describe(
    vectors: sparse.csr_matrix,
    groups: list[np.ndarray],
    vocabulary: np.ndarray,
    surface: dict[str, str],
    n: int,
) -> tuple[list[Theme], list[Assignment]]:
    """Themes in a stable order (biggest first, then by label; Other last) and every complaint's place."""
    described = []
    for members in groups:
        centroid = np.asarray(vectors[members].mean(axis=0)).ravel()
        keywords = _keywords(centroid, vocabulary, surface)
        described.append((members, centroid, keywords, _label(keywords)))
    described.sort(key=lambda d: (-len(d[0]), d[3], d[2]))
    themes: list[Theme] = []
    assignments: list[Assignment | None] = [None] * n
    for index, (members, centroid, keywords, label) in enumerate(described):
        themes.append(Theme(index, label, keywords, len(members)))
        unit = centroid / (np.linalg.norm(centroid) or 1.0)
        for row in members:
            start, end = vectors.indptr[row], vectors.indptr[row + 1]
            columns, weights = vectors.indices[start:end], vectors.data[start:end]
            shared = sorted(
                (-weight * centroid[col], vocabulary[col])
                for col, weight in zip(columns, weights, strict=True)
            )
            why = _distinct([surface.get(term, term) for _, term in shared], 3)
            score = float(np.dot(weights, unit[columns]))
            assignments[row] = Assignment(index, why, round(score, 6))
    others = [i for i, found in enumerate(assignments) if found is None]
    if others:
        themes.append(Theme(len(themes), OTHER_LABEL, (), len(others), is_other=True))
        for row in others:
            assignments[row] = Assignment(len(themes) - 1, (), 0.0)
    return themes, [a for a in assignments if a is not None]


def _keywords(centroid: np.ndarray, vocabulary: np.ndarray, surface: dict[str, str]) -> tuple[str, ...]:
    """The heaviest terms of a theme's centroid."""
    heaviest = sorted(np.flatnonzero(centroid), key=lambda c: (-centroid[c], vocabulary[c]))
    return _distinct([surface.get(vocabulary[c], vocabulary[c]) for c in heaviest[: KEYWORDS * 3]], KEYWORDS)


def _distinct(terms: list[str], limit: int) -> tuple[str, ...]:
    """Up to ``limit`` terms in order; one whose words are all shown already adds nothing."""
    chosen: list[str] = []
    covered: set[str] = set()
    for term in terms:
        words = set(term.split())
        if words <= covered:
            continue
        chosen.append(term)
        covered |= words
        if len(chosen) == limit:
            break
    return tuple(chosen)


def _label(keywords: tuple[str, ...]) -> str:
    """The first three keywords that share no word with each other: "refund, money, return"."""
    picked: list[str] = []
    used: set[str] = set()
    for keyword in keywords:
        words = set(keyword.split())
        if words & used:
            continue
        picked.append(keyword)
        used |= words
        if len(picked) == 3:
            break
    return ", ".join(picked) if picked else OTHER_LABEL
