#!/usr/bin/env python3
"""PyTorch reference of one SSMAE training step: the peer that the project's ONNX Runtime step is timed against.

Runs on the remote GPU machine (PyTorch is there):  python3 ssmae_step_torch.py --preset tiny --batch 256
and on the CPU (Debian's python3-torch 1.13 + libopenblas0-pthread; unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for
that command):  python3 ssmae_step_torch.py --device cpu --threads 2 --preset micro --batch 64 --variants eager_fp32,eager_bf16
Prints one JSON line per variant (eager fp32/TF32, eager bf16 autocast, torch.compile) with images/s.

The step (same work as the project's train step, see shared/DESIGN.md "the SSMAE step"):
  1. teacher (EMA weights, no grad): full-image forward of the weak views of the unlabeled images -> softmax
  2. pseudo-labels: argmax where max prob >= tau (gate open), else weight 0
  3. student: MAE reconstruction (mask ratio 0.75) of labeled + unlabeled images,
     cross-entropy on labeled images (full view) and on strong views of unlabeled images with pseudo-labels
  4. backward, AdamW, EMA update of the teacher
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # img, patch, enc dim/depth/heads, dec dim/depth/heads
    "micro": (32, 4, 128, 6, 4, 96, 2, 4),
    "tiny": (32, 4, 192, 12, 3, 128, 4, 4),
    "small": (32, 4, 384, 12, 6, 256, 4, 8),
    "base224": (224, 16, 768, 12, 12, 512, 8, 16),
}


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        y = self.n1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.n2(x))


class SSMAE(nn.Module):
    def __init__(self, img, patch, d, depth, heads, dd, ddepth, dheads, classes=10):
        super().__init__()
        self.p, self.L = patch, (img // patch) ** 2
        self.embed = nn.Linear(3 * patch * patch, d)
        self.pos = nn.Parameter(torch.randn(1, self.L, d) * 0.02)
        self.enc = nn.ModuleList([Block(d, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
        self.dembed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.dpos = nn.Parameter(torch.randn(1, self.L, dd) * 0.02)
        self.dec = nn.ModuleList([Block(dd, dheads) for _ in range(ddepth)])
        self.dnorm = nn.LayerNorm(dd)
        self.pred = nn.Linear(dd, 3 * patch * patch)

    def patchify(self, x):
        b, c, h, w = x.shape
        p = self.p
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def encode(self, tokens):
        for blk in self.enc:
            tokens = blk(tokens)
        return self.norm(tokens)

    def classify(self, x):
        z = self.encode(self.embed(self.patchify(x)) + self.pos)
        return self.head(z.mean(1))

    def reconstruct_loss(self, x, ids_keep, ids_restore, mask):
        patches = self.patchify(x)
        t = self.embed(patches) + self.pos
        t = torch.gather(t, 1, ids_keep[..., None].expand(-1, -1, t.shape[-1]))
        z = self.dembed(self.encode(t))
        b, keep = ids_keep.shape
        z = torch.cat([z, self.mask_token.expand(b, self.L - keep, -1)], 1)
        z = torch.gather(z, 1, ids_restore[..., None].expand(-1, -1, z.shape[-1])) + self.dpos
        for blk in self.dec:
            z = blk(z)
        pred = self.pred(self.dnorm(z))
        mean, var = patches.mean(-1, keepdim=True), patches.var(-1, keepdim=True)
        target = (patches - mean) / (var + 1e-6).sqrt()
        per_patch = ((pred - target) ** 2).mean(-1)
        return (per_patch * mask).sum() / mask.sum()


def masking(b, L, ratio, device):
    noise = torch.rand(b, L, device=device)
    ids_shuffle = noise.argsort(1)
    ids_restore = ids_shuffle.argsort(1)
    keep = int(L * (1 - ratio))
    mask = torch.ones(b, L, device=device)
    mask[:, :keep] = 0
    return ids_shuffle[:, :keep], ids_restore, torch.gather(mask, 1, ids_restore)


def make_step(student, teacher, opt, tau=0.95, lam=1.0, ema=0.999):
    def step(xl, yl, xu_weak, xu_strong, ids_keep, ids_restore, mask):
        with torch.no_grad():
            probs = teacher.classify(xu_weak).softmax(-1)
            conf, pseudo = probs.max(-1)
            w = (conf >= tau).float()
        x_all = torch.cat([xl, xu_weak])
        rec = student.reconstruct_loss(x_all, ids_keep, ids_restore, mask)
        logits = student.classify(torch.cat([xl, xu_strong]))
        nl = xl.shape[0]
        ce_l = F.cross_entropy(logits[:nl], yl)
        ce_u = (F.cross_entropy(logits[nl:], pseudo, reduction="none") * w).mean()
        loss = rec + ce_l + lam * ce_u
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), student.parameters()):
                pt.mul_(ema).add_(ps, alpha=1 - ema)
        return loss
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tiny", choices=PRESETS)
    ap.add_argument("--batch", type=int, default=256, help="labeled + unlabeled images per step")
    ap.add_argument("--labeled-fraction", type=float, default=0.25)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--variants", default="eager_tf32,eager_bf16,compile_tf32")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    a = ap.parse_args()
    dev = a.device
    if a.threads:
        torch.set_num_threads(a.threads)
    img, patch, *_ = PRESETS[a.preset]
    nl = int(a.batch * a.labeled_fraction)
    nu = a.batch - nl
    for variant in a.variants.split(","):
        torch.manual_seed(0)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        student = SSMAE(*PRESETS[a.preset]).to(dev)
        teacher = SSMAE(*PRESETS[a.preset]).to(dev)
        teacher.load_state_dict(student.state_dict())
        opt = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.05, **({"fused": True} if dev == "cuda" else {}))
        step = make_step(student, teacher, opt, tau=0.0)  # tau 0: every pseudo-label counts, worst-case work
        if variant.startswith("compile"):
            if not hasattr(torch, "compile"):
                print(json.dumps({"variant": variant, "skipped": "torch.compile needs PyTorch 2"}), flush=True)
                continue
            step = torch.compile(step)
        xl = torch.randn(nl, 3, img, img, device=dev)
        yl = torch.randint(0, 10, (nl,), device=dev)
        xw, xs = torch.randn(nu, 3, img, img, device=dev), torch.randn(nu, 3, img, img, device=dev)
        L = (img // patch) ** 2
        ik, ir, m = masking(a.batch, L, 0.75, dev)
        ctx = torch.autocast(dev, dtype=torch.bfloat16) if "bf16" in variant else torch.autocast(dev, enabled=False)
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        with ctx:
            for _ in range(5):
                step(xl, yl, xw, xs, ik, ir, m)
            sync()
            t0 = time.perf_counter()
            for _ in range(a.steps):
                loss = step(xl, yl, xw, xs, ik, ir, m)
            sync()
            dt = (time.perf_counter() - t0) / a.steps
        n_params = sum(p.numel() for p in student.parameters())
        print(json.dumps({"variant": variant, "preset": a.preset, "batch": a.batch, "params_M": round(n_params / 1e6, 2),
                          "step_ms": round(dt * 1e3, 2), "images_per_s": round(a.batch / dt, 1),
                          "loss": round(float(loss), 4), "device": torch.cuda.get_device_name() if dev == "cuda" else f"cpu x{torch.get_num_threads()}",
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
