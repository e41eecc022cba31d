"""Lip2Speech (Millerdurai et al., "Show Me Your Face, And I'll Tell You How You Speak"): the reverse
direction of speech2video, chapter 07. Silent mouth crops + a speaker embedding -> 80-bin log-mel at
16 kHz -> Griffin-Lim speech.

One concept per file:
    config        sizes per profile scale (Lip2SpeechConfig and its parts)
    data          mouth crops, target log-mels, the frame : mel-hop alignment, batches
    model         3-D conv + ShuffleNet V2 front end, BiLSTM encoder, parallel / autoregressive decoders
    speaker       face -> GE2E-space speaker embedding (instance contrastive), GE2E embeddings of clips
    vocoder       log-mel -> waveform (torchaudio InverseMelScale + GriffinLim)
    train         the three conditions through s2v_lib.train.resumable.run_resumable
    recogniser    the closed-vocabulary word recogniser (CTC) trained on real training speech
    metrics       STOI / ESTOI / PESQ / EER / cosine
    evaluate      generated speech per clip and condition, scored; probes; summary with intervals
    face_decoder  speaker embedding -> 64 px face (the paper's mean-face analysis)
    cycle         Lip2Speech speech fed back into speech2video
    report        results/<profile>/lip2speech.json + .md beside the paper's Table 2; verdicts from intervals
    decoder_study the measurement behind the default decoder (parallel vs autoregressive, lips only; CLI)
    figures       mel spectrograms (Fig. 8), face reconstructions, training curves
"""
