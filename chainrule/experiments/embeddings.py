"""Word vectors learned by backpropagation: chainrule's skip-gram against gensim's Word2Vec on the same
Wikipedia excerpt with the same settings, on analogies, word similarity, neighbours and
king − man + woman."""

from chainrule import word2vec

from .report import new_figure, save_figure
from .result import Result, Table

NAME = "embeddings"
TITLE = "Word embeddings: skip-gram by backpropagation, against gensim"
CLAIM = ("Skip-gram with negative sampling, trained by chainrule's own embeddings, autodiff and SGD, "
         "scores within 0.9x of gensim's Word2Vec trained on the same corpus with the same settings, on "
         "the analogy questions and on WordSim-353; both answer king − man + woman as the small corpus "
         "allows.")

WORDS = ["king", "war", "music", "france", "city", "computer"]
ANALOGIES = [("man", "king", "woman"), ("france", "paris", "germany"), ("big", "bigger", "small")]


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figure goes.
        quick: the first 12 articles, 1 epoch, 32 dimensions (instead of all, 3 epochs, 100).
        seed: the seed of both trainings.
    """
    documents = word2vec.wikipedia_documents()
    settings = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3, "epochs": 3,
                "lr": 0.025, "seed": seed}
    if quick:
        documents = documents[:12]
        settings.update(dim=32, epochs=1)
    ours, our_seconds = word2vec.train_skipgram(documents, **settings)
    theirs, their_seconds = word2vec.train_gensim(documents, **settings)
    systems = {"chainrule": (ours, our_seconds), "gensim": (theirs, their_seconds)}
    scores = {}
    for name, (vectors, seconds) in systems.items():
        accuracy, answered, questions = word2vec.evaluate_analogies(vectors)
        rho, pairs, all_pairs = word2vec.evaluate_similarity(vectors)
        scores[name] = {"analogy_accuracy": accuracy, "answered": answered, "questions": questions,
                        "wordsim_spearman": rho, "pairs": pairs, "all_pairs": all_pairs, "seconds": seconds,
                        "vocabulary": len(vectors.words)}
    ratio = {key: scores["chainrule"][key] / scores["gensim"][key] if scores["gensim"][key] else float("nan")
             for key in ("analogy_accuracy", "wordsim_spearman")}
    tokens = sum(map(len, documents))
    neighbours = {name: {word: vectors.nearest(word, 5) if word in vectors else []
                         for word in WORDS} for name, (vectors, _) in systems.items()}
    answers = {name: {" ".join(q): vectors.analogy(*q) if all(w in vectors for w in q) else None
                      for q in ANALOGIES} for name, (vectors, _) in systems.items()}
    metrics = {"scores": scores, "ratio": ratio, "tokens": tokens, "documents": len(documents),
               "settings": settings, "neighbours": neighbours, "analogies": answers}
    tables = [
        Table(f"Skip-gram on {tokens:,} words of Wikipedia ({len(documents)} articles), "
              f"{settings['dim']} dimensions, window {settings['window']}, {settings['negative']} negatives, "
              f"min count {settings['min_count']}, {settings['epochs']} epochs, one thread each",
              ["system", "vocabulary", "analogies answered", "analogy accuracy", "WordSim-353 pairs",
               "WordSim-353 Spearman", "training time (s)"],
              [[name, s["vocabulary"], f"{s['answered']} of {s['questions']}", s["analogy_accuracy"],
                f"{s['pairs']} of {s['all_pairs']}", s["wordsim_spearman"], s["seconds"]]
               for name, s in scores.items()]),
        Table("Nearest neighbours (cosine)", ["word", "chainrule", "gensim"],
              [[word] + [", ".join(w for w, _ in neighbours[name][word]) or "(not in the vocabulary)"
                         for name in systems] for word in WORDS]),
        Table("a : b :: c : ? (3CosAdd)", ["question", "chainrule", "gensim"],
              [[f"{a} : {b} :: {c} : ?"] + [answers[name][f"{a} {b} {c}"] or "(a word is unknown)"
                                           for name in systems] for a, b, c in ANALOGIES]),
    ]
    notes = [("Both systems read the same lower-cased words of the same articles, with word2vec's "
             "subsampling, dynamic window and negative sampling; gensim runs its optimised C loop "
             "(one worker thread), chainrule mini-batches of 1,024 pairs through `nn.Embedding`, the "
             "recorded graph and `optim.SGD`. Half a million words is a small corpus: analogy accuracy "
             "is low for both, and the comparison is the point.")]

    fig, ax = new_figure(1, width=5.0)
    keys = [("analogy_accuracy", "analogy accuracy"), ("wordsim_spearman", "WordSim-353 ρ")]
    for offset, name in ((-0.2, "chainrule"), (0.2, "gensim")):
        ax.bar([i + offset for i in range(len(keys))], [scores[name][k] for k, _ in keys], width=0.4,
               label=name)
    ax.set_xticks(range(len(keys)), [label for _, label in keys])
    ax.legend()
    ax.set(title="skip-gram, same corpus and settings")
    fig.tight_layout()
    figures = [save_figure(fig, out_dir, "embeddings")]
    headline = (f"Analogy accuracy {scores['chainrule']['analogy_accuracy']:.1%} (chainrule) vs "
                f"{scores['gensim']['analogy_accuracy']:.1%} (gensim), WordSim-353 Spearman "
                f"{scores['chainrule']['wordsim_spearman']:.3f} vs {scores['gensim']['wordsim_spearman']:.3f}; "
                f"training {our_seconds:.0f} s vs {their_seconds:.0f} s.")
    return Result(headline, tables, figures, metrics, notes)
