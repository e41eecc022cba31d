"""The Lip2Speech network: video feature extractor, BiLSTM encoder, mel decoder.

    mouths (B, 1, T, h, w) --3-D conv block--> (B, C, T, h/2, w/2) --ShuffleNet V2 per frame, global
    average pool--> (B, T, F) --tile the speaker embedding, concat--> 2-layer BiLSTM --> decoder
    --> standardised log-mel (B, 4T, 80) [+ stop logits (B, T) for the autoregressive decoder]

The ShuffleNet V2 trunk is torchvision's ShuffleNetV2 (weights=None: trained here) with its stem (conv1
+ max-pool) replaced by the 3-D block, sized by ModelConfig.stages_repeats / stages_out.
Decoders: "autoregressive" is the paper's (a trainable initial frame, a Prenet with heavy dropout, a
4-layer LSTM whose states start from the BiLSTM's 4 final (h, c) pairs, location-sensitive attention
over 1-D-conv keys / values with sinusoidal positional encodings on keys, values and queries, a stop
token from the hidden state concatenated with the latent); "parallel" is our departure.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


def sinusoid(n: int, dim: int, device=None) -> torch.Tensor:
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    ang = pos / torch.pow(10000.0, i / dim)
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(ang), torch.cos(ang[:, : dim // 2])
    return pe


class VideoFrontEnd(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from torchvision.models import ShuffleNetV2
        self.conv3d = nn.Sequential(
            nn.Conv3d(1, cfg.conv3d_ch, (5, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), bias=False),
            nn.BatchNorm3d(cfg.conv3d_ch), nn.ReLU(inplace=True))   # padding keeps the temporal length T
        trunk = ShuffleNetV2(list(cfg.stages_repeats), [cfg.conv3d_ch, *cfg.stages_out[1:]])
        self.trunk = nn.Sequential(trunk.stage2, trunk.stage3, trunk.stage4, trunk.conv5)
        self.out_dim = cfg.stages_out[-1]

    def forward(self, mouths: torch.Tensor) -> torch.Tensor:
        x = self.conv3d((mouths - 0.5) / 0.25)                        # (B, C, T, h', w')
        b, c, t, h, w = x.shape
        x = self.trunk(x.transpose(1, 2).reshape(b * t, c, h, w))
        return x.mean(dim=(2, 3)).reshape(b, t, -1)                   # global average pooling


class ParallelDecoder(nn.Module):
    """Departure: encoder outputs repeated x4 (+ a learned sub-frame offset), 2 conv layers, a BiLSTM."""

    def __init__(self, cfg: ModelConfig, enc_dim: int):
        super().__init__()
        self.k = cfg.reduction
        self.offset = nn.Parameter(torch.zeros(cfg.reduction, enc_dim))
        self.convs = nn.Sequential(nn.Conv1d(enc_dim, cfg.dec_hidden, 5, padding=2), nn.ReLU(),
                                   nn.Conv1d(cfg.dec_hidden, cfg.dec_hidden, 5, padding=2), nn.ReLU())
        self.lstm = nn.LSTM(cfg.dec_hidden, cfg.dec_hidden // 2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(cfg.dec_hidden, cfg.n_mels)

    def forward(self, enc, states=None, target=None, tf_ratio=1.0):
        b, t, d = enc.shape
        x = (enc[:, :, None, :] + self.offset).reshape(b, t * self.k, d)
        x = self.convs(x.transpose(1, 2)).transpose(1, 2)
        return self.out(self.lstm(x)[0]), None


class Prenet(nn.Module):
    def __init__(self, n_in, dim, p):
        super().__init__()
        self.l1, self.l2, self.p = nn.Linear(n_in, dim), nn.Linear(dim, dim), p

    def forward(self, x):
        x = F.dropout(F.relu(self.l1(x)), self.p, self.training)
        return F.dropout(F.relu(self.l2(x)), self.p, self.training)


class AutoregressiveDecoder(nn.Module):
    """The paper's decoder, r mel frames per step (r = 4: one step per video frame)."""

    def __init__(self, cfg: ModelConfig, enc_dim: int, enc_hidden: int):
        super().__init__()
        self.cfg, h, a = cfg, cfg.dec_hidden, cfg.attn_dim
        self.go = nn.Parameter(torch.zeros(cfg.n_mels))             # trainable initial melspec-frame
        self.prenet = Prenet(cfg.n_mels, cfg.prenet, cfg.prenet_dropout)
        self.key = nn.Conv1d(enc_dim, a, 3, padding=1)
        self.value = nn.Conv1d(enc_dim, enc_dim, 3, padding=1)
        self.pe_value = nn.Linear(a, enc_dim, bias=False)
        self.query = nn.Linear(cfg.prenet + h, a)
        self.loc = nn.Conv1d(1, a, 15, padding=7, bias=False)        # location-sensitive term
        self.score = nn.Linear(a, 1, bias=False)
        self.cells = nn.ModuleList([nn.LSTMCell((cfg.prenet + enc_dim) if i == 0 else h, h) for i in range(cfg.dec_layers)])
        self.init_h = nn.Linear(enc_hidden, h)                       # BiLSTM (h, c) pairs -> decoder layers
        self.init_c = nn.Linear(enc_hidden, h)
        self.out = nn.Linear(h + enc_dim, cfg.n_mels * cfg.reduction)
        self.stop = nn.Linear(h + 2 * enc_hidden, 1)

    def forward(self, enc, states, target=None, tf_ratio=1.0):
        """enc (B, T, D); states = BiLSTM (h_n, c_n), each (4, B, H); target (B, 4T, 80) for teacher forcing."""
        b, t, _ = enc.shape
        r, n_mels = self.cfg.reduction, self.cfg.n_mels
        pe = sinusoid(t, self.cfg.attn_dim, enc.device)
        keys = self.key(enc.transpose(1, 2)).transpose(1, 2) + pe
        values = self.value(enc.transpose(1, 2)).transpose(1, 2) + self.pe_value(pe)
        h_n, c_n = states
        layers = h_n.shape[0]
        hs = [torch.tanh(self.init_h(h_n[i % layers])) for i in range(len(self.cells))]
        cs = [self.init_c(c_n[i % layers]) for i in range(len(self.cells))]
        latent = torch.cat([h_n[-2], h_n[-1]], dim=-1)               # last layer, both directions
        prev = self.go.expand(b, n_mels)
        attn = enc.new_zeros(b, t)
        outs, stops = [], []
        for i in range(t):
            p = self.prenet(prev)
            q = self.query(torch.cat([p, hs[-1]], -1)) + pe[i]
            e = self.score(torch.tanh(q[:, None] + keys + self.loc(attn[:, None]).transpose(1, 2))).squeeze(-1)
            attn = e.softmax(-1)
            ctx = torch.bmm(attn[:, None], values).squeeze(1)
            x = torch.cat([p, ctx], -1)
            for j, cell in enumerate(self.cells):
                hs[j], cs[j] = cell(x, (hs[j], cs[j]))
                x = hs[j] if j == 0 else x + hs[j]                   # residual between stacked layers
            frame = self.out(torch.cat([x, ctx], -1)).view(b, r, n_mels)
            outs.append(frame)
            stops.append(self.stop(torch.cat([x, latent], -1)).squeeze(-1))
            if target is not None and tf_ratio >= 1.0:
                prev = target[:, (i + 1) * r - 1]
            elif target is not None and tf_ratio > 0:
                use = (torch.rand(b, 1, device=enc.device) < tf_ratio).float()
                prev = use * target[:, (i + 1) * r - 1] + (1 - use) * frame[:, -1].detach()
            else:
                prev = frame[:, -1]
        return torch.cat(outs, 1), torch.stack(stops, 1)


