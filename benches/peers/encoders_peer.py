#!/usr/bin/env python3
"""PyTorch peer for fuserec's pretrained encoders: the same two models (all-MiniLM-L6-v2 and
EfficientNet-Lite0), the same weights files, the same inputs, 2 threads. Prints one JSON object
with parity checks and throughput. Run by `cargo xtask peer`; needs Debian's python3-torch.

usage: encoders_peer.py --minilm DIR --effnet FILE --chelsea FILE --titles FILE [--threads 2]
"""
import argparse, json, math, struct, sys, unicodedata

import fair

fair.configure(fair.threads_arg(sys.argv))

import numpy as np  # noqa: E402  (after fair.configure: the BLAS reads its environment on load)
import torch  # noqa: E402
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy())
    return out


# --- BERT (MiniLM) ------------------------------------------------------------------------------

class WordPiece:
    """BERT basic tokenisation (lower-case, strip accents, split punctuation) + WordPiece."""

    def __init__(self, tokenizer_json):
        t = json.load(open(tokenizer_json))
        self.vocab = t["model"]["vocab"]
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]

    def basic(self, text):
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words, cur = [], ""
        for c in text:
            if c.isspace():
                if cur:
                    words.append(cur)
                cur = ""
            elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or (58 <= ord(c) <= 64) or (91 <= ord(c) <= 96) or (123 <= ord(c) <= 126):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
        return words

    def encode(self, text, max_len=128):
        ids = [self.cls]
        for w in self.basic(text):
            start, pieces = 0, []
            while start < len(w):
                end, piece = len(w), None
                while start < end:
                    sub = w[start:end] if start == 0 else "##" + w[start:end]
                    if sub in self.vocab:
                        piece = self.vocab[sub]
                        break
                    end -= 1
                if piece is None:
                    pieces = [self.unk]
                    break
                pieces.append(piece)
                start = end
            ids.extend(pieces)
        return ids[: max_len - 1] + [self.sep]


class MiniLM(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.w, self.cfg = w, cfg

    def forward(self, ids, mask):
        w, c = self.w, self.cfg
        b, l = ids.shape
        h, d = c["num_attention_heads"], c["hidden_size"]
        dh = d // h
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:l][None] + w["embeddings.token_type_embeddings.weight"][0]
        x = F.layer_norm(x, (d,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], c["layer_norm_eps"])
        bias = (1.0 - mask[:, None, None, :]) * -1e9
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda t, n: F.linear(t, w[p + n + ".weight"], w[p + n + ".bias"])
            q = lin(x, "attention.self.query").view(b, l, h, dh).transpose(1, 2)
            k = lin(x, "attention.self.key").view(b, l, h, dh).transpose(1, 2)
            v = lin(x, "attention.self.value").view(b, l, h, dh).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, dim=-1)
            ctx = (a @ v).transpose(1, 2).reshape(b, l, d)
            x = F.layer_norm(lin(ctx, "attention.output.dense") + x, (d,), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], c["layer_norm_eps"])
            ff = lin(F.gelu(lin(x, "intermediate.dense")), "output.dense")
            x = F.layer_norm(ff + x, (d,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], c["layer_norm_eps"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(pooled, dim=-1)


def encode_texts(model, tok, texts):
    ids = [tok.encode(t) for t in texts]
    l = max(len(i) for i in ids)
    t = torch.zeros(len(ids), l, dtype=torch.long)
    m = torch.zeros(len(ids), l)
    for r, i in enumerate(ids):
        t[r, : len(i)] = torch.tensor(i)
        m[r, : len(i)] = 1
    return model(t, m)


# --- EfficientNet-Lite0 --------------------------------------------------------------------------

STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def fold(w, conv, bn):
    g, b, m, v = (w[f"{bn}.{n}"] for n in ("weight", "bias", "running_mean", "running_var"))
    s = g / torch.sqrt(v + 1e-3)
    return w[f"{conv}.weight"] * s[:, None, None, None], b - m * s


def same_pad(x, k, s):
    i = x.shape[-1]
    total = max((math.ceil(i / s) - 1) * s + k - i, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class Lite0(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.stem = fold(w, "_conv_stem", "_bn0")
        self.blocks = []
        for reps, k, s, e, cin, cout in STAGES:
            for r in range(reps):
                i = len(self.blocks)
                p = f"_blocks.{i}"
                ci, st = (cin, s) if r == 0 else (cout, 1)
                ex = fold(w, f"{p}._expand_conv", f"{p}._bn0") if e != 1 else None
                self.blocks.append((ex, fold(w, f"{p}._depthwise_conv", f"{p}._bn1"), fold(w, f"{p}._project_conv", f"{p}._bn2"), k, st, st == 1 and ci == cout))
        self.head = fold(w, "_conv_head", "_bn1")
        self.fc = (w["_fc.weight"], w["_fc.bias"])

    def forward(self, x):
        x = F.relu6(F.conv2d(same_pad(x, 3, 2), *self.stem, stride=2))
        for ex, dw, pj, k, s, res in self.blocks:
            y = F.relu6(F.conv2d(x, *ex)) if ex is not None else x
            y = F.relu6(F.conv2d(same_pad(y, k, s), *dw, stride=s, groups=dw[0].shape[0]))
            y = F.conv2d(y, *pj)
            x = x + y if res else y
        pooled = F.relu6(F.conv2d(x, *self.head)).mean((2, 3))
        return pooled, F.linear(pooled, *self.fc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", required=True)
    ap.add_argument("--effnet", required=True)
    ap.add_argument("--chelsea", required=True)
    ap.add_argument("--titles", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = {"torch": torch.__version__, "threads": a.threads}
    torch.set_grad_enabled(False)
    cfg = json.load(open(f"{a.minilm}/config.json"))
    bert, tok = MiniLM(load_safetensors(f"{a.minilm}/model.safetensors"), cfg), WordPiece(f"{a.minilm}/tokenizer.json")
    e = encode_texts(bert, tok, ["A cat sits on the mat.", "A kitten is resting on a rug."])
    out["minilm_first5"] = [round(float(v), 5) for v in e[0, :5]]
    out["minilm_cos"] = round(float(e[0] @ e[1]), 4)
    titles = [l.strip() for l in open(a.titles) if l.strip()]
    out["batch_sentences"] = len(titles)

    net = Lite0(load_safetensors(a.effnet))
    x = torch.from_numpy(np.fromfile(a.chelsea, dtype="<f4").reshape(1, 3, 224, 224).copy())
    pooled, logits = net(x)
    out["effnet_argmax"] = int(logits.argmax())
    out["effnet_pooled5"] = [round(float(v), 5) for v in pooled[0, :5]]
    batch = x.repeat(32, 1, 1, 1)
    out["batch_images"] = 32
    out["fair"] = fair.report()

    def minilm(_):
        encode_texts(bert, tok, titles)

    def effnet(_):
        net(batch)

    with torch.inference_mode():
        fair.serve(out, {"minilm": minilm, "effnet": effnet})


if __name__ == "__main__":
    main()
