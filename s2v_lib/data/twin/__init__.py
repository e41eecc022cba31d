"""The CREMA-D twin: synthetic talking faces (eSpeak NG voices + procedural 2-D faces) written in
CREMA-D's real layout and formats, with per-clip ground truth. Entry point: synth.synth_dataset."""
