"""Independent reference implementations written straight from the paper's equations, one token at a time.

Nothing here imports retnet_edu: these loops are what the package is checked against. They are slow on
purpose (Python loops over positions, scalar powers of gamma taken with Python floats).
"""

from __future__ import annotations

import cmath
import math

import torch


def retention(q, k, v, gamma, S0=None):
    """o[b, h, n] = Σ_{m ≤ n} γ_h^(n-m) (q_n · k_m) v_m  (+ γ_h^(n+1) q_n S0 when an initial state is given)."""
    B, H, T, _ = q.shape
    o = torch.zeros(B, H, T, v.shape[-1], dtype=q.dtype)
    for h in range(H):
        g = float(gamma[h])
        for n in range(T):
            acc = torch.zeros(B, v.shape[-1], dtype=q.dtype)
            for m in range(n + 1):
                w = (q[:, h, n] * k[:, h, m]).sum(-1, keepdim=True)
                acc = acc + (g ** (n - m)) * w * v[:, h, m]
            if S0 is not None:
                acc = acc + (g ** (n + 1)) * (q[:, h, n].unsqueeze(1) @ S0[:, h]).squeeze(1)
            o[:, h, n] = acc
    return o


def state(k, v, gamma, S0=None):
    """S_T = Σ_m γ^(T-1-m) k_mᵀ v_m  (+ γ^T S0)."""
    B, H, T, d_k = k.shape
    S = torch.zeros(B, H, d_k, v.shape[-1], dtype=k.dtype)
    for h in range(H):
        g = float(gamma[h])
        for m in range(T):
            S[:, h] += (g ** (T - 1 - m)) * k[:, h, m].unsqueeze(-1) * v[:, h, m].unsqueeze(-2)
        if S0 is not None:
            S[:, h] += (g**T) * S0[:, h]
    return S


def decay_matrix(gamma, T):
    H = gamma.shape[0]
    D = torch.zeros(H, T, T, dtype=torch.float64)
    for h in range(H):
        g = float(gamma[h])
        for n in range(T):
            for m in range(n + 1):
                D[h, n, m] = g ** (n - m)
    return D


def angles(d_k):
    """θ_i = 10000^(-i/(d_k/2 - 1)), i = 0 … d_k/2-1 (one angle when d_k = 2: θ_0 = 1)."""
    half = d_k // 2
    return [10000.0 ** (-(i / (half - 1))) if half > 1 else 1.0 for i in range(half)]


def rotate(x, offset=0):
    """Rotate each pair (x_{2i}, x_{2i+1}) as the complex number z = x_{2i} + i x_{2i+1}: z · e^{i n θ_i}."""
    x = x.contiguous()
    out = torch.empty_like(x)
    T, d_k = x.shape[-2], x.shape[-1]
    th = angles(d_k)
    flat = x.reshape(-1, T, d_k)
    res = out.view(-1, T, d_k)
    for r in range(flat.shape[0]):
        for t in range(T):
            n = offset + t
            for i in range(d_k // 2):
                z = complex(float(flat[r, t, 2 * i]), float(flat[r, t, 2 * i + 1])) * cmath.exp(1j * n * th[i])
                res[r, t, 2 * i] = z.real
                res[r, t, 2 * i + 1] = z.imag
    return out


def rms(x, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)


def msr(x, W, gamma, num_heads, eps, offset=0, S0=None):
    """Multi-scale retention from its definition, with independent rotation and retention loops.

    W: dict of weight matrices (out_features, in_features) named q, k, v, g, out.
    """
    B, T, E = x.shape
    d_k = E // num_heads
    d_v = W["v"].shape[0] // num_heads
    q = (x @ W["q"].T).view(B, T, num_heads, d_k).transpose(1, 2)
    k = (x @ W["k"].T / math.sqrt(d_k)).view(B, T, num_heads, d_k).transpose(1, 2)
    v = (x @ W["v"].T).view(B, T, num_heads, d_v).transpose(1, 2)
    q, k = rotate(q, offset), rotate(k, offset)
    o = retention(q, k, v, gamma, S0)
    o = rms(o, eps).transpose(1, 2).reshape(B, T, num_heads * d_v)
    g = x @ W["g"].T
    return (g * torch.sigmoid(g) * o) @ W["out"].T


def maxdiff(a, b) -> float:
    """The largest absolute difference between two tensors, as a float (the comparison most tests assert on)."""
    return (a - b).abs().max().item()


# ------------------------------------------------------------------------------------------------------------
# retention's successors (retnet_edu.successors): the recurrences with explicit matrices, one token at a time
# ------------------------------------------------------------------------------------------------------------
def _successor_loop(q, k, v, S0, transition, write):
    """S_n = transition(n) @ S_{n-1} + write(n), o_n = q_n S_n; transition(n) is a (B, H, d_k, d_k) matrix and
    write(n) a (B, H, d_k, d_v) one. Returns (o, S_T)."""
    B, H, T, d_k = q.shape
    S = torch.zeros(B, H, d_k, v.shape[-1], dtype=q.dtype) if S0 is None else S0.clone()
    o = torch.zeros(B, H, T, v.shape[-1], dtype=q.dtype)
    for n in range(T):
        S = transition(n) @ S + write(n)
        o[:, :, n] = (q[:, :, n].unsqueeze(-2) @ S).squeeze(-2)
    return o, S


def _eye(q):
    return torch.eye(q.shape[-1], dtype=q.dtype).expand(*q.shape[:2], -1, -1)


def _kv(k, v, n):
    return k[:, :, n].unsqueeze(-1) @ v[:, :, n].unsqueeze(-2)  # k_nᵀ v_n


def gated_retention(q, k, v, log_gamma, S0=None):
    """S_n = exp(log_gamma_n) I S_{n-1} + k_nᵀ v_n, o_n = q_n S_n."""
    I = _eye(q)
    return _successor_loop(
        q, k, v, S0, lambda n: torch.exp(log_gamma[:, :, n])[..., None, None] * I, lambda n: _kv(k, v, n)
    )


def gla(q, k, v, log_alpha, S0=None):
    """S_n = diag(exp(log_alpha_n)) S_{n-1} + k_nᵀ v_n, o_n = q_n S_n."""
    return _successor_loop(
        q, k, v, S0, lambda n: torch.diag_embed(torch.exp(log_alpha[:, :, n])), lambda n: _kv(k, v, n)
    )


def delta_rule(q, k, v, beta, log_gamma=None, S0=None):
    """S_n = exp(log_gamma_n) (I - β_n k_nᵀ k_n) S_{n-1} + β_n k_nᵀ v_n, o_n = q_n S_n (log_gamma None: 0)."""
    I = _eye(q)

    def transition(n):
        g = 1.0 if log_gamma is None else torch.exp(log_gamma[:, :, n])[..., None, None]
        return g * (I - beta[:, :, n][..., None, None] * _kv(k, k, n))

    return _successor_loop(q, k, v, S0, transition, lambda n: beta[:, :, n][..., None, None] * _kv(k, v, n))
