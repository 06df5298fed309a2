#!/usr/bin/env python3
"""Makes test/fixtures/hf-mae-tiny: a tiny random ViTMAEForPreTraining checkpoint in the exact Hugging Face layout
(config.json, model.safetensors, preprocessor_config.json) and expected.safetensors: fixed inputs (uint8 images, the
masking noise and the shuffle it gives) and what the model computes on them (last hidden states, embeddings for CLS
and mean pooling, predicted pixels, the reconstruction loss, and autograd gradients of that loss w.r.t. a sample of
parameters), plus one bicubic resampling of a position table as torch does it.

The model is an independent PyTorch reference of ViTMAEForPreTraining's forward, written from the public modeling
code of transformers (src/transformers/models/vit_mae/modeling_vit_mae.py) with its tensor names; transformers itself
is not needed. Needs Debian's python3-torch (1.13) and numpy:  /usr/bin/python3 scripts/make-hf-mae-fixture.py
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'hf-mae-tiny')

CONFIG = {
    'architectures': ['ViTMAEForPreTraining'], 'model_type': 'vit_mae',
    'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 2, 'intermediate_size': 48,
    'hidden_act': 'gelu', 'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0, 'initializer_range': 0.02,
    'layer_norm_eps': 1e-12, 'image_size': 16, 'patch_size': 4, 'num_channels': 3, 'qkv_bias': True,
    'decoder_num_attention_heads': 3, 'decoder_hidden_size': 24, 'decoder_num_hidden_layers': 2,
    'decoder_intermediate_size': 40, 'mask_ratio': 0.75, 'norm_pix_loss': False,
    'torch_dtype': 'float32',
}
PREPROCESSOR = {
    'image_processor_type': 'ViTImageProcessor', 'do_resize': True, 'size': {'height': 16, 'width': 16},
    'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True,
    'image_mean': [0.485, 0.456, 0.406], 'image_std': [0.229, 0.224, 0.225],
}
N = 2  # images


# ---- MAE's fixed position table (get_2d_sincos_pos_embed with the CLS row), as in modeling_vit_mae.py ----
def sincos_1d(d, pos):
    omega = np.arange(d // 2, dtype=float)
    omega /= d / 2.0
    omega = 1.0 / 10000 ** omega
    out = np.einsum('m,d->md', pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(d, g, cls):
    gh = np.arange(g, dtype=np.float32)
    gw = np.arange(g, dtype=np.float32)
    grid = np.stack(np.meshgrid(gw, gh), axis=0).reshape([2, 1, g, g])
    emb = np.concatenate([sincos_1d(d // 2, grid[0]), sincos_1d(d // 2, grid[1])], axis=1)
    if cls:
        emb = np.concatenate([np.zeros([1, d]), emb], axis=0)
    return emb


# ---- random weights in ViTMAEForPreTraining's names and shapes ----
def make_weights(c, gen):
    D, E, C, p = c['hidden_size'], c['decoder_hidden_size'], c['num_channels'], c['patch_size']
    L = (c['image_size'] // p) ** 2
    w = {}

    def rnd(shape, scale):
        return (torch.randn(*shape, generator=gen) * scale).float()

    def linear(name, din, dout, bias=True):
        w[name + '.weight'] = rnd([dout, din], 1 / math.sqrt(din))
        if bias:
            w[name + '.bias'] = rnd([dout], 0.1)

    def norm(name, d):
        w[name + '.weight'] = 1 + rnd([d], 0.1)
        w[name + '.bias'] = rnd([d], 0.1)

    def layer(prefix, d, hidden):
        for part in ('query', 'key', 'value'):
            linear(f'{prefix}.attention.attention.{part}', d, d, c['qkv_bias'])
        linear(f'{prefix}.attention.output.dense', d, d)
        linear(f'{prefix}.intermediate.dense', d, hidden)
        linear(f'{prefix}.output.dense', hidden, d)
        norm(f'{prefix}.layernorm_before', d)
        norm(f'{prefix}.layernorm_after', d)

    w['vit.embeddings.cls_token'] = rnd([1, 1, D], 0.5)
    w['vit.embeddings.position_embeddings'] = torch.from_numpy(sincos_2d(D, int(L ** 0.5), True)).float().unsqueeze(0)
    w['vit.embeddings.patch_embeddings.projection.weight'] = rnd([D, C, p, p], 1 / math.sqrt(C * p * p))
    w['vit.embeddings.patch_embeddings.projection.bias'] = rnd([D], 0.1)
    for i in range(c['num_hidden_layers']):
        layer(f'vit.encoder.layer.{i}', D, c['intermediate_size'])
    norm('vit.layernorm', D)
    linear('decoder.decoder_embed', D, E)
    w['decoder.mask_token'] = rnd([1, 1, E], 0.5)
    w['decoder.decoder_pos_embed'] = torch.from_numpy(sincos_2d(E, int(L ** 0.5), True)).float().unsqueeze(0)
    for i in range(c['decoder_num_hidden_layers']):
        layer(f'decoder.decoder_layers.{i}', E, c['decoder_intermediate_size'])
    norm('decoder.decoder_norm', E)
    linear('decoder.decoder_pred', E, p * p * C)
    return w


# ---- the forward, following modeling_vit_mae.py ----
def lin(w, name, x):
    b = w.get(name + '.bias')
    return F.linear(x, w[name + '.weight'], b)


def vit_layer(w, prefix, x, heads, eps):
    n, t, d = x.shape
    dh = d // heads
    h = F.layer_norm(x, (d,), w[prefix + '.layernorm_before.weight'], w[prefix + '.layernorm_before.bias'], eps)
    split = lambda y: y.view(n, -1, heads, dh).transpose(1, 2)
    q = split(lin(w, prefix + '.attention.attention.query', h))
    k = split(lin(w, prefix + '.attention.attention.key', h))
    v = split(lin(w, prefix + '.attention.attention.value', h))
    att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * dh ** -0.5, dim=-1)
    ctx = torch.matmul(att, v).transpose(1, 2).reshape(n, t, d)
    x = lin(w, prefix + '.attention.output.dense', ctx) + x
    h = F.layer_norm(x, (d,), w[prefix + '.layernorm_after.weight'], w[prefix + '.layernorm_after.bias'], eps)
    h = F.gelu(lin(w, prefix + '.intermediate.dense', h))
    return lin(w, prefix + '.output.dense', h) + x


def random_masking(seq, noise, ratio):
    n, l, d = seq.shape
    keep = int(l * (1 - ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    unmasked = torch.gather(seq, 1, ids_keep.unsqueeze(-1).repeat(1, 1, d))
    mask = torch.ones([n, l])
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return unmasked, mask, ids_restore, ids_keep


def encoder(w, c, pixel_values, noise):
    """ViTMAEModel: embeddings (patch conv, positions, masking when noise is given, CLS), layers, final layernorm."""
    eps = c['layer_norm_eps']
    p = c['patch_size']
    x = F.conv2d(pixel_values, w['vit.embeddings.patch_embeddings.projection.weight'],
                 w['vit.embeddings.patch_embeddings.projection.bias'], stride=p).flatten(2).transpose(1, 2)
    pos = w['vit.embeddings.position_embeddings']
    x = x + pos[:, 1:, :]
    extra = {}
    if noise is not None:
        x, mask, ids_restore, ids_keep = random_masking(x, noise, c['mask_ratio'])
        extra = dict(mask=mask, ids_restore=ids_restore, ids_keep=ids_keep)
    cls = (w['vit.embeddings.cls_token'] + pos[:, :1, :]).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1)
    for i in range(c['num_hidden_layers']):
        x = vit_layer(w, f'vit.encoder.layer.{i}', x, c['num_attention_heads'], eps)
    x = F.layer_norm(x, (x.shape[-1],), w['vit.layernorm.weight'], w['vit.layernorm.bias'], eps)
    return x, extra


def decoder(w, c, latent, ids_restore):
    x = lin(w, 'decoder.decoder_embed', latent)
    mask_tokens = w['decoder.mask_token'].repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
    x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
    x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
    x = torch.cat([x[:, :1, :], x_], dim=1) + w['decoder.decoder_pos_embed']
    for i in range(c['decoder_num_hidden_layers']):
        x = vit_layer(w, f'decoder.decoder_layers.{i}', x, c['decoder_num_attention_heads'], c['layer_norm_eps'])
    x = F.layer_norm(x, (x.shape[-1],), w['decoder.decoder_norm.weight'], w['decoder.decoder_norm.bias'], c['layer_norm_eps'])
    return lin(w, 'decoder.decoder_pred', x)[:, 1:, :]


def patchify(c, pv):
    p, C = c['patch_size'], c['num_channels']
    n, _, h, _ = pv.shape
    g = h // p
    x = pv.reshape(n, C, g, p, g, p)
    x = torch.einsum('nchpwq->nhwpqc', x)
    return x.reshape(n, g * g, p * p * C)


def forward_loss(c, pv, pred, mask, norm_pix):
    target = patchify(c, pv)
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = ((pred - target) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def preprocess(images, pre):
    """ViTImageProcessor's rescale (in float64, then float32) and normalize (float32), without the resize."""
    x = (images.astype(np.float64) * pre['rescale_factor']).astype(np.float32)
    mean = np.array(pre['image_mean'], dtype=np.float32)[:, None, None]
    std = np.array(pre['image_std'], dtype=np.float32)[:, None, None]
    return torch.from_numpy(((x - mean) / std).astype(np.float32))


