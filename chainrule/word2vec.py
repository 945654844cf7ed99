"""Word vectors: skip-gram with negative sampling (word2vec) written with chainrule's own layers and
optimiser, the real English corpus it learns from, and the standard evaluations.

Skip-gram (Mikolov et al., 2013) learns an input vector ``v_w`` and an output vector ``u_w`` per word so
that, for a word ``c`` and a word ``o`` within a window around it, ``σ(u_o · v_c)`` is high and
``σ(-u_k · v_c)`` is high for ``negative`` words ``k`` drawn from the unigram distribution raised to
3/4: the loss is ``-log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)``. As in word2vec, frequent words are
subsampled (a word of count ``f`` is kept with probability ``(√(f/t) + 1) t/f``, ``t = sample × total``),
each centre word draws its window size uniformly from 1 to ``window``, and the learning rate falls
linearly to ``lr/10⁴``.

The corpus is the Wikipedia excerpt in gensim 4.4.0's wheel (``gensim/test/test_data``, fetched with pip
once, SHA-256 checked), stripped of its markup here; the evaluations are the same wheel's
``questions-words.txt`` (analogies, 3CosAdd over the questions whose four words are in the vocabulary)
and ``wordsim353.tsv`` (Spearman correlation of cosine similarities with human judgements).

Example:
    >>> vectors = WordVectors(["king", "queen", "man", "woman"],
    ...                       np.array([[1, 1], [1, -1], [0.2, 1], [0.2, -1]], dtype=np.float32))
    >>> vectors.analogy("man", "king", "woman")
    'queen'
"""

import bz2
import collections
import html
import re
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.text import gensim_test_data, tokenize
from chainrule.errors import DataError

WIKIPEDIA = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_PAGE_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.DOTALL)
_MARKUP = [(re.compile(pattern, flags), replacement) for pattern, replacement, flags in (
    (r"<ref[^>]*/>|<ref[^>]*>.*?</ref>|<!--.*?-->", " ", re.DOTALL),
    (r"\{\|.*?\|\}", " ", re.DOTALL),                                  # tables
    (r"\[\[(?:File|Image|Category|[a-z\-]{2,12}):[^\[\]]*(?:\[\[[^\[\]]*\]\][^\[\]]*)*\]\]", " ", re.IGNORECASE),
    (r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]", r"\1", 0),            # [[target|label]] -> label
    (r"\[https?://\S+\s*([^\]]*)\]", r"\1", 0),                   # [url label] -> label
    (r"<[^>]+>", " ", 0),
    (r"'{2,}|={2,}", " ", 0),
)]
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")


def wikipedia_documents():
    """The articles of the Wikipedia excerpt as lists of lower-case words (redirects left out)."""
    xml = bz2.decompress(gensim_test_data(WIKIPEDIA)).decode("utf-8")
    documents = []
    for page in _PAGE_TEXT.findall(xml):
        page = html.unescape(html.unescape(page))  # the XML escapes the wiki text's own entities
        if page.lstrip().upper().startswith("#REDIRECT"):
            continue
        while True:  # templates nest: remove the innermost until none is left
            page, count = _TEMPLATE.subn(" ", page)
            if not count:
                break
        for pattern, replacement in _MARKUP:
            page = pattern.sub(replacement, page)
        words = tokenize(page)
        if words:
            documents.append(words)
    return documents


