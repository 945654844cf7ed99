"""Text: a word tokenizer, a vocabulary, and the ``sentiment`` data set of real review sentences.

The tokenizer lower-cases and keeps runs of letters and digits (with one inner apostrophe: ``don't``).
A :class:`Vocabulary` maps tokens to ids, ``<pad>`` = 0 and ``<unk>`` = 1 first, then the training
words seen at least ``min_count`` times, most frequent first. A run keeps its vocabulary's tokens, so
``predict`` maps new text exactly as training did.

``sentiment``: the 10,605 Rotten Tomatoes review sentences of Pang & Lee (2005) with the mean of
human ratings from -4 to +4 (Hutto & Gilbert, ICWSM 2014), shipped in vaderSentiment 3.3.2's source
distribution (MIT). Label 1 where the mean rating is positive, 0 where negative; the 37 neutral
sentences are dropped; a fixed stratified 80/20 split (seed 0).

Example:
    >>> vocabulary = Vocabulary.build(["I love this movie", "I hate this movie"], min_count=1)
    >>> vocabulary.encode("I love that movie").tolist()
    [2, 6, 1, 3]
    >>> vocabulary.decode([2, 6, 1, 3])
    'i love <unk> movie'
"""

import collections
import re

import numpy as np

from chainrule.data.datasets import DataSplit, register_dataset
from chainrule.data.fetch import fetch_npm, fetch_sdist, fetch_wheel, read_member
from chainrule.errors import DataError
# The padding id belongs to the classifiers' embeddings; the vocabularies pad with it.
from chainrule.nn.text_models import PAD_ID, sequence_lengths  # noqa: F401 (sequence_lengths: kept here)

PAD, UNK = "<pad>", "<unk>"
UNK_ID = 1

# Registry archives the text data come from: (name, version, SHA-256), verified on every use.
VADER_SDIST = ("vaderSentiment", "3.3.2", "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")
SENTIMENT_NPM = ("sentiment", "5.0.2", "89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f")
GENSIM_WHEEL = ("gensim", "4.4.0", "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8")
GENSIM_PLATFORM = {"platform": "manylinux_2_28_x86_64", "python_version": "3.11"}  # the same file anywhere

_RATINGS_MEMBERS = ("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
                    "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def tokenize(text):
    """The lower-case words of ``text``, punctuation dropped.

    Example:
        >>> tokenize("It's a GREAT movie -- isn't it?")
        ["it's", 'a', 'great', 'movie', "isn't", 'it']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a str, not {type(text).__name__}")
    return _WORD.findall(text.lower())


class Vocabulary:
    """Tokens and their ids: ``<pad>`` is 0, ``<unk>`` is 1.

    Args:
        tokens: every token in id order, starting with ``<pad>`` and ``<unk>``.
    """

    def __init__(self, tokens):
        tokens = tuple(tokens)
        if tokens[:2] != (PAD, UNK):
            raise DataError(f"a vocabulary starts with {PAD!r} and {UNK!r}, not {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise DataError("a vocabulary holds each token once")
        self.tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, texts, min_count=2, max_size=None):
        """The vocabulary of ``texts``: words seen at least ``min_count`` times, most frequent first
        (ties alphabetical), at most ``max_size`` tokens in all."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise DataError(f"min_count must be a positive int, not {min_count!r}")
        counts = collections.Counter(word for text in texts for word in tokenize(text))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[:max(0, max_size - 2)]
        return cls((PAD, UNK, *words))

    def __len__(self):
        return len(self.tokens)

    def __repr__(self):
        return f"Vocabulary({len(self)} tokens)"

    def encode(self, text):
        """The ids of ``text``'s words, int64; unknown words are ``<unk>``."""
        return np.array([self._ids.get(word, UNK_ID) for word in tokenize(text)], dtype=np.int64)

    def encode_batch(self, texts, max_length):
        """Ids of several texts, each cut to ``max_length`` and padded with ``<pad>`` after its end.

        Returns:
            ``(ids, lengths)``: int64 arrays of shapes ``(n, max_length)`` and ``(n,)``.
        """
        encoded = [self.encode(text)[:max_length] for text in texts]
        ids = np.full((len(encoded), max_length), PAD_ID, dtype=np.int64)
        for row, sequence in zip(ids, encoded):
            row[:len(sequence)] = sequence
        return ids, np.array([len(sequence) for sequence in encoded], dtype=np.int64)

    def decode(self, ids):
        """The tokens of ``ids`` joined by spaces, padding left out."""
        return " ".join(self.tokens[i] for i in np.asarray(ids).tolist() if i != PAD_ID)

    def to_dict(self):
        return {"tokens": list(self.tokens), "tokenizer": "lower-case words (chainrule.data.text.tokenize)"}

    @classmethod
    def from_dict(cls, state):
        return cls(state["tokens"])


def rotten_tomatoes_sentences():
    """The Rotten Tomatoes sentences and their mean human ratings (-4 to +4), read from
    vaderSentiment 3.3.2's source distribution (fetched with pip once, cached, SHA-256 checked).

    Returns:
        ``(texts, ratings)``: a list of str and a float64 array, in the file's order.
    """
    name, version, sha256 = VADER_SDIST
    raw = read_member(fetch_sdist(name, version, sha256), *_RATINGS_MEMBERS)
    texts, ratings = [], []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{_RATINGS_MEMBERS[1]} line {number}: expected id, rating and text separated "
                            f"by tabs, got {line[:60]!r}")
        ratings.append(float(fields[1]))
        texts.append(fields[2].strip())
    return texts, np.array(ratings)