class Lip2Speech(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.video = VideoFrontEnd(cfg)
        enc_in = self.video.out_dim + (cfg.spk_dim if cfg.use_speaker else 0)
        self.encoder = nn.LSTM(enc_in, cfg.enc_hidden, num_layers=2, batch_first=True, bidirectional=True)
        enc_dim = 2 * cfg.enc_hidden
        if cfg.decoder == "parallel":
            self.decoder = ParallelDecoder(cfg, enc_dim)
        elif cfg.decoder == "autoregressive":
            self.decoder = AutoregressiveDecoder(cfg, enc_dim, cfg.enc_hidden)
        else:
            raise ValueError(f"decoder must be 'parallel' or 'autoregressive', not {cfg.decoder!r}")

    def forward(self, mouths, speaker=None, target=None, tf_ratio=1.0):
        feats = self.video(mouths)
        if self.cfg.use_speaker:
            feats = torch.cat([feats, speaker[:, None].expand(-1, feats.shape[1], -1)], -1)   # tile per frame
        enc, states = self.encoder(feats)
        return self.decoder(enc, states, target, tf_ratio)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def mel_loss(pred, target, stop_logits=None, ends=None, stop_weight=1.0):
    """MSE to the standardised target mel (+ BCE of the stop token: 1 at the last step of a window that
    ends at its clip's end, else 0)."""
    loss = F.mse_loss(pred, target)
    if stop_logits is None:
        return loss, {"mse": float(loss.detach())}
    st = torch.zeros_like(stop_logits)
    st[:, -1] = ends
    bce = F.binary_cross_entropy_with_logits(stop_logits, st)
    return loss + stop_weight * bce, {"mse": float(loss.detach()), "stop_bce": float(bce.detach())}


__all__ = ["Lip2Speech", "VideoFrontEnd", "ParallelDecoder", "AutoregressiveDecoder", "mel_loss", "sinusoid",
           "math"]