class WordVectors:
    """Words and their vectors, with cosine neighbours and analogies.

    Args:
        words: the vocabulary, in the rows' order.
        vectors: ``(len(words), dim)``.
    """

    def __init__(self, words, vectors):
        self.words = list(words)
        self.index = {word: i for i, word in enumerate(self.words)}
        self.vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def __contains__(self, word):
        return word in self.index

    def _row(self, word):
        if word not in self.index:
            raise DataError(f"{word!r} is not in the vocabulary of {len(self.words)} words")
        return self.unit[self.index[word]]

    def nearest(self, word_or_vector, count=5, exclude=()):
        """The ``count`` words of highest cosine similarity, as ``(word, similarity)`` pairs."""
        query = self._row(word_or_vector) if isinstance(word_or_vector, str) else word_or_vector
        similarity = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        skip = {self.index[w] for w in ([word_or_vector] if isinstance(word_or_vector, str) else [])
                + list(exclude) if w in self.index}
        order = [i for i in np.argsort(-similarity)[:count + len(skip)] if i not in skip][:count]
        return [(self.words[i], float(similarity[i])) for i in order]

    def analogy(self, a, b, c):
        """``b - a + c``'s nearest word other than the three (``man : king :: woman : ?``)."""
        query = self._row(b) - self._row(a) + self._row(c)
        return self.nearest(query, 1, exclude=(a, b, c))[0][0]

    def similarity(self, first, second):
        return float(self._row(first) @ self._row(second))


def evaluate_analogies(vectors, lines=None):
    """Accuracy on ``questions-words.txt`` over the questions whose four (lower-cased) words are known.

    Returns:
        ``(accuracy, answered, total)``.
    """
    lines = gensim_test_data("questions-words.txt").decode().splitlines() if lines is None else lines
    questions = [line.lower().split() for line in lines if line and not line.startswith(":")]
    known = [q for q in questions if len(q) == 4 and all(w in vectors for w in q)]
    if not known:
        return 0.0, 0, len(questions)
    ids = np.array([[vectors.index[w] for w in q] for q in known])
    correct = 0
    for start in range(0, len(ids), 512):
        block = ids[start:start + 512]
        query = vectors.unit[block[:, 1]] - vectors.unit[block[:, 0]] + vectors.unit[block[:, 2]]
        scores = query @ vectors.unit.T
        np.put_along_axis(scores, block[:, :3], -np.inf, axis=1)
        correct += int((scores.argmax(axis=1) == block[:, 3]).sum())
    return correct / len(known), len(known), len(questions)


def evaluate_similarity(vectors, lines=None):
    """Spearman correlation between cosine similarity and WordSim-353's human scores, over the pairs
    whose words are known. Returns ``(rho, pairs used, pairs)``."""
    from scipy.stats import spearmanr

    lines = gensim_test_data("wordsim353.tsv").decode().splitlines() if lines is None else lines
    pairs = [line.lower().split("\t") for line in lines if line and not line.startswith("#")]
    known = [(a, b, float(score)) for a, b, score in pairs if a in vectors and b in vectors]
    if len(known) < 3:
        return 0.0, len(known), len(pairs)
    rho = spearmanr([vectors.similarity(a, b) for a, b, _ in known], [s for _, _, s in known]).statistic
    return float(rho), len(known), len(pairs)


class SkipGram(nn.Module):
    """Input and output embeddings of skip-gram; ``forward(centres, targets)`` gives ``u_t · v_c``.

    Initialised as word2vec: input vectors uniform in ``±1/(2·dim)``, output vectors zero.
    """

    def __init__(self, vocab_size, dim, generator=None):
        super().__init__()
        self.input = nn.Embedding(vocab_size, dim, generator=generator)
        self.output = nn.Embedding(vocab_size, dim, generator=generator)
        nn.init.uniform_(self.input.weight, -0.5 / dim, 0.5 / dim, generator)
        nn.init.zeros_(self.output.weight)

    def forward(self, centres, targets):
        # (B, dim) with (B, 1 + negative, dim): one score per target
        return cr.sum(cr.unsqueeze(self.input(centres), 1) * self.output(targets), axis=-1)


def _log_sigmoid(x):
    # log σ(x) = min(x, 0) - log(1 + e^{-|x|}): finite for any x, and its derivative at x = 0 is
    # 1/2 (minimum's tie shares the gradient), where zero-initialised output vectors start
    return cr.minimum(x, 0.0) - cr.log1p(cr.exp(-cr.abs(x)))


