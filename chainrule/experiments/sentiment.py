"""The article's running example computed: "I love this movie" through a word-embedding LSTM, its
squared error, the blame reaching every layer down to each word's embedding, one SGD step, training on
real review sentences, and the words that move the prediction."""

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.data.text import Vocabulary, sentiment_texts, tokenize
from chainrule.nn.text_models import RecurrentClassifier

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "sentiment"
TITLE = "Sentiment: backpropagation through words, on real reviews"
CLAIM = ("For \"I love this movie\" (target 1) an untrained network says about 0.5; the squared error's "
         "gradient reaches every layer and each of the sentence's word embeddings, and one SGD step moves the "
         "output towards 1. Trained on Rotten Tomatoes sentences, the network classifies about three test "
         "sentences in four correctly; what it makes of short made-up sentences, and which words move them, "
         "is reported as it is.")

SENTENCE = "I love this movie"
SENTENCES = ["I love this movie", "I hate this movie", "a moving, beautifully acted film",
             "a dull, lifeless mess", "not bad at all", "the plot is predictable but the acting is superb"]
MAX_LENGTH = 60
STEP_LR = 1.0


def _model(vocabulary, size, seed):
    """Embeddings → LSTM → one output unit; P(positive) = σ(output)."""
    return RecurrentClassifier("lstm", 1, vocab_size=len(vocabulary), embedding_dim=size, hidden_size=size,
                               generator=seed)


def _probability(model, ids):
    return cr.sigmoid(model(ids)[:, 0])


def walk_through(model, vocabulary):
    """Output, squared error, gradient norms, one SGD step, new output, for :data:`SENTENCE`."""
    ids, _ = vocabulary.encode_batch([SENTENCE], MAX_LENGTH)
    model.zero_grad()
    before = _probability(model, ids)
    loss = ((1 - before) ** 2).sum()
    loss.backward()
    layers = [(name, float(np.linalg.norm(p.grad.data))) for name, p in model.named_parameters()
              if name != "embedding.weight"]
    words = [(vocabulary.tokens[i], float(np.linalg.norm(model.embedding.weight.grad.data[i])))
             for i in ids[0] if i]
    optimizer = optim.SGD(model.parameters(), lr=STEP_LR)
    optimizer.step()
    after = float(_probability(model, ids).data[0])
    return {"before": float(before.data[0]), "loss": float(loss.data), "after": after,
            "layer_norms": layers, "word_norms": words}


def saliency(model, vocabulary, sentence):
    """Gradient × input of P(positive) for each word of ``sentence``: ``Σ_d ∂p/∂e_wd · e_wd``."""
    ids, _ = vocabulary.encode_batch([sentence], MAX_LENGTH)
    model.zero_grad()
    model.eval()
    _probability(model, ids).sum().backward()
    table, grads = model.embedding.weight.data, model.embedding.weight.grad.data
    return [(word, float(grads[i] @ table[i])) for word, i in zip(tokenize(sentence), ids[0][ids[0] > 0])]


def train(model, data, epochs, batch_size, seed):
    """Adam on the squared error of σ(output); per epoch the training loss and the test accuracy."""
    x_train, y_train, x_test, y_test = data
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    curves = {"epoch": [], "loss": [], "test_accuracy": []}
    for epoch in progress(range(1, epochs + 1), "training"):
        model.train()
        order, total = rng.permutation(len(y_train)), 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = ((_probability(model, x_train[batch]) - y_train[batch]) ** 2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.data) * len(batch)
        curves["epoch"].append(epoch)
        curves["loss"].append(total / len(y_train))
        curves["test_accuracy"].append(accuracy(model, x_test, y_test))
    return curves


