"""Transfer learning measured: how many labelled sentences each model needs, with and without a model
pre-trained on a large corpus (sentence-transformers' all-MiniLM-L6-v2, a 6-layer BERT)."""

import math
import time

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.data import balanced_indices
from chainrule.data.text import Vocabulary, sentiment_texts, tokenize
from chainrule.nn import functional as F
from chainrule.nn.bert import BertModel
from chainrule.nn.text_models import RecurrentClassifier

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "transfer"
TITLE = "Transfer: a pre-trained sentence encoder against models that start from nothing"
CLAIM = ("A BERT encoder pre-trained on a billion sentence pairs (all-MiniLM-L6-v2) needs far fewer "
         "labelled sentences than models that learn from the labels alone: with 100 Rotten Tomatoes "
         "sentences it classifies at least 72% of the test sentences (fine-tuned; its frozen vectors with a "
         "logistic head come close), a level the LSTM reaches only with thousands; fine-tuned on all 8,454 "
         "it reaches 80%.")

MODEL = "all-MiniLM-L6-v2"
METHODS = ("bag of words", "LSTM from scratch", "MiniLM frozen + logistic", "MiniLM fine-tuned")
GPT_ROW = ("character GPT pre-trained on news, fine-tuned (README, round 2)", "52.2% (250), 54.4% (1,000), "
           "56.9% (all)")
MAX_TOKENS = 64  # the sentences' word pieces kept for fine-tuning (99.9% of them are shorter)
SENTENCES = ["I love this movie", "I hate this movie", "a moving, beautifully acted film", "a dull, lifeless mess",
             "not bad at all"]


def bag_of_words(train_texts, train_labels, test_texts, test_labels, seed):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    counts = CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, binary=True)
    x_train = counts.fit_transform(train_texts)
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(x_train, train_labels)
    return float((model.predict(counts.transform(test_texts)) == test_labels).mean())


def _fit(model, batches, steps, lr, seed, parameters=None):
    """Adam on the cross-entropy for ``steps`` mini-batches drawn by ``batches(rng)``."""
    optimizer = optim.AdamW(parameters if parameters is not None else model.parameters(), lr=lr,
                            weight_decay=0.01)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        x, y = batches(rng)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()


def _steps(count, batch, epochs, least):
    return max(least, math.ceil(epochs * count / batch))


def _sampler(count, batch, make):
    """Mini-batches of ``batch`` shuffled rows, epoch after epoch."""
    state = {"order": np.zeros(0, int)}

    def draw(rng):
        if len(state["order"]) < batch:
            state["order"] = np.concatenate([state["order"], rng.permutation(count)])
        rows, state["order"] = state["order"][:batch], state["order"][batch:]
        return make(rows)
    return draw


def lstm(train_texts, train_labels, test_texts, test_labels, seed, epochs):
    vocabulary = Vocabulary.build(train_texts, min_count=1)
    x_train, _ = vocabulary.encode_batch(train_texts, 60)
    x_test, _ = vocabulary.encode_batch(test_texts, 60)
    model = RecurrentClassifier("lstm", 2, vocab_size=len(vocabulary), embedding_dim=32, hidden_size=32,
                                generator=seed)
    _fit(model, _sampler(len(x_train), 32, lambda rows: (x_train[rows], train_labels[rows])),
         _steps(len(x_train), 32, epochs, 100), 3e-3, seed)
    with cr.no_grad():
        predictions = np.concatenate([model(x_test[s:s + 512]).data.argmax(1) for s in range(0, len(x_test), 512)])
    return float((predictions == test_labels).mean())


def frozen(train_vectors, train_labels, test_vectors, test_labels, seed):
    """A logistic regression on the unit sentence vectors; its regularisation chosen by 5-fold
    cross-validation on the training sentences alone."""
    from sklearn.linear_model import LogisticRegressionCV
    model = LogisticRegressionCV(Cs=8, cv=5, max_iter=3000, random_state=seed)
    model.fit(train_vectors, train_labels)
    return float((model.predict(test_vectors) == test_labels).mean())