def train_skipgram(documents, dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5, lr=0.025,
                   batch_size=1024, seed=0, log=None):
    """Train skip-gram with negative sampling on ``documents`` (lists of words).

    Returns:
        ``(WordVectors, seconds)``: the input vectors and the training time.
    """
    rng = np.random.default_rng(seed)
    counts = collections.Counter(word for document in documents for word in document)
    words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    if not words:
        raise DataError(f"no word occurs {min_count} times in the corpus")
    index = {word: i for i, word in enumerate(words)}
    frequency = np.array([counts[w] for w in words], dtype=np.float64)
    keep = np.ones(len(words))  # sample = 0: no subsampling
    if sample:
        threshold = sample * frequency.sum()
        keep = np.minimum(1.0, (np.sqrt(frequency / threshold) + 1) * threshold / frequency)
    noise = np.cumsum(frequency ** 0.75)  # negatives drawn from the unigram distribution to the 3/4
    encoded = [np.array([index[w] for w in document if w in index], dtype=np.int64) for document in documents]
    model = SkipGram(len(words), dim, generator=seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    started = time.perf_counter()
    total_steps = None
    step = 0
    for epoch in range(epochs):
        centres, contexts = _pairs(encoded, keep, window, rng)
        if total_steps is None:
            total_steps = epochs * -(-len(centres) // batch_size)
        order = rng.permutation(len(centres))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            negatives = np.minimum(np.searchsorted(noise, rng.random((len(batch), negative)) * noise[-1]),
                                   len(words) - 1)
            targets = np.concatenate([contexts[batch, None], negatives], axis=1)
            signs = np.concatenate([np.ones((len(batch), 1)), -np.ones((len(batch), negative))], axis=1)
            for group in optimizer.param_groups:
                group["lr"] = lr * max(1e-4, 1 - step / total_steps)
            optimizer.zero_grad()
            loss = -cr.sum(_log_sigmoid(model(centres[batch], targets) * signs.astype(np.float32)))
            loss.backward()
            optimizer.step()
            step += 1
        if log is not None:
            log(f"epoch {epoch + 1}: {len(centres):,} pairs, last batch loss {float(loss.data) / len(batch):.3f}")
    return WordVectors(words, model.input.weight.data.copy()), time.perf_counter() - started


def _pairs(encoded, keep, window, rng):
    """One epoch's (centre, context) pairs: subsampled words, a window drawn per centre from 1..window."""
    centres, contexts = [], []
    for document in encoded:
        kept = document[rng.random(len(document)) < keep[document]]
        if len(kept) < 2:
            continue
        reach = rng.integers(1, window + 1, size=len(kept))
        for offset in range(1, window + 1):
            near = reach[:-offset] >= offset  # centre i sees i + offset
            centres.append(kept[:-offset][near])
            contexts.append(kept[offset:][near])
            far = reach[offset:] >= offset  # centre i sees i - offset
            centres.append(kept[offset:][far])
            contexts.append(kept[:-offset][far])
    return np.concatenate(centres), np.concatenate(contexts)


def train_gensim(documents, dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5, lr=0.025,
                 seed=0):
    """gensim's own ``Word2Vec`` (skip-gram, one worker thread) with the same settings; gensim is an
    optional extra (``pip install chainrule[embeddings]``).

    Returns:
        ``(WordVectors, seconds)``.
    """
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise DataError("gensim is not installed: pip install 'gensim==4.4.0' (chainrule's embeddings extra)") from None
    started = time.perf_counter()
    model = Word2Vec(documents, vector_size=dim, window=window, negative=negative, min_count=min_count,
                     sample=sample, epochs=epochs, alpha=lr, sg=1, workers=1, seed=seed)
    seconds = time.perf_counter() - started
    return WordVectors(model.wv.index_to_key, model.wv.vectors), seconds
