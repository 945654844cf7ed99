"""Transfer learning measured: how many labelled sentences each model needs, with and without a model
pre-trained on a large corpus (sentence-transformers' all-MiniLM-L6-v2, a 6-layer BERT)."""

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.data import balanced_indices
from chainrule.data.fetch import cache_dir
from chainrule.data.text import Vocabulary, sentiment_texts, tokenize
from chainrule.nn import functional as F
from chainrule.nn.bert import BertModel
from chainrule.nn.text_models import RecurrentClassifier

from . import transfer_vision
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
# Fine-tuning as `chainrule train --model minilm` does it: AdamW, the encoder at LR, the new head at
# HEAD_LR, weight decay on the matrices, dropout 0.1, unit-length vectors, batch 16; epochs by size.
LR, HEAD_LR, BATCH = 5e-5, 2e-3, 16
EPOCHS = {50: 4, 100: 4, 250: 4, 1000: 2, None: 1}  # None: all the labelled sentences
FINE_TUNE_ALL_SEEDS = 1  # fine-tuning on all sentences takes most of the run's time: one seed there
SENTENCES = ["I love this movie", "I hate this movie", "a moving, beautifully acted film", "a dull, lifeless mess",
             "not bad at all"]


def bag_of_words(train_texts, train_labels, test_texts, test_labels, seed):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    counts = CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, binary=True)
    x_train = counts.fit_transform(train_texts)
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(x_train, train_labels)
    return float((model.predict(counts.transform(test_texts)) == test_labels).mean())


def _fit(model, batches, steps, lr, seed, groups=None):
    """AdamW on the cross-entropy for ``steps`` mini-batches drawn by ``batches(rng)``, over the
    optimiser parameter ``groups`` (default: all parameters at ``lr``, weight decay 0.01)."""
    optimizer = optim.AdamW(groups if groups is not None else model.parameters(), lr=lr, weight_decay=0.01)
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
    """The encoder and a linear head on the mean token state, all trained with the recipe of
    ``chainrule train --model minilm`` (:data:`LR`, :data:`HEAD_LR`, :data:`BATCH`).

    Returns:
        ``(test accuracy, the model, seconds of training, steps)``.
    """
    from chainrule.pretrained import SentenceClassifier
    encoder = BertModel.from_pretrained(directory, generator=np.random.default_rng(seed))  # its dropouts seeded
    model = SentenceClassifier(encoder, 2, dropout=0.1, normalize=True, generator=seed)

    def make(rows):
        ids = train_ids[rows]
        return ids[:, :max(1, int((ids != 0).sum(1).max()))], train_labels[rows]
    steps = _steps(len(train_ids), BATCH, epochs, least)
    start = time.perf_counter()
    _fit(model, _sampler(len(train_ids), BATCH, make), steps, LR, seed, model.param_groups(LR, HEAD_LR, 0.01))
    seconds = time.perf_counter() - start
    return float((predict(model, test_ids) == test_labels).mean()), model, seconds, steps