def fine_tuned(directory, train_ids, train_labels, test_ids, test_labels, seed, epochs, least=60):
    """The encoder and a linear head on the mean token state, all trained (AdamW, lr 5e-5).

    Returns:
        ``(test accuracy, the model, seconds of training)``.
    """
    from chainrule.pretrained import SentenceClassifier
    model = SentenceClassifier(BertModel.from_pretrained(directory), 2, generator=seed)

    def make(rows):
        ids = train_ids[rows]
        return ids[:, :max(1, int((ids != 0).sum(1).max()))], train_labels[rows]
    start = time.perf_counter()
    _fit(model, _sampler(len(train_ids), 16, make), _steps(len(train_ids), 16, epochs, least), 5e-5, seed)
    seconds = time.perf_counter() - start
    return float((predict(model, test_ids) == test_labels).mean()), model, seconds


def predict(model, ids, batch=64):
    """Class predictions of padded token ids, sorted by length so little padding is computed."""
    lengths = (ids != 0).sum(1)
    order = np.argsort(-lengths, kind="stable")
    out = np.zeros(len(ids), np.int64)
    with cr.no_grad():
        for start in range(0, len(ids), batch):
            rows = order[start:start + batch]
            out[rows] = model(ids[rows, :int(lengths[rows].max())]).data.argmax(1)
    return out


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figure goes.
        quick: 50 and 100 sentences, one seed, 300 test sentences, 15 fine-tuning steps, no run on all.
        seed: the first of the seeds (``seed``, ``seed + 1``, ``seed + 2``).
    """
    from chainrule.pretrained import model_directory, sentence_encoder

    train_texts, train_labels, test_texts, test_labels = sentiment_texts()
    if quick:
        picked = balanced_indices(test_labels, 300, seed)
        test_texts, test_labels = [test_texts[i] for i in picked], test_labels[picked]
    sizes = [50, 100] if quick else [50, 100, 250, 1000, None]
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    finetune_all_seeds = 1  # one seed for fine-tuning on all sentences: it takes most of the run's time
    encoder = sentence_encoder(MODEL)
    encoder.tokenizer.max_length = MAX_TOKENS
    encoder.tokenizer.backend.enable_truncation(MAX_TOKENS)
    needed = sorted({int(i) for size in sizes for s in seeds for i in balanced_indices(train_labels, size, s)})
    train_vectors = np.zeros((len(train_texts), encoder.dimension), np.float32)
    train_vectors[needed] = encoder.encode([train_texts[i] for i in needed])
    test_vectors = encoder.encode(test_texts)
    train_ids = encoder.tokenizer(train_texts)[0]
    test_ids = encoder.tokenizer(test_texts)[0]

    accuracy = {method: {} for method in METHODS}
    largest_model = None
    runs = [(size, s) for size in sizes for s in seeds]
    for size, s in progress(runs, "sizes x seeds"):
        rows = balanced_indices(train_labels, size, s)
        texts, labels = [train_texts[i] for i in rows], train_labels[rows]
        key = len(rows)
        results = {
            "bag of words": bag_of_words(texts, labels, test_texts, test_labels, s),
            "LSTM from scratch": lstm(texts, labels, test_texts, test_labels, s, epochs=1 if quick else 5),
            "MiniLM frozen + logistic": frozen(train_vectors[rows], labels, test_vectors, test_labels, s),
        }
        if size is not None or s - seed < finetune_all_seeds:
            results["MiniLM fine-tuned"], model, seconds = fine_tuned(
                model_directory(MODEL), train_ids[rows], labels, test_ids, test_labels, s,
                epochs=1 if size is None or quick else 4, least=15 if quick else 60)
            if largest_model is None or key >= largest_model[0]:
                largest_model = (key, model, seconds)
        for method, value in results.items():
            accuracy[method].setdefault(key, []).append(value)

    counts = sorted(accuracy["bag of words"])
    rows = []
    for count in counts:
        cells = [count]
        for method in METHODS:
            values = accuracy[method].get(count, [])
            cells.append(_cell(values))
        rows.append(cells)
    table = Table(f"Test accuracy on {len(test_labels)} Rotten Tomatoes sentences against the number of "
                  f"labelled training sentences (balanced draws; mean ± half the range over the seeds, "
                  f"seed count in brackets)", ["labelled sentences", *METHODS], rows)
    means = {method: {count: float(np.mean(values)) for count, values in accuracy[method].items()}
             for method in METHODS}
    figure = _figure(out_dir, accuracy)
    count, model, seconds = largest_model
    ids = encoder.tokenizer(SENTENCES)[0]
    with cr.no_grad():
        probabilities = F.softmax(model(ids), axis=-1).data[:, 1]
    said = dict(zip(SENTENCES, (float(p) for p in probabilities)))
    sentences_table = Table(f"P(positive) from MiniLM fine-tuned on {count:,} sentences (seed {seed}; "
                            f"{seconds / 60:.1f} minutes of training on one core)", ["sentence", "P(positive)"],
                            [[sentence, p] for sentence, p in said.items()])
    at_100, largest = means["MiniLM frozen + logistic"].get(100), counts[-1]
    best_100 = max(means["MiniLM frozen + logistic"].get(100, 0), means["MiniLM fine-tuned"].get(100, 0))
    lstm_all = means["LSTM from scratch"][largest]
    tuned_all = means["MiniLM fine-tuned"].get(largest)
    headline = (f"With 100 labelled sentences MiniLM reaches {best_100:.1%} (frozen + logistic {at_100:.1%}), "
                f"against {means['LSTM from scratch'][100]:.1%} for the LSTM and "
                f"{means['bag of words'][100]:.1%} for bag of words; with {largest:,} the LSTM reaches "
                f"{lstm_all:.1%}" + (f" and fine-tuned MiniLM {tuned_all:.1%}." if tuned_all else "."))
    notes = [
        f"Reading the table: the pre-trained encoder's frozen vectors with a logistic head reach "
        f"{at_100:.1%} from 100 sentences; bag of words needs {_needed(means['bag of words'], at_100)} and "
        f"the LSTM {_needed(means['LSTM from scratch'], at_100)} to do as well. The goal (at least 72% "
        f"with 100 sentences) is {'met' if best_100 >= 0.72 else 'missed'}"
        + (f"; fine-tuned on all {largest:,} sentences MiniLM reaches {tuned_all:.1%} (goal 80%: "
           f"{'met' if tuned_all >= 0.80 else 'missed'})." if tuned_all and largest == len(train_labels)
           else "."),
        f"Beside these, as it was measured: {GPT_ROW[0]}: {GPT_ROW[1]}. A character model pre-trained on "
        f"360 kB of news knows too little English to help; MiniLM was pre-trained on over a billion "
        f"sentence pairs.",
        f"Settings: LSTM 32 units, Adam 3e-3, {1 if quick else 5} epoch(s) (at least 100 steps); frozen: "
        f"logistic regression with C chosen by 5-fold cross-validation on the training sentences; "
        f"fine-tuned: AdamW 5e-5, batch 16, "
        + ("1 epoch (at least 15 steps; quick mode)" if quick else "4 epochs (at least 60 steps) and 1 epoch "
           f"on all sentences ({finetune_all_seeds} seed there)") + f", sentences cut at {MAX_TOKENS} word pieces.",
    ]
    notes.insert(1, f"The fine-tuned model on {count:,} sentences says P(positive) = "
                    f"{said['I love this movie']:.3f} for \"I love this movie\" (goal >= 0.9) and "
                    f"{said['I hate this movie']:.3f} for \"I hate this movie\" (goal <= 0.1); its training took "
                    f"{seconds / 60:.1f} minutes on one core (goal for all sentences: 15 minutes on 2 cores).")
    return Result(headline=headline, tables=[table, sentences_table], figures=[figure],
                  metrics={"accuracy": {m: {str(k): v for k, v in d.items()} for m, d in accuracy.items()},
                           "means": means, "test_sentences": len(test_labels), "sentences": said,
                           "fine_tune_seconds": seconds, "fine_tune_count": count}, notes=notes)


def _cell(values):
    if not values:
        return "—"
    spread = (max(values) - min(values)) / 2
    return f"{np.mean(values):.1%} ± {spread:.1%} ({len(values)})"


def _needed(curve, level):
    reached = [count for count, value in sorted(curve.items()) if value >= level]
    return f"{reached[0]:,} sentences" if reached else f"more than {max(curve):,} sentences"


def _figure(out_dir, accuracy):
    fig, ax = new_figure(width=5.6, height=3.8)
    for method in METHODS:
        counts = sorted(accuracy[method])
        means = [np.mean(accuracy[method][c]) for c in counts]
        lows = [min(accuracy[method][c]) for c in counts]
        highs = [max(accuracy[method][c]) for c in counts]
        ax.plot(counts, means, marker="o", label=method)
        ax.fill_between(counts, lows, highs, alpha=0.2)
    ax.set_xscale("log")
    ax.axhline(0.72, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("labelled training sentences")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    return save_figure(fig, out_dir, "transfer_accuracy")
