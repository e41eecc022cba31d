"""The Lip2Speech study as steps notebook 07 calls in order (each cached / resumable):

    st = Study.prepare(profile, data, device, seed)        # arrays of every split, mel statistics, GE2E
    st.train_speaker()                                      # face -> GE2E speaker module
    st.train_conditions()                                   # lips / face / voice (+ the autoregressive run)
    st.train_recogniser(); st.fit_probes()
    st.evaluate()                                           # per-clip scores and the summary
    st.train_face_decoder(); st.cycle()                     # mean-face analysis; voice -> face -> voice
"""
import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..models.ge2e import load_ge2e
from . import evaluate as EV
from .config import CONDITIONS, Lip2SpeechConfig
from .data import load_split, mel_stats, one_thread
from .face_decoder import face_targets, reconstruct, train_face_decoder
from .recogniser import train_recogniser, transcript
from .speaker import actor_voice_embeddings, face_embeddings, ge2e_embeddings, train_speaker_encoder
from .train import train_condition
from .vocoder import GriffinLimVocoder

ALL_SPLITS = ("train", "val", "test", "unseen")


@dataclass
class Study:
    profile: object
    data: object
    cfg: Lip2SpeechConfig
    device: str
    arrays: dict
    stats: tuple
    ge2e: object
    real_emb: dict                       # split -> clip -> GE2E of the real audio
    force_retrain: bool = False
    progress: bool = True
    speaker_encoder: object = None
    speaker_history: list = field(default_factory=list)
    speaker_key: str = ""
    speakers: dict = field(default_factory=dict)     # split -> condition -> clip -> embedding (None: lips)
    trained: dict = field(default_factory=dict)
    recogniser: object = None
    recogniser_history: list = field(default_factory=list)
    probes: dict = field(default_factory=dict)
    eval_ids: dict = field(default_factory=dict)
    speech: dict = field(default_factory=dict)       # split -> method -> clip -> (logmel, wav)
    per_clip: pd.DataFrame | None = None
    summary: dict = field(default_factory=dict)

    @classmethod
    def prepare(cls, profile, data, device="cpu", seed=0, force_retrain=False, progress=True, cfg=None):
        cfg = cfg or Lip2SpeechConfig.for_profile(profile, seed)
        hw = cfg.model.mouth_hw
        with one_thread(device):
            arrays = {s: load_split(data, s, cfg.mel, hw, progress=progress) for s in ALL_SPLITS}
            ge2e = load_ge2e(device)
            real_emb = {s: ge2e_embeddings(ge2e, arrays[s], progress=progress) for s in ALL_SPLITS}
        return cls(profile, data, cfg, device, arrays, mel_stats(arrays["train"]), ge2e, real_emb,
                   force_retrain, progress)

    @property
    def data_key(self) -> str:
        return f"{self.data.root}:{len(self.data.manifest)}"

    # -- the speaker identity module
    def train_speaker(self, teacher=None):
        from ..teachers.loading import load_identity_teacher
        teacher = teacher or load_identity_teacher(self.profile, device=self.device)
        man = self.data.manifest
        with one_thread(self.device):
            self.speaker_encoder, self.speaker_history, self.speaker_key = train_speaker_encoder(
                self.profile, self.data, teacher, self.real_emb["train"], self.cfg.speaker, self.device,
                self.force_retrain, self.progress)
            for s in ALL_SPLITS:
                face = face_embeddings(self.speaker_encoder, self.data, self.arrays[s].ids, self.device)
                self.speakers[s] = {"lips": None, "face": face, "voice": actor_voice_embeddings(man, self.real_emb[s])}
        return pd.DataFrame(self.speaker_history)

    def speaker_retrieval(self, split: str) -> dict:
        """How well the face embedding finds its own voice: top-1 actor among the split's actors
        (face embedding vs each actor's mean real GE2E), its chance, and mean cosine to own / others."""
        enrol = EV.enrolment(self.real_emb[split], self.data.manifest)
        actors = sorted(enrol)
        E = np.stack([enrol[a] for a in actors])
        actor_of = self.data.manifest.set_index("clip_id")["actor"].astype(int)
        face = self.speakers[split]["face"]
        top1, own, other = [], [], []
        for c, e in face.items():
            s = E @ e
            a = actors.index(int(actor_of[c]))
            top1.append(float(np.argmax(s) == a))
            own.append(float(s[a]))
            other.append(float(np.delete(s, a).mean()) if len(actors) > 1 else np.nan)
        return {"top1": float(np.mean(top1)), "chance": 1 / len(actors), "cos_own_voice": float(np.mean(own)),
                "cos_other_voices": float(np.nanmean(other)), "n_actors": len(actors)}

    # -- Lip2Speech
    def train_conditions(self, conditions=CONDITIONS, with_autoregressive=True):
        # one torch thread on CPU: measured ~0.8 s per smoke step on one thread vs ~40 s on two threads of
        # two busy cores (oversubscription); a free 2-core machine loses at most 2x by it
        with one_thread(self.device):
            return self._train_conditions(conditions, with_autoregressive)

    def _train_conditions(self, conditions, with_autoregressive):
        for cond in conditions:
            self.trained[cond] = train_condition(
                self.profile, cond, self.cfg, self.arrays["train"], self.arrays["val"], self.stats,
                self.speakers["train"][cond], self.speakers["val"][cond], self.data_key, self.device,
                force_retrain=self.force_retrain, progress=self.progress)
        if with_autoregressive:          # the paper's decoder, measured on its own (shorter) budget
            ar = dataclasses.replace(self.cfg, model=dataclasses.replace(self.cfg.model, decoder="autoregressive"))
            self.trained["face_ar"] = train_condition(
                self.profile, "face", ar, self.arrays["train"], self.arrays["val"], self.stats,
                self.speakers["train"]["face"], self.speakers["val"]["face"], self.data_key, self.device,
                steps=self.cfg.ar_steps, force_retrain=self.force_retrain, progress=self.progress)
        return self.training_table()

    def training_table(self) -> pd.DataFrame:
        rows = []
        for name, tr in self.trained.items():
            h = tr.history
            rows.append({"model": name, "decoder": tr.model.cfg.decoder, "steps": int(h["step"].max()),
                         "first_mse": float(h["mse"].iloc[0]), "last_mse": float(h["mse"].iloc[-1]),
                         "val_mse_free_running": tr.val_mse, "params": tr.model.n_params()})
        return pd.DataFrame(rows)

    def decoder_comparison(self) -> dict:
        """Parallel vs autoregressive at the AR run's step count (training MSE) and free-running val MSE."""
        if "face_ar" not in self.trained:
            return {}
        ar, par = self.trained["face_ar"].history, self.trained["face"].history
        n = int(ar["step"].max())
        at = par[par["step"] <= n]
        return {"steps_compared": n, "ar_train_mse": float(ar["mse"].iloc[-1]),
                "parallel_train_mse_same_steps": float(at["mse"].iloc[-1]),
                "ar_val_mse_free_running": self.trained["face_ar"].val_mse,
                "parallel_val_mse_free_running_full": self.trained["face"].val_mse,
                "parallel_steps": int(par["step"].max())}

    def train_recogniser(self):
        sentences = self.data.manifest.set_index("clip_id")["sentence"]
        words = {c: transcript(sentences[c]) for c in self.arrays["train"].ids}
        with one_thread(self.device):
            self.recogniser, self.recogniser_history = train_recogniser(
                self.profile, self.arrays["train"], words, self.stats, self.cfg.recogniser, self.cfg.mel,
                self.data_key, self.device, self.force_retrain, self.progress)
        return pd.DataFrame(self.recogniser_history)

    def fit_probes(self):
        self.probes = EV.fit_voice_probes(self.real_emb["train"], self.data.manifest, self.cfg.seed)
        return self.probes

    # -- evaluation
    def evaluate(self):
        with one_thread(self.device):
            return self._evaluate()

    def _evaluate(self):
        vocoder = GriffinLimVocoder(self.cfg.mel, self.cfg.griffin_lim_iters)
        frames, embs = [], {}
        for split in EV.SPLITS:
            ids = EV.pick_clips(self.data, split, self.cfg.n_eval_clips, self.cfg.seed)
            self.eval_ids[split] = ids
            spk = {name: self.speakers[split]["face" if name == "face_ar" else name] for name in self.trained}
            self.speech[split] = EV.generate_speech(self.trained, self.arrays[split], ids, spk, self.stats, vocoder,
                                                    self.device, self.progress)
            df, e = EV.score_split(split, self.arrays[split], ids, self.speech[split], self.ge2e, self.real_emb[split],
                                   self.probes, self.recogniser, self.data.manifest, self.progress)
            frames.append(df)
            embs[split] = e
        self.per_clip = pd.concat(frames, ignore_index=True)
        self.summary = EV.summarise(self.per_clip, embs, {s: self.real_emb[s] for s in EV.SPLITS}, self.data.manifest)
        return self.summary

    # -- beyond Lip2Speech's table
    def train_face_decoder(self):
        ids = self.arrays["train"].ids
        faces = face_targets(self.data, ids, self.cfg.face_decoder.size)
        with one_thread(self.device):
            self.face_decoder, hist = train_face_decoder(self.profile, self.speakers["train"]["face"], faces, ids,
                                                         self.cfg.face_decoder, self.speaker_key, self.device,
                                                         self.force_retrain, self.progress)
        return pd.DataFrame(hist)

    def face_pairs(self, split: str, n: int = 6):
        ids = EV.pick_clips(self.data, split, n, self.cfg.seed)
        real = face_targets(self.data, ids, self.cfg.face_decoder.size)
        return ids, real, reconstruct(self.face_decoder, self.speakers[split]["face"], ids)

    def cycle(self, backend=None, conditions=CONDITIONS):
        from .cycle import cycle_summary, run_cycle, speech2video_backend
        backend = backend or speech2video_backend(self.profile, self.data, self.device)
        rows = []
        for split in EV.SPLITS:
            ids = self.eval_ids[split]
            speech = {c: {i: self.speech[split][c][i][1] for i in ids} for c in conditions if c in self.speech[split]}
            with one_thread(self.device):
                rows.append(run_cycle(backend, speech, {i: self.arrays[split].wav[i] for i in ids},
                                      self.data.manifest, self.progress))
        self.cycle_rows = pd.concat(rows, ignore_index=True)
        self.cycle_summary = cycle_summary(self.cycle_rows, self.data.clips("train")["actor"].nunique())
        return self.cycle_summary