def cached_vectors(encoder, texts):
    """``encoder.encode(texts)``, kept on disk under the cache (``vectors/``, keyed by the model, the
    cut and the SHA-256 of the texts) so that a second run reads them back instead of encoding again."""
    key = json.dumps([MODEL, encoder.tokenizer.max_length, list(texts)]).encode()
    path = cache_dir() / "vectors" / f"{MODEL}-{hashlib.sha256(key).hexdigest()[:20]}.npy"
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape == (len(texts), encoder.dimension):
            return vectors
    vectors = encoder.encode(list(texts))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy")
    with os.fdopen(handle, "wb") as file:
        np.save(file, vectors)
    os.replace(temporary, path)
    return vectors


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

    Each training's result is written to ``out_dir/measured.json`` as soon as it is known, and a run
    started again in the same folder with the same settings reads those back instead of training again.

    Args:
        out_dir: where the figure goes.
        quick: 50 and 100 sentences, one seed, 300 test sentences, 15 fine-tuning steps, no run on all;
            the vision part on 5,000 source images, 60 steps per training, 1,000 test images.
        seed: the first of the seeds (``seed``, ``seed + 1``, ``seed + 2``).
    """
    data = prepare(quick, seed)
    measured = _Measured(Path(out_dir) / "measured.json", {"quick": quick, "seed": seed})
    for method, size, s in progress(data.runs, "trainings"):
        if measured.get(method, size, s) is None:
            measured.put(method, size, s, measure(data, method, size, s))
    vision = measured.get("vision", None, seed)
    if vision is None or vision.get("recipe") != transfer_vision.RECIPE:  # none yet, or another recipe's
        vision = transfer_vision.run(quick=quick, seeds=data.seeds)
        measured.put("vision", None, seed, vision)
    return _result(out_dir, measured, data.runs, len(data.test_labels), len(data.train_labels), vision, quick, seed)


def prepare(quick, seed):
    """The sentences, their token ids and frozen vectors (:func:`cached_vectors`), the sizes, the seeds
    and the trainings ``(method, size, seed)`` to run, the cheap models first and the fine-tuning on all
    sentences last."""
    from chainrule.pretrained import sentence_encoder

    train_texts, train_labels, test_texts, test_labels = sentiment_texts()
    if quick:
        picked = balanced_indices(test_labels, 300, seed)
        test_texts, test_labels = [test_texts[i] for i in picked], test_labels[picked]
    sizes = [50, 100] if quick else [50, 100, 250, 1000, None]
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    encoder = sentence_encoder(MODEL)
    encoder.tokenizer.max_length = MAX_TOKENS
    encoder.tokenizer.backend.enable_truncation(MAX_TOKENS)
    needed = sorted({int(i) for size in sizes for s in seeds for i in balanced_indices(train_labels, size, s)})
    train_vectors = np.zeros((len(train_texts), encoder.dimension), np.float32)
    train_vectors[needed] = cached_vectors(encoder, [train_texts[i] for i in needed])
    runs = [(method, size, s) for method in METHODS for size in sizes for s in seeds
            if method != "MiniLM fine-tuned" or size is not None or s - seed < FINE_TUNE_ALL_SEEDS]
    return SimpleNamespace(train_texts=train_texts, train_labels=train_labels, test_texts=test_texts,
                           test_labels=test_labels, sizes=sizes, seeds=seeds, runs=runs, quick=quick,
                           encoder=encoder, train_vectors=train_vectors, test_vectors=cached_vectors(encoder, test_texts),
                           train_ids=encoder.tokenizer(train_texts)[0], test_ids=encoder.tokenizer(test_texts)[0])


def measure(data, method, size, seed):
    """One training of ``method`` on ``size`` labelled sentences (``None``: all) drawn with ``seed``: its
    test accuracy, and for the fine-tuned encoder its time, steps and P(positive) of :data:`SENTENCES`."""
    from chainrule.pretrained import model_directory

    rows = balanced_indices(data.train_labels, size, seed)
    texts, labels = [data.train_texts[i] for i in rows], data.train_labels[rows]
    if method == "bag of words":
        record = {"accuracy": bag_of_words(texts, labels, data.test_texts, data.test_labels, seed)}
    elif method == "LSTM from scratch":
        record = {"accuracy": lstm(texts, labels, data.test_texts, data.test_labels, seed,
                                   epochs=1 if data.quick else 5)}
    elif method == "MiniLM frozen + logistic":
        record = {"accuracy": frozen(data.train_vectors[rows], labels, data.test_vectors, data.test_labels, seed)}
    else:
        value, model, seconds, steps = fine_tuned(model_directory(MODEL), data.train_ids[rows], labels,
                                                  data.test_ids, data.test_labels, seed,
                                                  epochs=1 if data.quick else EPOCHS[size],
                                                  least=15 if data.quick else 60)
        with cr.no_grad():
            said = F.softmax(model(data.encoder.tokenizer(SENTENCES)[0]), axis=-1).data[:, 1]
        record = {"accuracy": value, "seconds": seconds, "steps": steps,
                  "sentences": dict(zip(SENTENCES, (float(p) for p in said)))}
    return {"count": len(rows), **record}


class _Measured:
    """The results of the trainings, kept in a JSON file as they come (written to a temporary file and
    renamed into place); a file of other settings is started afresh."""

    def __init__(self, path, settings):
        self.path, self.settings = path, settings
        data = json.loads(path.read_text()) if path.is_file() else {}
        self.records = data.get("records", {}) if data.get("settings") == settings else {}

    @staticmethod
    def _key(method, size, seed):
        return f"{method}|{'all' if size is None else size}|{seed}"

    def get(self, method, size, seed):
        return self.records.get(self._key(method, size, seed))

    def put(self, method, size, seed, record):
        self.records[self._key(method, size, seed)] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".json")
        with os.fdopen(handle, "w") as file:
            json.dump({"settings": self.settings, "records": self.records}, file, indent=1, default=_plain)
        os.replace(temporary, self.path)


def _plain(value):
    """JSON for the vision part's NumPy integers and dict keys."""
    return value.item() if hasattr(value, "item") else str(value)


