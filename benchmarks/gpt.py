"""Workload ``gpt``: the character-level GPT of ``chainrule train --model gpt``, chainrule against PyTorch eager.

Training step: nanoGPT's CPU baseline model (4 layers, 4 heads, 128 dims, context 64, vocabulary 65)
on a batch of 12 random windows: forward, cross-entropy, backward, gradient clipping at 1 and an AdamW
step, from the same weights (chainrule's ``state_dict`` loaded into a nanoGPT-style PyTorch model that
uses ``torch.nn.functional.scaled_dot_product_attention``), in float32; chainrule compiled is
chainrule's step passed to ``chainrule.compile`` (recorded on the first call, replayed after), against
chainrule eager in "compiled / eager". Memory: the peak resident memory one steady step adds; "memory
ratio" is chainrule eager's over PyTorch's. Generation: 128 new tokens after a 1-token prompt, one
sequence, top-k 10; chainrule steps through a key-value cache, PyTorch runs nanoGPT's ``generate`` (the
whole cropped context every token, as nanoGPT does); not compiled.
"""

import numpy as np

from benchmarks import compiled, timing
from benchmarks.memory import peak_added_mib
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "compiled", "torch")
CONFIG = {"block_size": 64, "vocab_size": 65, "n_layer": 4, "n_head": 4, "n_embd": 128}
BATCH, NEW_TOKENS, TOP_K = 12, 128, 10
STEP_GOAL, MEMORY_GOAL = 1.0, 1.5
COMPILED_GOAL = 1.0
"""Issue 21: the compiled step at most PyTorch eager's time."""


def cases(quick):
    return [{"task": "step", "batch": BATCH}, {"task": "generate", "tokens": NEW_TOKENS}]


def _chainrule_model(config=CONFIG):
    from chainrule.nn.gpt import GPT, GPTConfig
    return GPT(GPTConfig(**config), generator=0)


def _torch_model(config=CONFIG):
    """nanoGPT's model in PyTorch (of ``config``'s sizes) with chainrule's initial weights."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            width = config["n_embd"]
            self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.attn = nn.Module()
            self.attn.c_attn, self.attn.c_proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.mlp = nn.Sequential()
            self.mlp.c_fc, self.mlp.gelu = nn.Linear(width, 4 * width), nn.GELU()
            self.mlp.c_proj = nn.Linear(4 * width, width)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (a.view(B, T, config["n_head"], C // config["n_head"]).transpose(1, 2) for a in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.attn.c_proj(y)
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config["vocab_size"], config["n_embd"]),
                wpe=nn.Embedding(config["block_size"], config["n_embd"]),
                h=nn.ModuleList([Block() for _ in range(config["n_layer"])]), ln_f=nn.LayerNorm(config["n_embd"])))
            self.lm_head = nn.Linear(config["n_embd"], config["vocab_size"], bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1], device=idx.device))
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is None:
                return self.lm_head(x[:, [-1], :]), None
            logits = self.lm_head(x)
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, top_k):
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -config["block_size"]:])
                logits = logits[:, -1, :]
                v, _ = torch.topk(logits, top_k)
                logits[logits < v[:, [-1]]] = -float("inf")
                idx = torch.cat((idx, torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)), dim=1)
            return idx

    model = GPT()
    model.load_state_dict({k: torch.tensor(v) for k, v in _chainrule_model(config).state_dict().items()})
    return model


def _batch():
    rng = np.random.default_rng(1)
    shape = (BATCH, CONFIG["block_size"])
    return rng.integers(0, CONFIG["vocab_size"], shape), rng.integers(0, CONFIG["vocab_size"], shape)


def _step(framework):
    x, y = _batch()
    if framework == "torch":
        import torch
        model = _torch_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        x, y = torch.tensor(x), torch.tensor(y)

        def step():
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            return loss.item()
        return step
    import chainrule as cr
    model = _chainrule_model()
    optimizer = cr.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)

    def step(inputs, targets):
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss
    step = cr.compile(step) if framework == "compiled" else step
    return lambda: step(x, y).item()


def _generate(framework):
    if framework == "torch":
        import torch
        model = _torch_model().eval()
        torch.manual_seed(0)
        return lambda: model.generate(torch.zeros((1, 1), dtype=torch.long), NEW_TOKENS, TOP_K)
    model = _chainrule_model().eval()
    return lambda: model.generate(np.zeros((1, 1), int), NEW_TOKENS, top_k=TOP_K, generator=0)


def measure_case(framework, case, budget):
    if case["task"] == "generate":
        if framework == "compiled":
            return None
        result = timing.measure(_generate(framework), budget)
        return result | {"tokens_per_s": NEW_TOKENS / result["median_s"]}
    step = _step(framework)
    losses = [float(step()) for _ in range(2)]
    memory = [peak_added_mib(step) for _ in range(budget.min_repeats)]
    return timing.measure(step, budget) | {"losses": losses, "steady_mib": float(np.median(memory))}


def tables(all_cases, results):
    step_goals = [Goal("GPT training step", "PyTorch", results.ratio("chainrule", "torch", 0), STEP_GOAL),
                  Goal("GPT training step (memory)", "PyTorch",
                       results.ratio("chainrule", "torch", 0, "steady_mib"), MEMORY_GOAL),
                  Goal("GPT training step (compiled)", "PyTorch", results.ratio("compiled", "torch", 0),
                       COMPILED_GOAL),
                  compiled.eager_goal("GPT training step", results, 0)]
    step_row = (["training step, batch 12 × 64"] + [results.time_cell(f, 0) for f in FRAMEWORKS]
                + [format_ratio(results.ratio("chainrule", "torch", 0)),
                   format_ratio(results.ratio("compiled", "torch", 0)),
                   format_ratio(results.ratio("compiled", "chainrule", 0))]
                + [results.cell(f, 0, "steady_mib", " MiB") for f in FRAMEWORKS]
                + [format_ratio(results.ratio("chainrule", "torch", 0, "steady_mib")),
                   ", ".join(goal.target for goal in step_goals), overall_status(step_goals)])
    generate_row = ([f"generate {NEW_TOKENS} tokens"] + [results.time_cell(f, 1) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", 1)), "", ""]
                    + [results.cell(f, 1, "tokens_per_s", " tokens/s") for f in FRAMEWORKS]
                    + ["", "", "report only"])
    headers = (["case"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / PyTorch", "compiled / PyTorch", "compiled / eager"]
               + [f"{FRAMEWORK_NAMES[f]} memory or rate" for f in FRAMEWORKS]
               + ["memory ratio", "goal", "status"])
    return [Table("GPT: training step and generation", " ".join(__doc__.split("\n\n")[1].split()), headers,
                  [step_row, generate_row], step_goals)]