def sentiment_texts():
    """The labelled sentences of the ``sentiment`` data set, split as it is.

    Returns:
        ``(train_texts, train_labels, test_texts, test_labels)``: lists of str, int64 label arrays
        (1 positive, 0 negative).
    """
    from sklearn.model_selection import train_test_split

    texts, ratings = rotten_tomatoes_sentences()
    kept = [(text, int(rating > 0)) for text, rating in zip(texts, ratings) if rating != 0 and tokenize(text)]
    texts, labels = [text for text, _ in kept], np.array([label for _, label in kept], dtype=np.int64)
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=0)
    return train_texts, train_labels, test_texts, test_labels


@register_dataset("sentiment")
def _sentiment(max_length=60, min_count=2):
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise DataError(f"sentiment: max_length must be a positive int, not {max_length!r}")
    train_texts, train_labels, test_texts, test_labels = sentiment_texts()
    vocabulary = Vocabulary.build(train_texts, min_count=min_count)
    x_train, _ = vocabulary.encode_batch(train_texts, max_length)
    x_test, _ = vocabulary.encode_batch(test_texts, max_length)
    source = ("10,605 Rotten Tomatoes review sentences (Pang & Lee, ACL 2005) with mean human ratings "
              "(Hutto & Gilbert, ICWSM 2014), from vaderSentiment 3.3.2's source distribution on PyPI; "
              "label = sign of the mean rating, neutral dropped, fixed stratified 80/20 split; "
              f"lower-case words, {len(vocabulary)} tokens seen at least {min_count} times in training, "
              f"sentences cut at {max_length} tokens.")
    return DataSplit(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels,
                     task="classification", num_classes=2, feature_shape=(max_length,), name="sentiment",
                     source=source, vocabulary=vocabulary.tokens)


def uci_sentences():
    """The 3,000 labelled review sentences (IMDB, Amazon, Yelp; Kotzias et al., KDD 2015, UCI) in the
    npm package ``sentiment`` 5.0.2's test fixtures.

    Returns:
        A dict from source (``"imdb"``, ``"amazon"``, ``"yelp"``) to ``(texts, labels)``.
    """
    import json

    name, version, sha256 = SENTIMENT_NPM
    archive = fetch_npm(name, version, sha256)
    sets = {}
    for source in ("imdb", "amazon", "yelp"):
        rows = json.loads(read_member(archive, f"package/test/fixtures/{source}.json"))
        rows = [row for row in rows if row["class"] is not None]  # each file ends with an empty record
        sets[source] = ([row["text"].strip() for row in rows],
                        np.array([row["class"] for row in rows], dtype=np.int64))
    return sets


def gensim_test_data(filename):
    """The bytes of ``gensim/test/test_data/<filename>`` in gensim 4.4.0's wheel (fetched with pip once,
    cached, SHA-256 checked): the Wikipedia excerpt, ``lee_background.cor``, ``questions-words.txt``,
    ``wordsim353.tsv``..."""
    name, version, sha256 = GENSIM_WHEEL
    return read_member(fetch_wheel(name, version, sha256, **GENSIM_PLATFORM), f"gensim/test/test_data/{filename}")