def _result(out_dir, measured, runs, test_count, train_count, vision, quick, seed):
    """The tables, figure and notes of the measured trainings."""
    accuracy = {method: {} for method in METHODS}
    for method, size, s in runs:
        record = measured.get(method, size, s)
        accuracy[method].setdefault(record["count"], []).append(record["accuracy"])
    counts = sorted(accuracy["bag of words"])
    table = Table(f"Test accuracy on {test_count} Rotten Tomatoes sentences against the number of "
                  f"labelled training sentences (balanced draws; mean ± half the range over the seeds, "
                  f"seed count in brackets)", ["labelled sentences", *METHODS],
                  [[count, *(_cell(accuracy[method].get(count, [])) for method in METHODS)] for count in counts])
    means = {method: {count: float(np.mean(values)) for count, values in accuracy[method].items()}
             for method in METHODS}
    figure = _figure(out_dir, accuracy)
    tuned = [(r["count"], s, r) for method, size, s in runs if method == "MiniLM fine-tuned"
             for r in [measured.get(method, size, s)]]
    count, tuned_seed, largest = max(tuned, key=lambda item: (item[0], -item[1]))
    said, seconds = largest["sentences"], largest["seconds"]
    sentences_table = Table(f"P(positive) from MiniLM fine-tuned on {count:,} sentences (seed {tuned_seed}; "
                            f"{largest['steps']} steps, {seconds / 60:.1f} minutes of training)",
                            ["sentence", "P(positive)"], [[sentence, p] for sentence, p in said.items()])
    at_100, largest_count = means["MiniLM frozen + logistic"].get(100), counts[-1]
    tuned_100 = means["MiniLM fine-tuned"].get(100, 0)
    best_100 = max(at_100 or 0, tuned_100)
    lstm_all = means["LSTM from scratch"][largest_count]
    tuned_all = means["MiniLM fine-tuned"].get(largest_count) if largest_count == train_count else None
    vision_table, vision_notes, vision_means, vision_figure = _vision(out_dir, vision)
    headline = (f"With 100 labelled sentences MiniLM reaches {best_100:.1%} (fine-tuned {tuned_100:.1%}, frozen + "
                f"logistic {at_100:.1%}), against {means['LSTM from scratch'][100]:.1%} for the LSTM and "
                f"{means['bag of words'][100]:.1%} for bag of words; with {largest_count:,} the LSTM reaches "
                f"{lstm_all:.1%}" + (f" and fine-tuned MiniLM {tuned_all:.1%}." if tuned_all else ".")
                + f" In vision, {vision_notes[0]}")
    love, hate = said["I love this movie"], said["I hate this movie"]
    notes = [
        f"Reading the table: fine-tuned MiniLM reaches {tuned_100:.1%} from 100 sentences and its frozen vectors "
        f"with a logistic head {at_100:.1%}; bag of words needs {_needed(means['bag of words'], best_100)} and "
        f"the LSTM {_needed(means['LSTM from scratch'], best_100)} to do as well. The goal (at least 72% "
        f"with 100 sentences) is {'met' if best_100 >= 0.72 else 'missed'}"
        + (f"; fine-tuned on all {largest_count:,} sentences MiniLM reaches {tuned_all:.1%} (goal 80%: "
           f"{'met' if tuned_all >= 0.80 else 'missed'})." if tuned_all else "."),
        f"The fine-tuned model on {count:,} sentences says P(positive) = {love:.3f} for \"I love this movie\" "
        f"(goal >= 0.9: {'met' if love >= 0.9 else 'missed'}) and {hate:.3f} for \"I hate this movie\" "
        f"(goal <= 0.1: {'met' if hate <= 0.1 else 'missed'}); its {largest['steps']} steps took "
        f"{seconds / 60:.1f} minutes.",
        f"Beside these, as it was measured: {GPT_ROW[0]}: {GPT_ROW[1]}. A character model pre-trained on "
        f"360 kB of news knows too little English to help; MiniLM was pre-trained on over a billion "
        f"sentence pairs.",
        *vision_notes[1:],
        f"Settings: bag of words: scikit-learn's logistic regression on word presence; LSTM 32 units, Adam "
        f"3e-3, {1 if quick else 5} epoch(s) (at least 100 steps); frozen: logistic regression with C chosen "
        f"by 5-fold cross-validation on the training sentences; fine-tuned: AdamW, the encoder at {LR:g}, "
        f"the new head at {HEAD_LR:g}, batch {BATCH}, "
        + ("1 epoch (at least 15 steps; quick mode)" if quick else
           f"epochs by size {_epochs_text()} (at least 60 steps), "
           f"{FINE_TUNE_ALL_SEEDS} seed on all sentences")
        + f"; sentences cut at {MAX_TOKENS} word pieces.",
    ]
    return Result(headline=headline, tables=[table, sentences_table, vision_table], figures=[figure, vision_figure],
                  metrics={"accuracy": {m: {str(k): v for k, v in d.items()} for m, d in accuracy.items()},
                           "means": means, "test_sentences": test_count, "sentences": said,
                           "fine_tune_seconds": seconds, "fine_tune_count": count, "vision": vision_means,
                           "vision_source_accuracy": vision["source_accuracy"]}, notes=notes)