# ---- safetensors, written by hand: 8-byte little-endian header length, JSON header, raw little-endian data ----
DT = {torch.float32: ('F32', np.float32), torch.int64: ('I64', np.int64), torch.uint8: ('U8', np.uint8)}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        code, npt = DT[t.dtype]
        b = t.numpy().astype(npt).tobytes()
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# Not the key biases: adding a constant to every key shifts each row of attention scores by one constant, which
# softmax ignores, so their gradient is zero up to rounding on both sides (a relative comparison of noise).
GRAD_SAMPLE = [
    'vit.embeddings.patch_embeddings.projection.weight', 'vit.embeddings.cls_token',
    'vit.encoder.layer.0.attention.attention.query.weight', 'vit.encoder.layer.0.attention.attention.value.bias',
    'vit.encoder.layer.1.attention.attention.value.weight', 'vit.encoder.layer.1.intermediate.dense.weight',
    'vit.encoder.layer.1.layernorm_after.weight', 'vit.layernorm.weight', 'decoder.decoder_embed.weight',
    'decoder.mask_token', 'decoder.decoder_layers.1.output.dense.bias', 'decoder.decoder_layers.0.attention.attention.query.bias',
    'decoder.decoder_norm.weight', 'decoder.decoder_pred.weight',
]


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261201)
    c = CONFIG
    w = make_weights(c, gen)
    L = (c['image_size'] // c['patch_size']) ** 2
    images = torch.randint(0, 256, (N, c['num_channels'], c['image_size'], c['image_size']), generator=gen, dtype=torch.uint8)
    noise = torch.rand(N, L, generator=gen)
    pv = preprocess(images.numpy(), PREPROCESSOR)

    params = {k: v.clone().requires_grad_(k in GRAD_SAMPLE) for k, v in w.items()}
    latent, m = encoder(params, c, pv, noise)
    pred = decoder(params, c, latent, m['ids_restore'])
    loss = forward_loss(c, pv, pred, m['mask'], c['norm_pix_loss'])
    grads = torch.autograd.grad(loss, [params[k] for k in GRAD_SAMPLE])
    with torch.no_grad():
        loss_norm_pix = forward_loss(c, pv, pred, m['mask'], True)
        full, _ = encoder(w, c, pv, None)

    # A trained-looking (not sine-cosine) 4×4 table resampled to 6×6 as MAE's interpolate_pos_embed does.
    table = torch.randn(1, 4, 4, 8, generator=gen).permute(0, 3, 1, 2)
    resized = F.interpolate(table, size=(6, 6), mode='bicubic', align_corners=False)

    expected = {
        'images': images, 'noise': noise.float(), 'pixel_values': pv,
        'ids_keep': m['ids_keep'], 'ids_restore': m['ids_restore'], 'mask': m['mask'],
        'last_hidden_state': latent, 'full_hidden_state': full,
        'embedding_cls': full[:, 0, :], 'embedding_mean': full[:, 1:, :].mean(dim=1),
        'logits': pred, 'loss': loss.reshape([]), 'loss_norm_pix': loss_norm_pix.reshape([]),
        'bicubic_in': table.permute(0, 2, 3, 1).reshape(16, 8), 'bicubic_out': resized.permute(0, 2, 3, 1).reshape(36, 8),
    }
    for k, g in zip(GRAD_SAMPLE, grads):
        expected['grad.' + k] = g
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'config.json'), 'w') as f:
        json.dump(c, f, indent=2)
        f.write('\n')
    with open(os.path.join(OUT, 'preprocessor_config.json'), 'w') as f:
        json.dump(PREPROCESSOR, f, indent=2)
        f.write('\n')
    save_safetensors(os.path.join(OUT, 'model.safetensors'), w, {'format': 'pt'})
    save_safetensors(os.path.join(OUT, 'expected.safetensors'), expected, {'generator': 'scripts/make-hf-mae-fixture.py', 'torch': torch.__version__})
    print(f'wrote test/fixtures/hf-mae-tiny: {len(w)} tensors, {sum(v.numel() for v in w.values())} parameters; loss {loss.item():.6f}, '
          f'norm-pix loss {loss_norm_pix.item():.6f}', file=sys.stderr)


if __name__ == '__main__':
    main()