def baselines():
    """Test accuracy of scikit-learn's logistic regression and linear SVM on binary word counts (the
    same tokens, the full fixed split): the classic bag-of-words comparison."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    train_texts, train_labels, test_texts, test_labels = sentiment_texts()
    counts = CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, binary=True)
    x_train, x_test = counts.fit_transform(train_texts), counts.transform(test_texts)
    return {name: float((model.fit(x_train, train_labels).predict(x_test) == test_labels).mean())
            for name, model in (("logistic regression", LogisticRegression(max_iter=2000)),
                                ("linear SVM", LinearSVC()))}


def accuracy(model, x, y):
    model.eval()
    with cr.no_grad():
        predictions = np.concatenate([_probability(model, x[s:s + 512]).data for s in range(0, len(x), 512)])
    return float(((predictions > 0.5) == y).mean())


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figure goes.
        quick: 1,000 training sentences, 2 epochs, width 16 (instead of all, 6 epochs, width 32).
        seed: the seed of the weights and of the mini-batches.
    """
    train_texts, train_labels, test_texts, test_labels = sentiment_texts()
    if quick:
        train_texts, train_labels = train_texts[:1000], train_labels[:1000]
        test_texts, test_labels = test_texts[:500], test_labels[:500]
    size, epochs = (16, 2) if quick else (32, 6)
    vocabulary = Vocabulary.build(train_texts, min_count=1 if quick else 2)
    model = _model(vocabulary, size, seed)
    story = walk_through(model, vocabulary)

    model = _model(vocabulary, size, seed)  # train from the same start, without the demonstration step
    data = (vocabulary.encode_batch(train_texts, MAX_LENGTH)[0], train_labels.astype(np.float32),
            vocabulary.encode_batch(test_texts, MAX_LENGTH)[0], test_labels)
    curves = train(model, data, epochs, 32, seed)
    model.eval()
    final = {sentence: float(_probability(model, vocabulary.encode_batch([sentence], MAX_LENGTH)[0]).data[0])
             for sentence in SENTENCES}
    salient = {sentence: saliency(model, vocabulary, sentence) for sentence in SENTENCES[:4]}

    classic = baselines()
    metrics = {"before": story["before"], "loss": story["loss"], "after": story["after"],
               "layer_norms": dict(story["layer_norms"]), "word_norms": story["word_norms"],
               "curves": curves, "final": final, "saliency": salient,
               "test_accuracy": curves["test_accuracy"][-1], "vocabulary_size": len(vocabulary),
               "baselines": classic}
    tables = [
        Table(f"\"{SENTENCE}\" (target 1) before training: output {story['before']:.3f}, squared error "
              f"(1 − {story['before']:.3f})² = {story['loss']:.3f}; gradient norm reaching each layer",
              ["parameter", "‖∂E/∂θ‖"], [[name, norm] for name, norm in reversed(story["layer_norms"])]),
        Table("... and each word's embedding (its row of the embedding table)",
              ["word", "‖∂E/∂e_word‖"], [[word, norm] for word, norm in story["word_norms"]]),
        Table(f"After training ({epochs} epochs, {len(train_texts)} sentences): P(positive)",
              ["sentence", "P(positive)"], [[sentence, p] for sentence, p in final.items()]),
        Table("Test accuracy beside scikit-learn on binary word counts (all 8,454 training sentences, the "
              "same split)", ["model", "test accuracy"],
              [[f"this LSTM ({len(train_texts)} sentences)", metrics["test_accuracy"]]]
              + [[f"{name} (scikit-learn)", value] for name, value in classic.items()]),
        Table("Gradient × input: each word's push on P(positive)",
              ["sentence", "words, most positive push first"],
              [[sentence, ", ".join(f"{w} {s:+.3f}" for w, s in sorted(pairs, key=lambda ws: -ws[1]))]
               for sentence, pairs in salient.items()]),
    ]
    notes = [(f"One SGD step (learning rate {STEP_LR}) on this one sentence moves the output from "
             f"{story['before']:.3f} to {story['after']:.3f}: backpropagation assigned the error to every "
             "weight, including the four embedding rows of the sentence's words (the other rows get none)."),
             ("The network is trained with the article's squared error on σ(output), with Adam; the test "
             "split is the data set's fixed 20%. `chainrule train --data sentiment --model lstm` trains a "
             "network of the same size with cross-entropy.")]

    fig, (ax_loss, ax_acc) = new_figure(2, width=4.2)
    ax_loss.plot(curves["epoch"], curves["loss"], "o-")
    ax_loss.set(title="training", xlabel="epoch", ylabel="mean squared error")
    ax_acc.plot(curves["epoch"], curves["test_accuracy"], "o-")
    ax_acc.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    fig.tight_layout()
    figures = [save_figure(fig, out_dir, "sentiment")]
    headline = (f"\"{SENTENCE}\": untrained {story['before']:.3f} (squared error {story['loss']:.3f}), "
                f"{story['after']:.3f} after one SGD step; after training {final[SENTENCES[0]]:.3f} against "
                f"{final[SENTENCES[1]]:.3f} for \"{SENTENCES[1]}\", test accuracy "
                f"{metrics['test_accuracy']:.1%}.")
    return Result(headline, tables, figures, metrics, notes)