def _epochs_text():
    return ", ".join(f"{'all' if size is None else size}: {epochs}" for size, epochs in EPOCHS.items())


def _vision(out_dir, vision):
    """The vision part's table, its notes (the first one a sentence for the headline), its means and its
    figure."""
    accuracy = {how: {int(k): v for k, v in by_count.items()} for how, by_count in vision["accuracy"].items()}
    means = {how: {k: float(np.mean(v)) for k, v in by_count.items()} for how, by_count in accuracy.items()}
    counts = sorted(accuracy["fine-tuned"])
    table = Table(f"Fashion-MNIST classes 5-9: test accuracy on {vision['test_images']:,} images against the "
                  f"images per class (mean ± half the range over the seeds)", ["images per class",
                  "CNN pre-trained on classes 0-4, fine-tuned", "the same CNN from scratch"],
                  [[k, _cell(accuracy["fine-tuned"][k]), _cell(accuracy["from scratch"][k])] for k in counts])
    few, most = counts[0], counts[-1]
    tuned_few, scratch_most = means["fine-tuned"][few], means["from scratch"][most]
    reached = tuned_few >= scratch_most
    first = (f"the CNN pre-trained on classes 0-4 and fine-tuned with {few} images per class of classes 5-9 "
             f"reaches {tuned_few:.1%}, against {scratch_most:.1%} for the same CNN from scratch with {most} per "
             f"class (goal: at least as good: {'met' if reached else 'missed'}).")
    notes = [first,
             f"Vision, read from its table: pre-trained on {vision['source_images']:,} images of classes 0-4 "
             f"(T-shirt, trouser, pullover, dress, coat; {vision['source_accuracy']:.1%} on their test images, "
             f"{vision['pretrain_seconds']:.0f} s), the CNN is fine-tuned on classes 5-9 (sandal, shirt, "
             f"sneaker, bag, ankle boot), which it has never seen: its convolutional blocks kept as pre-trained, "
             f"its hidden layer trained further and a new output layer; both it and the CNN from scratch see "
             f"each training image moved by up to {transfer_vision.SHIFT} pixels at every step. "
             + first[0].upper() + first[1:]
             + f" From scratch the CNN needs {_needed(means['from scratch'], tuned_few, 'images per class')} to "
             f"match the fine-tuned one at {few}."]
    fig, ax = new_figure(width=5.0, height=3.4)
    for how, values in accuracy.items():
        ax.plot(counts, [means[how][k] for k in counts], marker="o", label=f"CNN {how}")
        ax.fill_between(counts, [min(values[k]) for k in counts], [max(values[k]) for k in counts], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("training images per class (Fashion-MNIST classes 5-9)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    return table, notes, means, save_figure(fig, out_dir, "transfer_vision")


def _cell(values):
    if not values:
        return "—"
    spread = (max(values) - min(values)) / 2
    return f"{np.mean(values):.1%} ± {spread:.1%} ({len(values)})"


def _needed(curve, level, unit="sentences"):
    reached = [count for count, value in sorted(curve.items()) if value >= level]
    return f"{reached[0]:,} {unit}" if reached else f"more than {max(curve):,} {unit}"


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
