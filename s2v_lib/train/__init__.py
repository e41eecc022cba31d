"""Training utilities shared by every model: checkpoints with resume, loss logs."""
