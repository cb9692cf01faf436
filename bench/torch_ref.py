#!/usr/bin/env python3
"""bench/torch_ref.py: the dlcm dense and DLCM models in PyTorch, with the engine's tensor
layout, initialisation and μP constants (read from the meta.json that dlcm-bench writes), for
`make bench`:

  check DIR             recompute the loss and every gradient of the fp32 step that
                        `dlcm-bench --dump DIR` wrote (TF32 off), and compare with ours
  bench META --mode M   time training steps (bf16 autocast, fused AdamW, clipping) in
                        eager mode (M = eager) or under torch.compile (M = compile);
                        --fixed-boundaries: the DLCM with a boundary every R tokens, the
                        torch.compile peer (learned boundaries recompile for every M)
  sweep LIST            a sweep's runs one after another under torch.compile (fixed-boundary
                        DLCM), each for its planned steps (bench/sweep-bench.sh)
  summary OURS TORCH    the table of ours vs eager vs compile from the two logs
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HD = 64


def rms_norm(x, gain, eps):
    xf = x.float()
    return xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * gain


class RefModel(torch.nn.Module):
    """Same computation as engine/model.c, engine/block.c and engine/dlcm.c."""

    def __init__(self, meta, flat=None):
        super().__init__()
        self.meta = meta
        self.dlcm = meta["family"] == "dlcm"
        self.eps = meta["norm_eps"]
        self.logit_scale = meta["d_base"] / meta["d_t"] if meta["mup"] else 1.0
        self.params = torch.nn.ParameterDict()
        self.table = meta["tensors"]
        for t in self.table:
            shape = (t["rows"], t["cols"]) if t["rows"] > 1 else (t["cols"],)
            n = t["rows"] * t["cols"]
            if flat is not None:
                w = torch.from_numpy(flat[t["offset"]:t["offset"] + n].copy()).view(shape)
            elif t["init_identity"]:
                w = torch.eye(t["rows"], t["cols"]) * float(t["init_value"])
            elif t["init_std"] == 0:
                w = torch.full(shape, float(t["init_value"]))
            else:
                w = torch.randn(shape) * t["init_std"]
            self.params[self.key(t["name"])] = torch.nn.Parameter(w)
        T = meta["seq_len"]
        inv = 10000.0 ** (-torch.arange(32, dtype=torch.float64) / 32)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cos(ang).float()[:, None, :], persistent=False)
        self.register_buffer("sin", torch.sin(ang).float()[:, None, :], persistent=False)

    @staticmethod
    def key(name):
        return name.replace(".", "__")

    def p(self, name):
        return self.params[self.key(name)]

    def head_norm(self, x, gain, rope):
        y = rms_norm(x, gain, self.eps)  # [B, n, H, 64]
        if not rope:
            return y
        n = y.shape[1]
        c, s = self.cos[:n], self.sin[:n]
        y1, y2 = y[..., :32], y[..., 32:]
        return torch.cat([y1 * c - y2 * s, y2 * c + y1 * s], dim=-1)

    def ffn(self, x, prefix, ffn_prefix):
        h = rms_norm(x, self.p(prefix + "ffn_norm"), self.eps)
        gu = h @ self.p(ffn_prefix + "w_gate_up").t()
        g, u = gu.chunk(2, dim=-1)
        return x + (F.silu(g) * u) @ self.p(ffn_prefix + "w_down").t()

    def block(self, x, prefix):
        B, n, d = x.shape
        H = d // HD
        h = rms_norm(x, self.p(prefix + ".attn_norm"), self.eps)
        q, k, v = (h @ self.p(prefix + ".attn.w_qkv").t()).split(d, dim=-1)
        q = self.head_norm(q.reshape(B, n, H, HD), self.p(prefix + ".attn.q_norm"), True)
        k = self.head_norm(k.reshape(B, n, H, HD), self.p(prefix + ".attn.k_norm"), True)
        v = v.reshape(B, n, H, HD)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           is_causal=True, scale=1.0 / 8.0)
        x = x + a.transpose(1, 2).reshape(B, n, d) @ self.p(prefix + ".attn.w_o").t()
        return self.ffn(x, prefix + ".", prefix + ".ffn.")

    def logits_loss(self, x, targets):
        h = rms_norm(x, self.p("final_norm"), self.eps)
        logits = (h @ self.p("unembed").t()).float() * self.logit_scale
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def forward(self, tokens, bounds=None):
        """Returns (total loss, cross-entropy, aux loss, concepts)."""
        m = self.meta
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        x = self.p("embed")[inputs]
        if not self.dlcm:
            for i in range(m["n_layers"]):
                x = self.block(x, "layer.%d" % i)
            ce = self.logits_loss(x, targets)
            return ce, ce, torch.zeros((), device=x.device), None
        for i in range(m["n_enc"]):
            x = self.block(x, "enc.%d" % i)
        Hs = x
        B, T, dt = Hs.shape
        dc = m["d_c"]
        # router
        rq = (Hs @ self.p("router.w_q").t()).float()
        rk = (Hs @ self.p("router.w_k").t()).float()
        dot = (rq[:, :-1] * rk[:, 1:]).sum(-1)
        nq = torch.sqrt(rq[:, :-1].pow(2).sum(-1) + 1e-12)
        nk = torch.sqrt(rk[:, 1:].pow(2).sum(-1) + 1e-12)
        p = torch.cat([torch.ones(B, 1, device=Hs.device), (1 - dot / (nq * nk)) / 2], dim=1)
        fixed_R = self.meta.get("fixed_R", 0)
        if fixed_R:
            # fixed boundaries every R tokens: M is known ahead, so torch.compile sees one graph
            b = (torch.arange(T, device=Hs.device) % fixed_R == 0).to(torch.int64).expand(B, T)
        elif bounds is None:
            b = torch.bernoulli(p.detach()).to(torch.int64)
        else:
            b = bounds.to(torch.int64)
        if not fixed_R:
            b[:, 0] = 1
        seg = torch.cumsum(b, 1) - 1
        counts = seg[:, -1] + 1
        # the host learns the number of concepts (as ours does), except with fixed boundaries
        M = (T + fixed_R - 1) // fixed_R if fixed_R else int(counts.max())
        # segment mean pooling, W_up
        sums = torch.zeros(B, M, dt, device=Hs.device).scatter_add(1, seg[..., None].expand(B, T, dt), Hs.float())
        lengths = torch.zeros(B, M, device=Hs.device).scatter_add(1, seg, torch.ones(B, T, device=Hs.device))
        cmean = sums / lengths.clamp(min=1)[..., None]
        z = cmean @ self.p("w_up").t()
        for i in range(m["n_con"]):
            z = self.block(z, "backbone.%d" % i)
        # EMA smoothing with P detached: zt_k = sum_j P_j z_j prod_{j<i<=k} (1 - P_i)
        P = torch.zeros(B, M, device=Hs.device).scatter_add(1, seg, p.detach() * b.float())
        P = P.clamp(1e-4, 1 - 1e-4)
        L = torch.cumsum(torch.log1p(-P), dim=1)
        W = P[:, None, :] * torch.exp((L[:, :, None] - L[:, None, :]).clamp(max=0))
        W = torch.tril(W)
        valid = (torch.arange(M, device=Hs.device)[None, :] < counts[:, None]).float()
        zt = torch.einsum("bkj,bjd->bkd", W, z.float()) * valid[..., None]
        # causal cross-attention with the null concept and the strict mask
        Hh = dt // HD
        hn = rms_norm(Hs, self.p("xattn.h_norm"), self.eps)
        zn = rms_norm(zt, self.p("xattn.z_norm"), self.eps)
        q = self.head_norm((hn @ self.p("xattn.w_q").t()).reshape(B, T, Hh, HD), self.p("xattn.q_norm"), False)
        k = self.head_norm((zn @ self.p("xattn.w_k").t()).reshape(B, M, Hh, HD), self.p("xattn.k_norm"), False)
        v = (zn @ self.p("xattn.w_v").t()).reshape(B, M, Hh, HD)
        k = torch.cat([self.p("xattn.null_k").reshape(1, 1, Hh, HD).expand(B, 1, Hh, HD).to(k.dtype), k], 1)
        v = torch.cat([self.p("xattn.null_v").reshape(1, 1, Hh, HD).expand(B, 1, Hh, HD).to(v.dtype), v], 1)
        key_index = torch.arange(M + 1, device=Hs.device)
        mask = (key_index[None, None, :] == 0) | (key_index[None, None, :] - 1 < seg[:, :, None])
        q4, k4, v4 = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled() else q4.dtype
        a = F.scaled_dot_product_attention(q4.to(dtype), k4.to(dtype), v4.to(dtype), attn_mask=mask[:, None],
                                           scale=1.0 / 8.0)
        x = Hs + a.transpose(1, 2).reshape(B, T, dt) @ self.p("xattn.w_o").t()
        x = self.ffn(x, "xattn.", "xattn.ffn.")
        for i in range(m["n_dec"]):
            x = self.block(x, "dec.%d" % i)
        ce = self.logits_loss(x, targets)
        R = m["R"]
        Fb = counts.sum().float() / (B * T)
        G = p.mean()
        aux = R / (R - 1) * ((R - 1) * Fb * G + (1 - Fb) * (1 - G)) - 1 if R > 1 else torch.zeros((), device=x.device)
        return ce + m["aux_weight"] * aux, ce, aux, counts.sum()


def check(args):
    meta = json.load(open(os.path.join(args.dir, "meta.json")))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    flat = np.fromfile(os.path.join(args.dir, "params.f32"), dtype=np.float32)
    ours_grads = np.fromfile(os.path.join(args.dir, "grads.f32"), dtype=np.float32)
    B, T = meta["batch"], meta["seq_len"]
    tokens = torch.from_numpy(np.fromfile(os.path.join(args.dir, "tokens.i32"), dtype=np.int32).astype(np.int64)).view(B, T + 1).cuda()
    bounds = None
    if meta["family"] == "dlcm":
        bounds = torch.from_numpy(np.fromfile(os.path.join(args.dir, "bounds.i32"), dtype=np.int32)).view(B, T).cuda()
    model = RefModel(meta, flat).cuda()
    total, ce, aux, concepts = model(tokens, bounds)
    total.backward()
    ours = meta["ours"]
    ce_rel = abs(ce.item() - ours["loss_ce"]) / ours["loss_ce"]
    print("CHECK %s loss_ce torch %.7f ours %.7f rel %.2e | loss_aux torch %.7f ours %.7f" %
          (meta["family"], ce.item(), ours["loss_ce"], ce_rel, aux.item(), ours["loss_aux"]))
    worst, worst_name = 0.0, ""
    for t in meta["tensors"]:
        n = t["rows"] * t["cols"]
        g_ours = torch.from_numpy(ours_grads[t["offset"]:t["offset"] + n].copy()).double()
        g_ref = model.p(t["name"]).grad
        g_ref = torch.zeros(n, dtype=torch.float64) if g_ref is None else g_ref.detach().double().cpu().reshape(-1)
        rel = ((g_ours - g_ref).norm() / g_ref.norm().clamp(min=1e-30)).item()
        if rel > worst:
            worst, worst_name = rel, t["name"]
    print("CHECK %s gradients: worst tensor relative error %.2e (%s)" % (meta["family"], worst, worst_name))
    ok = ce_rel < 1e-5 and abs(aux.item() - ours["loss_aux"]) < 1e-5 and worst < 1e-3
    print("CHECK %s %s" % (meta["family"], "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def bench(args):
    meta = json.load(open(args.meta))
    if args.fixed_boundaries and meta["family"] == "dlcm":
        meta["fixed_R"] = int(round(meta["R"]))
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(1234)
    model = RefModel(meta).cuda()
    groups = []
    for t in meta["tensors"]:
        cls_lr = 3e-3 * t["lr_mult"]
        groups.append({"params": [model.p(t["name"])], "lr": cls_lr, "eps": 1e-8 * t["eps_mult"],
                       "weight_decay": 0.1 if t["is_matrix"] else 0.0})
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), fused=True)
    fwd = torch.compile(model) if args.mode == "compile" else model
    B, T, V = meta["batch"], meta["seq_len"], meta["vocab"]
    g = torch.Generator(device="cuda").manual_seed(7)
    tokens = torch.randint(0, V, (B, T + 1), device="cuda", generator=g)
    params = list(model.parameters())
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32

    def step():
        with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            total, ce, aux, concepts = fwd(tokens)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return ce

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        ce = step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    size = os.path.basename(args.meta).rsplit(".", 1)[0].split("-", 1)[1]
    impl = args.mode + ("-fixedR" if meta.get("fixed_R") else "")
    print("RESULT impl=torch-%s family=%s size=%s dtype=%s step_ms=%.2f tokens_per_s=%.0f peak_mem_gib=%.2f loss=%.4f" %
          (impl, meta["family"], size, args.dtype, 1e3 * dt / args.steps, B * T * args.steps / dt,
           torch.cuda.max_memory_allocated() / 2 ** 30, ce.item()), flush=True)
    return 0


def sweep(args):
    """The runs of a sweep one after another in this process under torch.compile (DLCM with fixed
    boundaries), each for its planned steps: total wall time with and without compilation."""
    torch.backends.cuda.matmul.allow_tf32 = True
    total_flops = total_wall = total_train = 0.0
    runs = 0
    for line in open(args.list):
        if not line.strip() or line.startswith("#"):
            continue
        meta_path, steps, flops, run_id = line.split()[:4]
        steps, flops = int(steps), float(flops)
        meta = json.load(open(meta_path))
        if meta["family"] == "dlcm":
            meta["fixed_R"] = int(round(meta["R"]))
        torch._dynamo.reset()  # a fresh compilation per run, as a separate job would pay
        torch.manual_seed(1234)
        t_start = time.perf_counter()
        model = RefModel(meta).cuda()
        groups = [{"params": [model.p(t["name"])], "lr": 1e-2 * t["lr_mult"], "eps": 1e-8 * t["eps_mult"],
                   "weight_decay": 0.1 if t["is_matrix"] else 0.0} for t in meta["tensors"]]
        opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), fused=True)
        fwd = torch.compile(model)
        B, T, V = meta["batch"], meta["seq_len"], meta["vocab"]
        g = torch.Generator(device="cuda").manual_seed(7)
        params = list(model.parameters())
        t_train = None
        for step in range(steps):
            tokens = torch.randint(0, V, (B, T + 1), device="cuda", generator=g)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                total, ce, aux, concepts = fwd(tokens)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step == 1:  # compiled (forward, backward and the optimizer's first steps)
                torch.cuda.synchronize()
                t_train = time.perf_counter()
        torch.cuda.synchronize()
        t_end = time.perf_counter()
        # steady-state time of the run: the compiled steps' rate applied to all of its steps
        train_s = (t_end - t_train) * steps / max(steps - 2, 1) if t_train else t_end - t_start
        runs += 1
        total_flops += flops
        total_wall += t_end - t_start
        total_train += train_s
        print("RUN impl=torch-compile id=%s family=%s steps=%d wall_s=%.2f train_s=%.2f tflops=%.1f loss=%.4f" %
              (run_id, meta["family"], steps, t_end - t_start, train_s, flops / train_s / 1e12, ce.item()), flush=True)
        del model, opt, fwd
    print("RESULT impl=torch-compile-sequential runs=%d train_flops=%.4g wall_s=%.1f tflops_wall=%.1f "
          "train_s=%.1f tflops_train=%.1f" % (runs, total_flops, total_wall, total_flops / total_wall / 1e12,
                                              total_train, total_flops / total_train / 1e12), flush=True)
    return 0


def parse_results(path):
    rows = []
    for line in open(path):
        if not line.startswith("RESULT "):
            continue
        row = {}
        for field in line.split()[1:]:
            if "=" in field:
                k, v = field.split("=", 1)
                row[k] = v.strip('"')
        rows.append(row)
    return rows


def summary(args):
    ours = {(r["family"], r["size"]): r for r in parse_results(args.ours)}
    torch_rows = {}
    for r in parse_results(args.torch):
        torch_rows[(r["impl"], r["family"], r["size"])] = r
    print("| family | size | ours tok/s | MFU bf16 | MFU tf32 | mem GiB | eager tok/s | mem GiB | compile tok/s | mem GiB | ours/eager | ours/compile |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (fam, size), o in ours.items():
        e = torch_rows.get(("torch-eager", fam, size), {})
        c = torch_rows.get(("torch-compile", fam, size)) or torch_rows.get(("torch-compile-fixedR", fam, size), {})
        ot = float(o["tokens_per_s"])
        et = float(e.get("tokens_per_s", "nan"))
        ct = float(c.get("tokens_per_s", "nan"))
        print("| %s | %s | %.0f | %.3f | %.3f | %s | %.0f | %s | %.0f | %s | %.2f | %.2f |" %
              (fam, size, ot, float(o["mfu_bf16"]), float(o["mfu_tf32"]), o["peak_mem_gib"], et,
               e.get("peak_mem_gib", "-"), ct, c.get("peak_mem_gib", "-"), ot / et, ot / ct))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare with a step dumped by dlcm-bench --dump")
    c.add_argument("dir")
    b = sub.add_parser("bench", help="time training steps of the config in META")
    b.add_argument("meta")
    b.add_argument("--mode", choices=["eager", "compile"], default="eager")
    b.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--fixed-boundaries", action="store_true",
                   help="DLCM: a boundary every R tokens (the torch.compile peer: one graph)")
    w = sub.add_parser("sweep", help="train a sweep's runs one after another under torch.compile")
    w.add_argument("list", help="lines: META.json steps train_flops run_id (bench/sweep-bench.sh)")
    s = sub.add_parser("summary", help="table of ours vs PyTorch")
    s.add_argument("ours")
    s.add_argument("torch")
    args = ap.parse_args()
    return {"check": check, "bench": bench, "sweep": sweep, "summary": summary}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
